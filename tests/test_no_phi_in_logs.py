"""No PHI in logs: ``check``, ``scan`` and ``serve`` run as a user runs them, on images
whose metadata (EXIF Artist / ImageDescription, PNG tEXt, the DICOM header) and
pixels carry a planted identifier, and (in a test of its own) whose file names do.
Without ``--include-phi`` the identifier appears in none of stdout, stderr, the
server's log, the reports, summaries, manifest, output files or output file names.
A positive control (``--include-phi``) proves the identifier reaches the pipeline."""
from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo

CLI = [sys.executable, "-m", "phi_guard.cli"]
NAME, MRN = "Zebulon Quackenbush", "48213977"
# Every form the identifier could leak in (case-insensitive; the DICOM form, file-name form).
NEEDLES = ("zebulon", "quackenbush", MRN)
PHI_FILE_STEM = "QUACKENBUSH_ZEBULON_MRN48213977"


def _label_pixels(size=(900, 600)) -> Image.Image:
    im = Image.new("RGB", size, (20, 20, 20))
    d = ImageDraw.Draw(im)
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 30)
    d.text((30, 30), f"Patient: {NAME}", fill=(240, 240, 240), font=font)
    d.text((30, 80), f"MRN: {MRN}", fill=(240, 240, 240), font=font)
    d.ellipse((300, 250, 600, 500), fill=(120, 120, 120))
    return im


def _png_with_text_chunks() -> bytes:
    info = PngInfo()
    info.add_text("Author", NAME)
    info.add_text("Comment", f"MRN {MRN}")
    info.add_itxt("Description", f"{NAME} MRN {MRN}")
    buf = io.BytesIO()
    _label_pixels().save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def _jpeg_with_exif() -> bytes:
    exif = Image.Exif()
    exif[0x013B] = NAME  # Artist
    exif[0x010E] = f"MRN {MRN}"  # ImageDescription
    buf = io.BytesIO()
    _label_pixels().save(buf, "JPEG", exif=exif, quality=95)
    return buf.getvalue()


def _dicom_with_header() -> bytes:
    import numpy as np
    from dicom_builder import dataset, to_bytes

    ds = dataset(np.asarray(_label_pixels().convert("L")), 8)
    ds.PatientID = MRN
    ds.StudyDescription = f"CXR {NAME}"
    return to_bytes(ds)


def _inputs(folder: Path, stem: str | None = None) -> list[Path]:
    """The three carriers, named neutrally unless ``stem`` (a name with PHI) is given."""
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for i, (ext, data) in enumerate(((".png", _png_with_text_chunks()), (".jpg", _jpeg_with_exif()), (".dcm", _dicom_with_header()))):
        p = folder / f"{stem or 'image'}_{i}{ext}"
        p.write_bytes(data)
        made.append(p)
    return made


def _leaks(label: str, data: bytes | str) -> list[str]:
    text = data.decode("latin-1") if isinstance(data, bytes) else data
    low = text.lower()
    return [f"{label}: contains {n!r}" for n in NEEDLES if n.lower() in low]


def _scan_tree(folder: Path, skip: set[Path] = frozenset()) -> list[str]:  # type: ignore[assignment]
    """Every file under the folder: its name and its bytes."""
    found = []
    for p in sorted(folder.rglob("*")):
        if p in skip:
            continue
        found += _leaks(f"file name {p.relative_to(folder)}", p.name)
        if p.is_file():
            found += _leaks(f"content of {p.relative_to(folder)}", p.read_bytes())
    return found


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=600)


# -- check --------------------------------------------------------------------------

def _check_all(inputs: list[Path], out_dir: Path) -> list[str]:
    found = []
    for src in inputs:
        out = out_dir / f"out_{src.suffix[1:]}{src.suffix}"
        report = out_dir / f"report_{src.suffix[1:]}.json"
        r = _run("check", str(src), "-o", str(out), "--report", str(report), "--json")
        assert r.returncode in (0, 1), r.stderr
        found += _leaks(f"check {src.name} stdout", r.stdout) + _leaks(f"check {src.name} stderr", r.stderr)
    return found


