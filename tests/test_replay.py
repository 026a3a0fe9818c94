"""Replay of a corpus of malformed files: the malformed test files of Pillow, Piexif and
pydicom, plus deterministic truncations and bit-flips of every committed test file
(generated here, never committed). Only phi_guard's typed errors may come out: no
other exception, no hang, no output file, and every input byte-for-byte untouched.

The loader-level replay runs every input through the stages that parse bytes
(sniff, decode, metadata inventory / DICOM header de-identification) in a child
process with a per-input time limit. The full-pipeline replay screens a seeded
sample with the real engines; the CLI replay runs ``scan`` over a folder of them.

``PHI_GUARD_REPLAY_EXTRA=/path/to/folder`` adds every file under that folder (and its
truncations and bit-flips) to the loader-level replay, for a longer local run.
"""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from hostile import LoaderSandbox, derived_inputs, malformed_files, seed_files, tree_digest

PER_INPUT_TIMEOUT_S = 30.0


def _write_corpus(folder: Path, originals: list[Path]) -> list[Path]:
    """The originals and their derived inputs, as files under ``folder``."""
    paths = []
    for n, src in enumerate(originals):
        d = folder / f"{n:03d}"
        d.mkdir()
        (d / src.name).write_bytes(src.read_bytes())
        paths.append(d / src.name)
        for tag, data in derived_inputs(src):
            p = d / f"{src.stem}.{tag}{src.suffix}"
            p.write_bytes(data)
            paths.append(p)
    return paths


def _originals() -> list[Path]:
    files = seed_files()
    extra = os.environ.get("PHI_GUARD_REPLAY_EXTRA")
    if extra:
        files += sorted(p for p in Path(extra).rglob("*") if p.is_file())
    return files


def test_loader_replay_only_typed_errors(tmp_path):
    corpus = _write_corpus(tmp_path, _originals())
    assert len(corpus) > 1000, "the replay corpus shrank"
    before = tree_digest(tmp_path)
    failures, counts = [], {}
    with LoaderSandbox(PER_INPUT_TIMEOUT_S) as sandbox:
        for path in corpus:
            outcome = sandbox.run(path)
            counts[outcome.kind] = counts.get(outcome.kind, 0) + 1
            if not outcome.allowed:
                failures.append(f"{path.relative_to(tmp_path)}: {outcome.kind}: {outcome.detail}")
    print(f"loader replay: {len(corpus)} inputs, outcomes {counts}")
    assert not failures, f"{len(failures)} of {len(corpus)} inputs broke the loader contract:\n" + "\n".join(failures)
    # Loading writes nothing and changes nothing.
    assert tree_digest(tmp_path) == before
    # The corpus exercises both sides of the contract.
    assert counts.get("typed", 0) > 100 and counts.get("ok", 0) > 50


def test_every_malformed_file_that_does_not_decode_fails_typed(tmp_path):
    """The malformed corpus by itself, each file named: the ones upstream marks as
    undecodable must be refused with a typed error (they must not 'decode' into
    something half-read)."""
    must_fail = {"broken.png", "broken_data_stream.png", "crash-2020-10-test.tif", "libtiff_read_error.tif",
                 "crash-4fb027452e6988530aa5dabee76eecacb3b79f8a.j2k", "crash-86214e58da443d2b80820cff9677a38a33dcbbca.tif",
                 "decompression_bomb.gif", "truncated_end_chunk.png", "truncated_image.png", "truncated_jpeg.jpg",
                 "notjpeg.jpg", "JPEG-lossy.dcm", "JPEG2000-embedded-sequence-delimiter.dcm", "MR_truncated.dcm",
                 "badVR.dcm", "zipMR.gz"}
    files = malformed_files()
    assert must_fail <= {p.name for p in files}
    with LoaderSandbox(PER_INPUT_TIMEOUT_S) as sandbox:
        outcomes = {p.name: sandbox.run(p) for p in files}
    bad = {n: o for n, o in outcomes.items() if not o.allowed}
    assert not bad, bad
    wrongly_ok = {n: o.detail for n, o in outcomes.items() if n in must_fail and o.kind != "typed"}
    assert not wrongly_ok, wrongly_ok


