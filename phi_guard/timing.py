"""Seconds spent per stage, for the report."""
from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator


class Stopwatch:
    """Adds up the seconds spent in each named stage: ``with clock("ocr"): ...``.
    Stages named at construction are reported (as 0.0) even when they never run."""

    def __init__(self, stages: tuple[str, ...] = ()) -> None:
        self._start = time.perf_counter()
        self.seconds: dict[str, float] = dict.fromkeys(stages, 0.0)

    @contextlib.contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - t0

    def report(self) -> dict[str, float]:
        """Seconds per stage, and the ``total`` since the stopwatch started."""
        return {**self.seconds, "total": time.perf_counter() - self._start}
