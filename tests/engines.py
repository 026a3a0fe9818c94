"""OCR engines to inject into a Screener (``ocr_engines=``, ``verify_engines=``) where a
test needs to control what is read: a verification that keeps finding a name, an
engine that fails mid-screen, or no OCR at all for fuzzing the stages around it.
The detector stays the real one (Presidio, spaCy, phi_guard's recognizers)."""
from __future__ import annotations

import numpy as np

from phi_guard.ocr.base import OcrReading
from phi_guard.types import TextRegion, Word


class BlindEngine:
    """Reads nothing: the fuzz tests exercise load, metadata, decide, encode and
    verify without paying for OCR on every example."""

    def __init__(self, name: str = "blind") -> None:
        self.name = name
        self.calls = 0

    def version(self) -> str:
        return f"{self.name} (test engine)"

    def read(self, image: np.ndarray, tag: str = "") -> OcrReading:
        self.calls += 1
        return OcrReading()


class ScriptedEngine(BlindEngine):
    """Reads the given words (text, box) on every call, at full confidence; and the
    given unreadable regions."""

    def __init__(self, words: list[tuple[str, tuple[int, int, int, int]]], name: str = "scripted",
                 unreadable: list[tuple[int, int, int, int]] = ()) -> None:  # type: ignore[assignment]
        super().__init__(name)
        self.words = words
        self.unreadable = list(unreadable)

    def read(self, image: np.ndarray, tag: str = "") -> OcrReading:
        self.calls += 1
        h, w = image.shape[:2]
        # Words at the same height form one line.
        words = tuple(Word(text=t, confidence=0.99, box=b, engine=self.name, line=f"{tag}:{b[1]}")
                      for t, b in self.words if b[2] <= w and b[3] <= h)
        regions = tuple(TextRegion(box=b, confidence=0.1, engine=self.name) for b in self.unreadable)
        return OcrReading(words, regions)


class FailingEngine(BlindEngine):
    """Raises on its ``fail_on``-th call (1-based): an engine that breaks mid-screen."""

    def __init__(self, fail_on: int = 1, exc: BaseException | None = None, name: str = "failing") -> None:
        super().__init__(name)
        self.fail_on = fail_on
        self.exc = exc or RuntimeError("simulated engine crash")

    def read(self, image: np.ndarray, tag: str = "") -> OcrReading:
        self.calls += 1
        if self.calls >= self.fail_on:
            raise self.exc
        return OcrReading()
