"""The CLI as a user runs it: exit codes, one-line errors, nothing overwritten."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DATA

CLI = [sys.executable, "-m", "phi_guard.cli"]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + list(args), capture_output=True, text=True, cwd=cwd, timeout=300)


def test_check_writes_safe_copy_and_report(tmp_path, samples):
    src = tmp_path / "xray.png"
    shutil.copy(samples / "xray_overlay.png", src)
    before = src.read_bytes()
    r = run("check", str(src), "--report", str(tmp_path / "r.json"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "xray.safe.png").exists()
    assert src.read_bytes() == before  # the input is never touched
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["verdict"] == "REDACTED" and report["schema_version"] == "1.0"
    assert "REDACTED" in r.stdout
    assert not list(tmp_path.glob(".phi_guard-*"))  # no temp files left behind


def test_json_flag_and_output_format_from_extension(tmp_path, samples):
    out = tmp_path / "o.jpg"
    r = run("check", str(samples / "clean_xray.png"), "-o", str(out), "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["verdict"] == "CLEAN" and report["output"]["format"] == "JPEG"
    from PIL import Image

    with Image.open(out) as im, Image.open(samples / "clean_xray.png") as src:
        assert im.format == "JPEG" and im.size == src.size
        assert not im.getexif() and "icc_profile" not in im.info
    assert report["output"]["sha256"] == __import__("hashlib").sha256(out.read_bytes()).hexdigest()


def _one_line_error(r: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("phi-guard: error:")
    return lines[0]


@pytest.mark.parametrize(
    "make,expect",
    [
        (lambda d: (d / "empty.jpg").write_bytes(b"") and d / "empty.jpg" or d / "empty.jpg", "empty"),
        (lambda d: shutil.copy(DATA / "malformed/truncated_jpeg.jpg", d / "t.jpg") and d / "t.jpg", "truncated"),
        (lambda d: shutil.copy(DATA / "malformed/truncated_image.png", d / "t.png") and d / "t.png", "truncated"),
        (lambda d: shutil.copy(DATA / "malformed/broken.png", d / "b.png") and d / "b.png", "corrupt"),
        (lambda d: shutil.copy(DATA / "malformed/crash-2020-10-test.tif", d / "c.tif") and d / "c.tif", "decode"),
        # libtiff prints its own read errors from C before Pillow raises: still one line.
        (lambda d: shutil.copy(DATA / "malformed/libtiff_read_error.tif", d / "r.tif") and d / "r.tif", "corrupt"),
        (lambda d: shutil.copy(DATA / "malformed/decompression_bomb.gif", d / "bomb.gif") and d / "bomb.gif", "bomb"),
        (lambda d: (d / "notes.jpg").write_text("not an image at all") and d / "notes.jpg", "not a supported image"),
    ],
)
def test_bad_inputs_exit_2_with_one_line(tmp_path, make, expect):
    path = make(tmp_path)
    r = run("check", str(path), "-o", str(tmp_path / "out.png"))
    assert r.returncode == 2
    line = _one_line_error(r)
    assert expect in line.lower() or expect == "decode" and ("decod" in line or "corrupt" in line)
    assert not (tmp_path / "out.png").exists()


def test_wrong_extension_is_read_by_content(tmp_path, samples):
    disguised = tmp_path / "actually_png.jpg"
    shutil.copy(samples / "clean_xray.png", disguised)
    r = run("check", str(disguised), "-o", str(tmp_path / "o.png"), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["input"]["format"] == "PNG"  # sniffed from the bytes, not the .jpg name
    from PIL import Image

    with Image.open(tmp_path / "o.png") as out, Image.open(samples / "clean_xray.png") as src:
        assert out.format == "PNG" and out.size == src.size


def test_output_equal_to_input_is_refused(tmp_path, samples):
    src = tmp_path / "a.png"
    shutil.copy(samples / "clean_xray.png", src)
    before = src.read_bytes()
    r = run("check", str(src), "-o", str(src))
    assert r.returncode == 2
    assert "overwrite the input" in _one_line_error(r)
    assert src.read_bytes() == before


def test_blocked_image_writes_no_output(tmp_path, samples):
    policy = tmp_path / "strict.toml"
    policy.write_text('[block]\nkinds = ["PERSON"]\n')
    out = tmp_path / "o.png"
    r = run("check", str(samples / "xray_overlay.png"), "-o", str(out), "--policy", str(policy), "--report", str(tmp_path / "r.json"))
    assert r.returncode == 1
    assert not out.exists()
    assert "BLOCKED" in r.stdout and "no output was written" in r.stdout
    assert json.loads((tmp_path / "r.json").read_text())["verdict"] == "BLOCKED"


def test_bad_policy_is_a_usage_error(tmp_path, samples):
    policy = tmp_path / "typo.toml"
    policy.write_text('[detect]\nscore_treshold = 0.2\n')
    r = run("check", str(samples / "clean_xray.png"), "--policy", str(policy))
    assert r.returncode == 2
    assert "unknown policy key 'detect.score_treshold'" in _one_line_error(r)


def test_first_import_is_light():
    code = "import sys, phi_guard; print(any(m.startswith(('presidio', 'spacy', 'rapidocr', 'tesserocr')) for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