def _pipeline_sample(tmp_path: Path, k_malformed: int = 8, k_derived: int = 8) -> list[Path]:
    """A seeded sample for the full pipeline: malformed files and derived inputs of
    small originals (the real engines take ~1 s per decodable image)."""
    rng = random.Random(14)
    small = [p for p in seed_files() if p.stat().st_size < 120_000]
    derived = [(src, tag, data) for src in small for tag, data in derived_inputs(src)]
    picked = rng.sample(malformed_files(), k_malformed)
    paths = []
    for p in picked:
        (tmp_path / p.name).write_bytes(p.read_bytes())
        paths.append(tmp_path / p.name)
    for src, tag, data in rng.sample(derived, k_derived):
        p = tmp_path / f"{src.stem}.{tag}{src.suffix}"
        p.write_bytes(data)
        paths.append(p)
    return paths


def _screen_with_timeout(screener, path: Path, timeout_s: float):  # noqa: ANN001, ANN202
    box: dict[str, object] = {}

    def work() -> None:
        try:
            box["result"] = screener.screen(path)
        except BaseException as exc:  # noqa: BLE001 - inspected by the caller
            box["error"] = exc

    t = threading.Thread(target=work, daemon=True)
    t.start()
    t.join(timeout_s)
    assert not t.is_alive(), f"{path.name}: screening did not finish within {timeout_s:.0f} s"
    return box


def test_full_pipeline_replay_on_a_sample(screener, tmp_path):
    from phi_guard.errors import PhiGuardError
    from phi_guard.types import Verdict

    sample = _pipeline_sample(tmp_path)
    before = tree_digest(tmp_path)
    errors = results = 0
    for path in sample:
        box = _screen_with_timeout(screener, path, 180)
        if "error" in box:
            exc = box["error"]
            assert isinstance(exc, PhiGuardError), f"{path.name}: {type(exc).__name__}: {exc}"
            assert "\n" not in str(exc) and str(exc), f"{path.name}: not a one-line message"
            errors += 1
            continue
        result = box["result"]
        results += 1
        if result.blocked:
            assert result.safe_bytes is None
        else:
            # Whatever decoded was screened and verified like any input.
            assert result.report["verification"]["passed"] is True, path.name
            assert result.verdict in (Verdict.CLEAN, Verdict.REDACTED)
    print(f"pipeline replay: {len(sample)} inputs, {errors} typed errors, {results} results")
    assert errors > 0 and tree_digest(tmp_path) == before


def test_scan_replay_errors_write_nothing(tmp_path):
    """``scan`` over a folder of malformed inputs: every one is a row, the ones that
    fail are ERROR rows with no output file, and the inputs are untouched."""
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    names = ["broken.png", "truncated_jpeg.jpg", "crash-2020-10-test.tif", "decompression_bomb.gif", "badVR.dcm",
             "MR_truncated.dcm", "JPEG2000-embedded-sequence-delimiter.dcm", "notjpeg.jpg"]
    by_name = {p.name: p for p in malformed_files()}
    for n in names:
        (src / n).write_bytes(by_name[n].read_bytes())
    dcm = next(p for p in seed_files() if p.name == "0_ORIGINAL_compressed.dcm")
    for tag, data in derived_inputs(dcm):
        if tag in ("trunc131", "trunc200", "flip3"):  # cut in the preamble, in the meta header; the RLE panic
            (src / f"cut_{tag}.dcm").write_bytes(data)
    before = tree_digest(src)
    r = subprocess.run([sys.executable, "-m", "phi_guard.cli", "scan", str(src), "-o", str(out), "--workers", "1"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    rows = [json.loads(line) for line in (out / "report.jsonl").read_text().splitlines() if line.strip()]
    by_rel = {row.get("rel") or row.get("input", {}).get("path"): row for row in rows}
    # One row per file; a name that looks identifying (a date in "crash-2020-10-test.tif")
    # is shown neutral (file-<hash>.<ext>), the others as they are.
    assert len(by_rel) == len(list(src.iterdir()))
    assert {p.name for p in src.iterdir()} >= {r for r in by_rel if not r.startswith("file-")}
    for rel, row in by_rel.items():
        assert row.get("verdict") == "ERROR", f"{rel}: {row.get('verdict')}"
        assert row.get("error_code"), rel
    outputs = [p for p in out.rglob("*") if p.is_file() and p.name not in ("report.jsonl", "summary.csv", "summary.html")
               and not p.name.startswith(".")]
    assert outputs == [], outputs
    assert tree_digest(src) == before