def test_check_keeps_planted_identifier_out_of_everything(tmp_path):
    inputs = _inputs(tmp_path / "in")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    found = _check_all(inputs, out_dir)
    found += _scan_tree(out_dir)  # reports, safe copies (bytes and names)
    assert not found, "\n".join(found)
    # the input is untouched and nothing was written beside it
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == sorted(p.name for p in inputs)


def test_include_phi_is_the_only_way_in(tmp_path):
    """Positive control: the planted MRN does reach the pipeline, and ``--include-phi``
    (only) puts it in the report. Without this, the tests above could pass vacuously."""
    src = _inputs(tmp_path / "in")[0]
    report = tmp_path / "r.json"
    r = _run("check", str(src), "-o", str(tmp_path / "o.png"), "--report", str(report), "--include-phi")
    assert r.returncode == 0, r.stderr
    data = json.loads(report.read_text())
    assert data["verdict"] == "REDACTED"
    assert {"MEDICAL_RECORD_NUMBER", "PERSON"} <= {f["kind"] for f in data["findings"]}
    assert MRN in report.read_text() and "quackenbush" in report.read_text().lower()


# -- scan ---------------------------------------------------------------------------

def _scan_leaks(tmp_path: Path, stem: str | None) -> list[str]:
    src = tmp_path / "in"
    _inputs(src / "sub", stem)
    out, reports = tmp_path / "out", tmp_path / "reports"
    r = _run("scan", str(src), "-o", str(out), "--report-dir", str(reports), "--workers", "1")
    assert r.returncode in (0, 1), r.stderr
    assert (reports / "report.jsonl").exists() and (reports / "summary.html").exists()
    assert any(out.rglob("*.png")), "scan wrote no safe copies: nothing was checked"
    return (_leaks("scan stdout", r.stdout) + _leaks("scan stderr", r.stderr)
            + _scan_tree(out) + _scan_tree(reports))


def test_scan_keeps_planted_identifier_out_of_everything(tmp_path):
    found = _scan_leaks(tmp_path, None)
    assert not found, "\n".join(found)


# -- serve --------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve_leaks(tmp_path: Path, stem: str | None) -> list[str]:
    inputs = _inputs(tmp_path / "in", stem)
    port = _free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as fh:
        server = subprocess.Popen(CLI + ["serve", "--port", str(port), "--workers", "1"], stdout=fh, stderr=subprocess.STDOUT)
    found: list[str] = []
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 240
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        for src in inputs:
            with src.open("rb") as f:
                r = httpx.post(base + "/v1/screen", files={"file": (src.name, f)}, timeout=300)
            assert r.status_code == 200, r.text
            body = r.json()
            # the report, reasons and download name the caller gets back
            found += _leaks(f"serve response for {src.suffix}", json.dumps({k: v for k, v in body.items() if k not in ("image", "preview_png_base64")}))
            if "image" in body:
                found += _leaks(f"serve download name for {src.suffix}", body["image"]["filename"])
                d = httpx.get(base + body["image_url"], timeout=30)
                found += _leaks(f"serve download for {src.suffix}", d.content)
                found += _leaks(f"serve Content-Disposition for {src.suffix}", d.headers.get("content-disposition", ""))
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    return found + _leaks("server log", log.read_bytes())


def test_serve_keeps_planted_identifier_out_of_everything(tmp_path):
    found = _serve_leaks(tmp_path, None)
    assert not found, "\n".join(found)


# -- file names ---------------------------------------------------------------------

def test_file_names_with_phi_leak_nowhere(tmp_path):
    """The same three commands on files named after the patient: the report's
    input.name, the scan's output names and summaries and the web download name show
    a neutral name (issue 14 item 4)."""
    found = []
    inputs = _inputs(tmp_path / "check_in", PHI_FILE_STEM)[:1]
    out_dir = tmp_path / "check_out"
    out_dir.mkdir()
    found += _check_all(inputs, out_dir) + _scan_tree(out_dir)
    assert not found, "\n".join(found)
    found += _scan_leaks(tmp_path / "scan", PHI_FILE_STEM)
    assert not found, "\n".join(found)
    found += _serve_leaks(tmp_path / "serve", PHI_FILE_STEM)
    assert not found, "\n".join(found)
