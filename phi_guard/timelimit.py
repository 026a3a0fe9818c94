"""A time limit per image for long-running workers (``scan``, ``serve``).

A pathological file (a huge canvas of noise that OCR tiles for minutes) must not hold
a worker forever: after ``limits.max_seconds_per_image`` the screen is interrupted
with :class:`ScreeningTimeout`, the file ends as an error (nothing written) and the
worker takes the next one. The limit is a SIGALRM timer, so it applies in a process's
main thread (the local scan pool and the web workers); it interrupts Python code, and
a native step (one decoder call, one OCR call) when it returns."""
from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

from .errors import PhiGuardError


class ScreeningTimeout(PhiGuardError):
    code = "timeout"


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield  # signals reach only the main thread (e.g. a Dask worker thread): no limit here
        return

    def expire(_signum: int, _frame: FrameType | None) -> None:
        raise ScreeningTimeout(f"screening took longer than the {seconds:g}-second limit per image; nothing was written")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
