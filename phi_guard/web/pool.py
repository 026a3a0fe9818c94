"""Screening off the event loop: a pool of worker processes, each with its own
engines built once. A request waits on its future with a time limit."""
from __future__ import annotations

import base64
import io
import sys
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

def _init() -> None:
    from ..batch.scan import die_with_parent, single_threaded_env

    single_threaded_env()
    die_with_parent()
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def screen_bytes(data: bytes, name: str, policy_table: dict[str, Any], output_format: str | None) -> dict[str, Any]:
    """Screen uploaded bytes; returns the report, the safe bytes and an outlined preview.
    Bad input comes back as an error dict (exceptions do not cross processes well)."""
    import warnings

    warnings.simplefilter("ignore")
    from ..errors import DecompressionBombError, PhiGuardError
    from ..pipeline import shared_screener
    from ..policy import Policy

    from ..names import NameScreen, scrub_name
    from ..timelimit import time_limit

    policy = Policy.from_table(policy_table)
    try:
        screener = shared_screener(policy, threads=1)
        # The upload's name is screened like its pixels: an identifying name is shown
        # (in the report, errors and download name) by a neutral one.
        shown = NameScreen(screener.detector, policy).part(name, is_file=True)
    except PhiGuardError as exc:
        return {"error": {"code": exc.code, "message": str(exc)}, "status": 500}
    try:
        with time_limit(policy.limits.max_seconds_per_image):
            result = screener.screen(data, policy=policy, output_format=output_format, name=shown)
    except DecompressionBombError as exc:
        return {"error": {"code": exc.code, "message": scrub_name(str(exc), name, shown)}, "status": 413, "name": shown}
    except PhiGuardError as exc:
        status = {"engine_failed": 500, "timeout": 504}.get(exc.code, 422)
        return {"error": {"code": exc.code, "message": scrub_name(str(exc), name, shown)}, "status": status, "name": shown}
    out: dict[str, Any] = {"report": scrub_name(result.report, name, shown), "safe_bytes": result.safe_bytes,
                           "output_format": result.output_format, "name": shown}
    if result.safe_bytes is not None:
        out["preview_png"] = _preview(result.safe_bytes, result.report, policy)
    return out


def _preview(safe: bytes, report: dict[str, Any], policy) -> bytes | None:  # noqa: ANN001
    """The safe image (first frame), redacted areas outlined, as PNG for the page."""
    try:
        from PIL import Image, ImageDraw

        from ..load import load_document

        doc = load_document(safe, policy, "output")
        if not doc.has_pixels:
            return None
        im = Image.fromarray(doc.frames[0]).convert("RGB")
        d = ImageDraw.Draw(im)
        for box in report.get("redactions", {}).get("boxes", []):
            d.rectangle(box, outline=(255, 80, 80), width=max(2, im.width // 250))
        im.thumbnail((1200, 1200))
        buf = io.BytesIO()
        im.save(buf, "PNG")
        return buf.getvalue()
    except Exception:  # noqa: BLE001 - a preview is a convenience
        return None


class ScreeningPool:
    def __init__(self, workers: int) -> None:
        import multiprocessing as mp

        from ..batch.scan import single_threaded_env

        single_threaded_env()  # inherited by the worker processes when they start
        ctx = mp.get_context("forkserver" if sys.platform.startswith("linux") else "spawn")
        self.executor = ProcessPoolExecutor(max_workers=max(1, workers), mp_context=ctx, initializer=_init)
        self.workers = max(1, workers)

    def submit(self, data: bytes, name: str, policy_table: dict[str, Any], output_format: str | None) -> Future:
        return self.executor.submit(screen_bytes, data, name, policy_table, output_format)

    def warm_up(self, policy_table: dict[str, Any]) -> None:
        """Build the engines in every worker before the first real request."""
        from PIL import Image

        buf = io.BytesIO()
        Image.new("L", (64, 64), 128).save(buf, "PNG")
        futures = [self.submit(buf.getvalue(), "warm-up.png", policy_table, None) for _ in range(self.workers)]
        for f in futures:
            f.result()

    def shutdown(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


def b64(data: bytes | None) -> str | None:
    return base64.b64encode(data).decode() if data else None
