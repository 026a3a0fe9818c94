"""Folder scans that can be trusted: no stale safe copies, resume that respects the
policy and the tool version, non-images skipped (not errors), every skip reported."""
from __future__ import annotations

import json
import shutil

from phi_guard import Policy, scan_folder

from conftest import DATA

STRICT = Policy.from_table({"block": {"kinds": ["PERSON"]}})


def test_a_later_block_or_failure_removes_the_earlier_safe_copy(tmp_path, samples):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(samples / "xray_overlay.png", src / "x.png")
    shutil.copy(samples / "clean_xray.png", src / "c.png")
    out = tmp_path / "out"
    first = scan_folder(src, out, workers=1)
    assert first.counts == {"REDACTED": 1, "CLEAN": 1}
    assert (out / "x.png").exists() and (out / "c.png").exists()
    second = scan_folder(src, out, workers=1, policy=STRICT)
    assert second.counts == {"BLOCKED": 1, "CLEAN": 1}
    assert not (out / "x.png").exists(), "a safe copy from an earlier, weaker scan survived the block"
    shutil.copy(DATA / "malformed" / "truncated_image.png", src / "c.png")  # now broken
    third = scan_folder(src, out, workers=1, policy=STRICT)
    assert third.counts == {"BLOCKED": 1, "ERROR": 1}
    assert not (out / "c.png").exists(), "a safe copy survived its input failing"


def test_resume_rescreens_after_a_policy_or_tool_version_change(tmp_path, samples):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(samples / "xray_overlay.png", src / "x.png")
    out = tmp_path / "out"
    assert scan_folder(src, out, workers=1).counts == {"REDACTED": 1}
    same = scan_folder(src, out, workers=1, resume=True)
    assert same.skipped_resume == 1  # nothing changed: nothing redone
    stricter = scan_folder(src, out, workers=1, resume=True, policy=STRICT)
    assert stricter.skipped_resume == 0, "a file done under a weaker policy was kept"
    assert stricter.counts == {"BLOCKED": 1}
    assert not (out / "x.png").exists()
    # a manifest written by another phi_guard version is not trusted either
    manifest = out / ".phi_guard_manifest.jsonl"
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert lines[-1]["policy_digest"] == STRICT.digest  # the last line for a file counts
    manifest.write_text("".join(json.dumps({**e, "tool_version": "0.0.1"}) + "\n" for e in lines))
    older = scan_folder(src, out, workers=1, resume=True, policy=STRICT)
    assert older.skipped_resume == 0, "a file done by an older phi_guard was kept"


def test_a_slow_image_ends_as_an_error_row_and_the_scan_goes_on(tmp_path):
    from test_web_trust import _big_text_image, _small_image

    src = tmp_path / "in"
    src.mkdir()
    (src / "big.png").write_bytes(_big_text_image())
    (src / "small.png").write_bytes(_small_image())
    policy = Policy.from_table({"limits": {"max_seconds_per_image": 10.0}})
    summary = scan_folder(src, tmp_path / "out", workers=2, policy=policy)
    assert summary.counts == {"ERROR": 1, "CLEAN": 1}, (summary.counts, summary.errors)
    assert summary.errors[0]["path"] == "big.png" and "limit" in summary.errors[0]["error"]
    assert not (tmp_path / "out" / "big.png").exists()
