"""What `check` writes: output paths checked before screening, no stale safe copy,
the report and the image written together or not at all."""
from __future__ import annotations

import json
import shutil

from conftest import DATA
from test_cli import _one_line_error, run


def test_output_naming_a_folder_is_refused_before_screening(tmp_path, samples):
    folder = tmp_path / "already_a_folder.png"
    folder.mkdir()
    r = run("check", str(samples / "clean_xray.png"), "-o", str(folder))
    assert r.returncode == 2
    assert "folder" in _one_line_error(r)
    assert list(folder.iterdir()) == []


def test_unwritable_output_is_one_line_exit_2(tmp_path, samples):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    r = run("check", str(samples / "clean_xray.png"), "-o", str(blocker / "out.png"))
    assert r.returncode == 2
    assert "cannot write" in _one_line_error(r)


def test_unwritable_report_leaves_no_safe_copy(tmp_path, samples):
    out = tmp_path / "o.png"
    r = run("check", str(samples / "clean_xray.png"), "-o", str(out), "--report", "/proc/phi_guard_report.json")
    assert r.returncode == 2
    assert "cannot write" in _one_line_error(r)
    assert not out.exists()


def test_same_path_for_output_and_report_is_refused(tmp_path, samples):
    p = tmp_path / "both.png"
    r = run("check", str(samples / "clean_xray.png"), "-o", str(p), "--report", str(p))
    assert r.returncode == 2
    assert "same" in _one_line_error(r)
    assert not p.exists()


def test_a_later_block_removes_the_earlier_safe_copy(tmp_path, samples):
    src = tmp_path / "x.png"
    shutil.copy(samples / "xray_overlay.png", src)
    r = run("check", str(src))
    assert r.returncode == 0, r.stderr
    stale = tmp_path / "x.safe.png"
    assert stale.exists()
    strict = tmp_path / "strict.toml"
    strict.write_text('[block]\nkinds = ["PERSON"]\n')
    r = run("check", str(src), "--policy", str(strict), "--report", str(tmp_path / "r.json"))
    assert r.returncode == 1
    assert not stale.exists(), "a safe copy from an earlier, weaker run survived the block"
    assert "removed" in r.stdout
    assert json.loads((tmp_path / "r.json").read_text())["verdict"] == "BLOCKED"


def test_a_later_failure_removes_the_earlier_safe_copy(tmp_path, samples):
    out = tmp_path / "out.png"
    assert run("check", str(samples / "clean_xray.png"), "-o", str(out)).returncode == 0
    broken = tmp_path / "broken.png"
    shutil.copy(DATA / "malformed" / "broken.png", broken)
    r = run("check", str(broken), "-o", str(out))
    assert r.returncode == 2
    assert not out.exists()
