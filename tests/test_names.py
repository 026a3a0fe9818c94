"""File and folder names that carry identifiers never reach reports, summaries,
output names, download names or messages (without --include-phi)."""
from __future__ import annotations

import io
import json
import shutil
import stat

from fastapi.testclient import TestClient
from PIL import Image

from phi_guard import scan_folder
from phi_guard.web import create_app
from phi_guard.web.app import ServerConfig

from conftest import DATA
from test_cli import run

PHI_NAME = "SMITH_JOHN_1950-03-04_CXR"
PLANTED = ("SMITH", "JOHN", "1950-03-04", "Quackenbush", "Zebulon")


def _no_planted(text: str) -> None:
    for p in PLANTED:
        assert p.lower() not in text.lower(), f"{p} leaked"


def test_check_masks_an_identifying_file_name(tmp_path, samples):
    src = tmp_path / f"{PHI_NAME}.png"
    shutil.copy(samples / "xray_overlay.png", src)
    r = run("check", str(src), "--report", str(tmp_path / "r.json"))
    assert r.returncode == 0, r.stderr
    _no_planted(r.stdout + r.stderr + (tmp_path / "r.json").read_text())
    outputs = [p.name for p in tmp_path.iterdir() if ".safe" in p.name]
    assert len(outputs) == 1 and outputs[0].startswith("file-") and outputs[0].endswith(".safe.png"), outputs
    # an error message names the file by its neutral name too
    bad = tmp_path / "Zebulon_Quackenbush.png"
    shutil.copy(DATA / "malformed" / "broken.png", bad)
    r = run("check", str(bad), "-o", str(tmp_path / "o.png"))
    assert r.returncode == 2
    _no_planted(r.stdout + r.stderr)
    # an ordinary name is kept
    r = run("check", str(samples / "clean_xray.png"), "-o", str(tmp_path / "plain.png"), "--json")
    assert json.loads(r.stdout)["input"]["name"] == "clean_xray.png"


def test_a_camera_file_name_is_kept_and_a_patient_file_name_is_not(screener):
    """A phone's numbered name (IMG_0001) is no identifier: spaCy's guess that a lone
    "0001" is a date does not count, so reports name the file as the clinician knows
    it. A date written with underscores still does."""
    from phi_guard.names import NameScreen
    from phi_guard.policy import Policy

    names = NameScreen(screener.detector, Policy.default())
    for plain in ("IMG_0001.HEIC", "IMG_1234.jpg", "DSC_0042.JPG", "clean_xray.png"):
        assert names.part(plain, is_file=True) == plain
    for identifying in (f"{PHI_NAME}.png", "IMG_20240314_101500.jpg", "Zebulon_Quackenbush.png", "CXR_14_03_85.png",
                        "wound_2024_03_14.jpg"):
        assert names.part(identifying, is_file=True).startswith("file-"), identifying


def test_scan_masks_identifying_file_and_folder_names(tmp_path, samples):
    src = tmp_path / "export"
    (src / "Zebulon_Quackenbush").mkdir(parents=True)
    (src / "ward").mkdir()
    shutil.copy(samples / "xray_overlay.png", src / "Zebulon_Quackenbush" / "chest.png")
    shutil.copy(samples / "clean_xray.png", src / "ward" / f"{PHI_NAME}.png")
    shutil.copy(samples / "clean_xray.png", src / "ward" / "plain.png")
    (src / "ward" / "SMITH_JOHN_notes.txt").write_text("x")
    out, reports = tmp_path / "out", tmp_path / "reports"
    summary = scan_folder(src, out, workers=1, report_dir=reports)
    assert summary.counts == {"REDACTED": 1, "CLEAN": 2, "SKIPPED": 1}, summary.counts
    names = [p.relative_to(out).as_posix() for p in out.rglob("*")]
    _no_planted(" ".join(names))
    assert "ward/plain.png" in names  # an ordinary name is kept
    for f in list(out.rglob("*")) + list(reports.rglob("*")):
        if f.is_file():
            _no_planted(f.read_bytes().decode("latin-1"))
    assert not (reports / "name_map.csv").exists()
    # the masked names are stable: a resumed scan finds its earlier work
    again = scan_folder(src, out, workers=1, report_dir=reports, resume=True)
    assert again.skipped_resume == 3


def test_include_phi_writes_a_private_name_map(tmp_path, samples):
    src = tmp_path / "export"
    src.mkdir()
    shutil.copy(samples / "clean_xray.png", src / f"{PHI_NAME}.png")
    r = run("scan", str(src), "-o", str(tmp_path / "out"), "--workers", "1", "--include-phi")
    assert r.returncode == 0, r.stderr
    mapping = tmp_path / "out" / "name_map.csv"
    assert f"{PHI_NAME}.png" in mapping.read_text()
    assert stat.S_IMODE(mapping.stat().st_mode) == 0o600


def test_web_masks_the_upload_name(samples):
    with TestClient(create_app(ServerConfig(workers=1))) as c:
        with open(samples / "xray_overlay.png", "rb") as fh:
            r = c.post("/v1/screen", files={"file": (f"{PHI_NAME}.png", fh, "image/png")})
        assert r.status_code == 200, r.text
        body = r.json()
        _no_planted(json.dumps({k: v for k, v in body.items() if k not in ("image", "preview_png_base64")}))
        _no_planted(body["image"]["filename"])
        d = c.get(body["image_url"])
        _no_planted(d.headers["content-disposition"])
        buf = io.BytesIO()
        Image.new("L", (8, 8)).save(buf, "PNG")
        r = c.post("/v1/screen", files={"file": ("Zebulon_Quackenbush.png", b"\x89PNG\r\n\x1a\nbroken", "image/png")})
        assert r.status_code == 422
        _no_planted(r.text)
