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

    names = NameScreen(Policy.default(), lambda: screener.detector)
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


def test_a_plain_name_needs_no_detector():
    """A name made only of words that identify no one is shown as it is, without loading
    the detector; a number, an unknown word or a denied word sends it to the detector."""
    from phi_guard import Policy
    from phi_guard.names import NameScreen, plainly_generic

    policy = Policy.default()
    for plain in ("clean_xray", "Chest_Xray_Final", "knee mri copy", "wound+photo",
                  "IMG_0042", "IMG_0042 (1)", "DSC_1649", "DSCF0042"):  # a camera's file counter
        assert plainly_generic(plain, policy), plain
    for other in ("SMITH_JOHN", "wound_photo_Quackenbush", "chest_xray_final_copy_2", "x-ray",
                  "chest xray final copy edited", "", "_", "IMG_20261128_101422", "IMG_1234567", "SSN_1234", "1234"):
        assert not plainly_generic(other, policy), other
    denied = Policy.from_table({"detect": {"deny_words": ["WOUND"]}})
    assert not plainly_generic("wound_photo", denied)

    def no_detector():  # noqa: ANN202
        raise AssertionError("the detector was asked for a plain name")

    names = NameScreen(policy, no_detector)
    assert names.part("clean_xray.png", is_file=True) == "clean_xray.png"
    assert names.rel("teaching/knee_mri/final.jpg") == "teaching/knee_mri/final.jpg"


def test_no_given_name_is_a_plain_file_name_word():
    """A plain name is shown without the detector: none of its words may be a given name
    of phi_guard's name lists (the allow list's SID, THI and ECHO are, so it does not
    count here). Common words that are also family names (HEART, TEST) stay: beside a
    given name they are screened by the detector (test below)."""
    from phi_guard import Policy
    from phi_guard.detect.gazetteer_world import load_shipped_world_names
    from phi_guard.detect.names import load_gazetteer

    given = load_gazetteer().first | load_shipped_world_names().first
    assert not Policy.default().detect.file_name_words & given


def test_a_person_among_plain_words_is_still_found(screener):
    """A given name next to listed words, names in lower case or with dots, a deny-listed
    word, and a name after a dot that is no image extension: all shown by a neutral name."""
    from phi_guard import Policy
    from phi_guard.names import NameScreen

    names = NameScreen(Policy.default(), lambda: screener.detector)
    for name in ("Sid_Lung.png", "Thi_Lung.png", "Lung_Sid.png", "Grace_Heart.png", "jane.doe.png",
                 "priya_iyer_wound.jpg", "scan.2026-11-28.png", "xray.Zebulon_Quackenbush"):
        assert names.part(name, is_file=True).startswith("file-"), name
    for name in ("chest_xray_final.png", "IMG_0042.JPG", "broken_truncated.jpg", "phone_photo_gps.jpg"):
        assert names.part(name, is_file=True) == name, name
    denied = NameScreen(Policy.from_table({"detect": {"deny_words": ["WOUND", "STMARYS"], "deny_patterns": [r"heart\s+hospital"]}}),
                        lambda: screener.detector)
    for name in ("wound_photo.png", "knee_StMarys.png", "Heart_Hospital_xray.png"):
        assert denied.part(name, is_file=True).startswith("file-"), name
    assert denied.part("knee.png", is_file=True) == "knee.png"


def test_check_of_a_plainly_named_file_never_loads_presidio(tmp_path, samples):
    import subprocess
    import sys

    src = tmp_path / "chest_xray_final.png"
    shutil.copy(samples / "clean_xray.png", src)
    code = ("import sys; from phi_guard.cli import main; rc = main(sys.argv[1:]); "
            "print(rc, 'presidio_analyzer' in sys.modules, 'spacy' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code, "check", str(src), "-o", str(tmp_path / "out.png")],
                       capture_output=True, text=True, timeout=300)
    assert r.stdout.split()[-3:] == ["0", "False", "False"], r.stdout + r.stderr
    assert "chest_xray_final.png" in r.stdout  # shown as it is
    # an identifying name still loads it, and is shown by a neutral name
    src = tmp_path / "Zebulon_Quackenbush_chest.png"
    shutil.copy(samples / "clean_xray.png", src)
    r = subprocess.run([sys.executable, "-c", code, "check", str(src), "-o", str(tmp_path / "out2.png")],
                       capture_output=True, text=True, timeout=300)
    assert r.stdout.split()[-3:] == ["0", "True", "True"] and "Quackenbush" not in r.stdout, r.stdout + r.stderr


def test_entries_a_scan_skips_load_presidio_only_for_names_that_need_it():
    """The rows of entries a scan does not screen (report.txt) are built in the main
    process: a plainly generic name there loads no Presidio; an identifying one does,
    and is shown by a neutral name."""
    import subprocess
    import sys

    code = ("import sys; from phi_guard.batch.scan import _skipped_rows; from phi_guard import Policy; "
            "rows = _skipped_rows([(n, 'not an image') for n in sys.argv[1:]], Policy.default()); "
            "print(' '.join(r['rel'] for r in rows), 'presidio_analyzer' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code, "teaching/report.txt", "study/export.json"], capture_output=True, text=True,
                       timeout=300)
    assert r.stdout.split() == ["teaching/report.txt", "study/export.json", "False"], r.stdout + r.stderr
    r = subprocess.run([sys.executable, "-c", code, "teaching/Zebulon_Quackenbush_report.txt"], capture_output=True, text=True, timeout=300)
    shown, loaded = r.stdout.split()
    assert shown.startswith("teaching/file-") and "Quackenbush" not in r.stdout and loaded == "True", r.stdout + r.stderr
