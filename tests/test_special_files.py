"""Special files are refused at once (never read); a scan lists every file it does not
screen, non-images as SKIPPED rather than as errors."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess

import pytest

from phi_guard import scan_folder
from phi_guard.errors import InputError

from conftest import DATA
from test_cli import CLI, _one_line_error, run


def test_dev_zero_is_refused_without_reading(tmp_path):
    r = subprocess.run(CLI + ["check", "/dev/zero", "-o", str(tmp_path / "o.png")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "device" in _one_line_error(r)


def test_fifo_without_a_writer_is_refused_at_once(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    r = subprocess.run(CLI + ["check", str(fifo)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "pipe" in _one_line_error(r).lower()
    assert not (tmp_path / "pipe.safe.png").exists()


def test_folder_given_as_a_file_is_refused(tmp_path):
    d = tmp_path / "dir.png"
    d.mkdir()
    r = run("check", str(d), "-o", str(tmp_path / "o.png"))
    assert r.returncode == 2
    assert "folder" in _one_line_error(r)


def test_library_refuses_a_fifo():
    from phi_guard.inputs import read_regular_file

    with pytest.raises(InputError, match="device"):
        read_regular_file("/dev/zero", 1000)


@pytest.fixture()
def export(tmp_path, samples):
    root = tmp_path / "export"
    root.mkdir()
    shutil.copy(samples / "clean_xray.png", root / "clean.png")
    (root / "README.md").write_text("# export\n")
    (root / "LICENSE").write_text("public domain\n")
    (root / "meta.json").write_text("{}")
    (root / "fake.jpg").write_text("a text file named like an image")
    shutil.copy(DATA / "malformed" / "truncated_jpeg.jpg", root / "broken.jpg")
    os.mkfifo(root / "pipe.png")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "sock.png"))
    outside = tmp_path / "outside.png"
    shutil.copy(samples / "clean_xray.png", outside)
    os.symlink(outside, root / "link_out.png")
    yield root
    sock.close()


def test_scan_lists_every_file_it_does_not_screen(export, tmp_path):
    out = tmp_path / "out"
    summary = scan_folder(export, out, workers=1)
    assert summary.counts == {"CLEAN": 1, "ERROR": 2, "SKIPPED": 6}, summary.counts
    rows = {json.loads(line).get("rel") or json.loads(line)["input"]["path"]: json.loads(line)
            for line in (out / "report.jsonl").read_text().splitlines()}
    assert set(rows) == {"clean.png", "README.md", "LICENSE", "meta.json", "fake.jpg", "broken.jpg", "pipe.png",
                         "sock.png", "link_out.png"}
    why = {rel: r.get("reason", "") for rel, r in rows.items() if r.get("verdict") == "SKIPPED"}
    assert "not an image" in why["README.md"] and "not an image" in why["LICENSE"]
    assert "pipe" in why["pipe.png"].lower() and "socket" in why["sock.png"]
    assert "outside" in why["link_out.png"]
    errors = {e["path"] for e in summary.errors}
    assert errors == {"fake.jpg", "broken.jpg"}  # images (by name or content) that failed
    assert not (out / "README.md").exists() and not (out / "LICENSE").exists()  # never copied
    csv = (out / "summary.csv").read_text()
    assert "SKIPPED" in csv and "README.md" in csv
    assert summary.exit_code == 2  # two images failed


def test_skipped_files_alone_do_not_fail_a_scan_unless_strict(tmp_path, samples):
    root = tmp_path / "export"
    root.mkdir()
    shutil.copy(samples / "clean_xray.png", root / "clean.png")
    (root / "README.txt").write_text("notes")
    r = run("scan", str(root), "-o", str(tmp_path / "out"), "--workers", "1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SKIPPED 1" in r.stdout
    r = run("scan", str(root), "-o", str(tmp_path / "out2"), "--workers", "1", "--strict")
    assert r.returncode == 2, r.stdout + r.stderr
