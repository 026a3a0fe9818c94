"""Folder scans: local pool and Dask, mirror tree, errors, resume after a killed worker."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from phi_guard import scan_folder
from phi_guard.errors import UsageError

from conftest import DATA


@pytest.fixture()
def tree(tmp_path, samples) -> Path:
    root = tmp_path / "export"
    (root / "ward" / "day1").mkdir(parents=True)
    shutil.copy(samples / "xray_overlay.png", root / "xray.png")
    shutil.copy(samples / "xray_overlay.png", root / "ward" / "day1" / "duplicate.png")
    shutil.copy(samples / "clean_xray.png", root / "ward" / "clean.png")
    shutil.copy(samples / "phone_photo_gps.jpg", root / "ward" / "photo.jpg")
    shutil.copy(DATA / "dicom" / "2_ORIGINAL.dcm", root / "ward" / "day1" / "ct.dcm")
    shutil.copy(DATA / "malformed" / "truncated_jpeg.jpg", root / "broken.jpg")
    (root / "notes.txt").write_text("not an image")
    outside = tmp_path / "outside.png"
    shutil.copy(samples / "xray_overlay.png", outside)
    os.symlink(outside, root / "link_out.png")
    return root


def digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".") and p.suffix not in (".csv", ".html", ".jsonl")}


def test_local_scan_of_a_mixed_tree(tree, tmp_path):
    before = digests(tree)
    out = tmp_path / "safe"
    summary = scan_folder(tree, out, workers=2)
    assert digests(tree) == before  # nothing in the input folder changed
    # notes.txt is not an image and the link points out of the folder: listed as SKIPPED
    assert summary.counts == {"REDACTED": 4, "CLEAN": 1, "ERROR": 1, "SKIPPED": 2}, summary.counts
    assert summary.exit_code == 2
    assert {"ward/day1/duplicate.png", "ward/day1/ct.dcm", "xray.png", "ward/clean.png", "ward/photo.jpg"} <= set(digests(out))
    assert any("link_out.png" in s and "outside" in s for s in summary.skipped)
    assert not (out / "link_out.png").exists()
    errors = {e["path"] for e in summary.errors}
    assert errors == {"broken.jpg"}
    csv = (out / "summary.csv").read_text()
    assert "broken.jpg" in csv and "ERROR" in csv
    html = (out / "summary.html").read_text()
    assert html.count("data:image/png;base64,") == 4  # thumbnails of the four redacted outputs
    lines = (out / "report.jsonl").read_text().splitlines()
    assert len(lines) == 8  # every entry, the skipped ones too
    assert "DOE" not in "".join(lines) and "00482913" not in "".join(lines)


def test_output_folder_must_be_outside_input(tree):
    with pytest.raises(UsageError):
        scan_folder(tree, tree / "out")
    with pytest.raises(UsageError):
        scan_folder(tree, tree)


def test_dask_localcluster_matches_local_pool(tree, tmp_path):
    pytest.importorskip("distributed")
    local = scan_folder(tree, tmp_path / "local", workers=2)
    dask = scan_folder(tree, tmp_path / "dask", workers=2, engine="dask")
    assert dask.counts == local.counts
    assert digests(tmp_path / "dask") == digests(tmp_path / "local")


def _descendants(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            out.append(int(child))
            out.extend(_descendants(int(child)))
    return out


def _scan_command(src: Path, out: Path) -> list[str]:
    """`phi-guard scan SRC -o OUT --workers 2` as from a terminal: with Python's Ctrl-C
    handler installed. (A test run started in the background by a non-interactive shell
    inherits SIGINT as ignored, and Python then keeps ignoring it, as a backgrounded
    `phi-guard scan ... &` rightly would.)"""
    launcher = ("import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
                "sys.argv = ['phi-guard'] + sys.argv[1:]; runpy.run_module('phi_guard.cli', run_name='__main__')")
    return [sys.executable, "-c", launcher, "scan", str(src), "-o", str(out), "--workers", "2"]


def test_resume_after_a_worker_is_killed(tmp_path, samples):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(8):
        shutil.copy(samples / ("xray_overlay.png" if i % 2 else "clean_xray.png"), src / f"img_{i}.png")
    out = tmp_path / "out"
    cmd = _scan_command(src, out)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    manifest = out / ".phi_guard_manifest.jsonl"
    deadline = time.time() + 240
    while time.time() < deadline and (not manifest.exists() or len(manifest.read_text().splitlines()) < 2):
        time.sleep(0.2)
    assert manifest.exists(), "the scan did not start"
    # the workers are grandchildren (forkserver): kill one of them mid-run
    workers = [p for p in _descendants(proc.pid) if p not in [int(c) for t in Path(f"/proc/{proc.pid}/task").iterdir() for c in (t / "children").read_text().split()]]
    assert workers, "no worker processes found"
    os.kill(workers[0], signal.SIGKILL)
    proc.wait(timeout=240)
    assert proc.returncode == 2
    done_first = len(manifest.read_text().splitlines())
    assert 0 < done_first < 8
    r = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr + r.stdout
    assert "already done in an earlier run" in r.stdout
    rels = [json.loads(line)["rel"] for line in manifest.read_text().splitlines()]
    assert sorted(rels) == sorted(f"img_{i}.png" for i in range(8))  # each file exactly once
    assert not list(out.rglob(".phi_guard-*.part"))
    from PIL import Image

    for i in range(8):
        Image.open(out / f"img_{i}.png").load()  # every output is complete


def test_ctrl_c_stops_cleanly(tmp_path, samples):
    src = tmp_path / "in"
    src.mkdir()
    # Enough files that the scan cannot finish between the first result and the signal.
    for i in range(30):
        shutil.copy(samples / "xray_overlay.png", src / f"img_{i}.png")
    out = tmp_path / "out"
    cmd = _scan_command(src, out)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    manifest = out / ".phi_guard_manifest.jsonl"
    deadline = time.time() + 240
    while time.time() < deadline and (not manifest.exists() or not manifest.read_text().strip()):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=240)
    assert proc.returncode == 2, (stdout[-800:], stderr[-800:])
    assert "interrupted" in stdout
    for line in manifest.read_text().splitlines():
        entry = json.loads(line)  # every manifest line is whole
        assert (out / entry["output"]).exists()
    assert (out / "summary.csv").exists()
    # It stopped: the files still queued to the workers were not screened after Ctrl-C.
    assert len(list(out.rglob("img_*.png"))) < 30
    time.sleep(1)
    assert not [p for p in out.rglob("*.png") if p.stat().st_size == 0]
