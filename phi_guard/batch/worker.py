"""The per-file task: a pure function of (input bytes, policy) that writes the
safe copy atomically and returns the report. Engines are built once per process."""
from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - the engines load in the worker, on first use
    from ..pipeline import Screener
    from ..policy import Policy


def _get_screener(policy_table: dict[str, Any]) -> tuple[Screener, Policy]:
    from ..pipeline import shared_screener
    from ..policy import Policy

    os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # workers must not fight over cores
    policy = Policy.from_table(policy_table)
    return shared_screener(policy, threads=1), policy


_warmed: set[int] = set()


def _warm(screener: Screener, policy: Policy) -> None:
    """Screen a tiny blank image once per Screener, so that loading the OCR models and
    the detector is not counted against the first real image's time limit."""
    if id(screener) in _warmed:
        return
    import numpy as np

    from ..formats.photo.encode import encode_image

    # A blank image does not need the detector, but the folder's file names and first
    # image with text do: it loads in the background while the OCR models warm up.
    screener.start_loading_detector()
    screener.screen(encode_image(np.full((64, 64), 128, np.uint8), "PNG", policy), policy=policy, name="warm-up.png")
    screener.detector  # noqa: B018 - waited for here, before the clock of the first image starts
    _warmed.add(id(screener))


def output_path(out_dir: str, rel: str, fmt: str) -> Path:
    """Where the safe copy of ``rel`` goes under ``out_dir``: its own name when the extension
    fits ``fmt`` (.dcm or .dicom for DICOM), else the stem with ``fmt``'s usual extension."""
    from ..write import EXTENSION_FORMATS, default_extension

    p = Path(out_dir) / rel
    suffix = p.suffix.lower()
    if fmt == "DICOM":
        return p if suffix in (".dcm", ".dicom") else p.with_name(p.name + ".dcm")
    if EXTENSION_FORMATS.get(suffix) == fmt:
        return p
    return p.with_name(p.stem + default_extension(fmt))


def _named_like_an_image(rel: str) -> bool:
    """A file whose name says image (or video) but whose content is not one is a failed image."""
    from ..write import EXTENSION_FORMATS, VIDEO_EXTENSIONS

    return Path(rel).suffix.lower() in set(EXTENSION_FORMATS) | set(VIDEO_EXTENSIONS) | {".dcm", ".dicom", ".mpo", ".jp2", ".j2k"}


def _sniffed(head: bytes) -> str | None:
    """The format of a file by its first bytes: an image's, or a video container's."""
    from ..formats.video.sniff import sniff_video
    from ..load import sniff_format

    return sniff_format(head) or sniff_video(head)


def _written_as(fmt: str) -> str:
    """The format an input of ``fmt`` is written as when nothing else is asked (a clip
    becomes an MP4; a WebM clip stays WebM)."""
    return "MP4" if fmt in ("MOV", "AVI", "MKV") else fmt


def _max_bytes(policy_table: dict[str, Any]) -> int:
    return int(policy_table["limits"]["max_bytes"])


def _remove_stale(path: Path, record: dict[str, Any]) -> None:
    """A blocked or failed input's output path may hold a safe copy from an earlier
    scan (under another policy, or of other bytes): remove it, and say so."""
    from ..outputs import remove_stale

    if remove_stale(path):
        record["removed_stale_output"] = True


def screen_file(src: str, rel: str, out_dir: str, policy_table: dict[str, Any]) -> dict[str, Any]:
    """Screen one file; never raises for bad input (it becomes an error record).

    The record names the file by its shown path: identifying file and folder names
    replaced by neutral ones (in the output tree too); ``key`` (a keyed hash of the
    real path) lets a resumed scan find it again. The real path is in the record only
    when the policy includes PHI in reports."""
    import warnings

    from ..errors import PhiGuardError
    from ..names import NameScreen, name_key, scrub_name, source_key

    warnings.simplefilter("ignore")
    from ..policy import Policy

    policy = Policy.from_table(policy_table)
    names = NameScreen(policy, lambda: _get_screener(policy_table)[0].detector)
    try:
        shown = names.rel(rel)
    except PhiGuardError:
        shown = "/".join(names.neutral(p, is_file=(i == rel.count("/"))) for i, p in enumerate(rel.split("/")))
    record = _screen_file(src, shown, out_dir, policy_table)
    record = dict(scrub_name(record, Path(rel).name, Path(shown).name))
    record["rel"] = shown
    record["key"] = source_key(name_key(policy), rel)
    if policy.include_phi_in_report and shown != rel:
        record["original"] = rel
    return record


def _screen_file(src: str, rel: str, out_dir: str, policy_table: dict[str, Any]) -> dict[str, Any]:
    from ..errors import PhiGuardError
    from ..inputs import read_regular_file
    from ..timelimit import time_limit
    from ..write import atomic_write

    t0 = time.perf_counter()
    record: dict[str, Any] = {"rel": rel}
    try:
        head = read_regular_file(src, 0, head=4096)
        if _sniffed(head) is None and not _named_like_an_image(rel):
            # A README, a licence, a JSON sidecar: not an image, so not a failure (and
            # never copied: only screened images reach the output folder).
            return {**record, "verdict": "SKIPPED", "reason": "not an image (not copied)", "seconds": 0.0}
        data = read_regular_file(src, _max_bytes(policy_table))
    except PhiGuardError as exc:
        return {**record, "verdict": "ERROR", "error": str(exc), "error_code": exc.code, "seconds": 0.0}
    record.update(size=len(data), sha256=hashlib.sha256(data).hexdigest())
    try:
        screener, policy = _get_screener(policy_table)
        _warm(screener, policy)  # engines loaded before the clock starts: the limit is per image
        with time_limit(policy.limits.max_seconds_per_image):
            result = screener.screen(data, policy=policy, name=Path(rel).name)
    except PhiGuardError as exc:
        fmt = _sniffed(data[:4096])
        if fmt:  # this input's output from an earlier run is not its result now
            _remove_stale(output_path(out_dir, rel, fmt), record)
        return {**record, "verdict": "ERROR", "error": str(exc), "error_code": exc.code,
                "seconds": round(time.perf_counter() - t0, 3)}
    report = result.report
    report["input"]["path"] = rel
    if result.safe_bytes is not None:
        out = output_path(out_dir, rel, result.output_format or "PNG")
        atomic_write(out, result.safe_bytes)
        report["output"]["path"] = out.relative_to(out_dir).as_posix()
        record["output"] = report["output"]["path"]
    else:
        _remove_stale(output_path(out_dir, rel, _written_as(report["input"]["format"])), record)
    record.update(verdict=report["verdict"], format=report["input"]["format"], seconds=round(time.perf_counter() - t0, 3),
                  report=report)
    return record
