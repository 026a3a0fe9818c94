"""Screening off the event loop: a pool of worker processes, each with its own
engines built once. A request waits on its future with a time limit."""
from __future__ import annotations

import base64
import io
from concurrent.futures import Future
from typing import Any


def screen_bytes(data: bytes, name: str, policy_table: dict[str, Any], output_format: str | None) -> dict[str, Any]:
    """Screen uploaded bytes; returns the report, the safe bytes and an outlined preview.
    Bad input comes back as an error dict (exceptions do not cross processes well)."""
    import warnings

    warnings.simplefilter("ignore")
    from ..errors import DecompressionBombError, PhiGuardError
    from ..names import NameScreen, scrub_name
    from ..pipeline import shared_screener
    from ..policy import Policy
    from ..timelimit import time_limit

    policy = Policy.from_table(policy_table)
    try:
        screener = shared_screener(policy, threads=1)
        # The upload's name is screened like its pixels: an identifying name is shown
        # (in the report, errors and download name) by a neutral one.
        shown = NameScreen(policy, lambda: screener.detector).part(name, is_file=True)
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
        from ..report.preview import outlined_preview

        out["preview_png"] = outlined_preview(result.safe_bytes, result.report["redactions"]["boxes"], 1200, policy)
    return out


class ScreeningPool:
    def __init__(self, workers: int) -> None:
        from ..workers import worker_pool

        self.executor = worker_pool(workers)
        self.workers = max(1, workers)

    def submit(self, data: bytes, name: str, policy_table: dict[str, Any], output_format: str | None) -> Future[dict[str, Any]]:
        """Screen ``data`` in a worker; the future's result is :func:`screen_bytes`'s dict."""
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
        """Stop the workers (queued requests are cancelled)."""
        self.executor.shutdown(wait=True, cancel_futures=True)


def b64(data: bytes | None) -> str | None:
    """Base64 text of ``data`` (None for no data)."""
    return base64.b64encode(data).decode() if data else None
