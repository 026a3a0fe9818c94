from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from ..types import Box, TextRegion, Word


@dataclass(frozen=True)
class OcrReading:
    """What one engine read on one image: confident words, and text it could not read."""

    words: tuple[Word, ...] = ()
    unreadable: tuple[TextRegion, ...] = ()

    def __add__(self, other: OcrReading) -> OcrReading:
        return OcrReading(self.words + other.words, self.unreadable + other.unreadable)


@dataclass(frozen=True)
class ReadSettings:
    """How an engine is set up to read. ``det_max_side``: the longest side RapidOCR's text
    detector sees (0: its screening default); ``tesseract_passes``: the renderings
    Tesseract reads (None: its screening passes)."""

    det_max_side: int = 0
    tesseract_passes: tuple[str, ...] | None = None


SCREEN_SETTINGS = ReadSettings()  # the screening pass: each engine's own defaults


@runtime_checkable
class OcrEngine(Protocol):
    """An OCR engine: 8-bit grey or RGB pixels in, words with boxes out.

    Implementations are built once per process (models load at construction)
    and must be safe to call repeatedly. Boxes are in the input's pixel
    coordinates. ``tag`` distinguishes readings (it prefixes ``Word.line``).
    """

    name: str

    def version(self) -> str:
        """The engine and model versions, for reports."""
        ...

    def read(self, image: np.ndarray, tag: str = "") -> OcrReading:
        """Read 8-bit grey or RGB ``image``; raises EngineError when the engine fails."""
        ...


@runtime_checkable
class ReadsNewText(Protocol):
    """An engine whose text detector runs apart from recognition: a further rendering of
    a frame is detected in full, but only lines not read before are recognised."""

    def read_new(self, image: np.ndarray, known: Callable[[Box], bool] | None, tag: str = "") -> OcrReading:
        """Read ``image``, skipping the recognition of lines whose box ``known`` accepts."""
        ...


def quad_to_box(points: object) -> Box:
    """The integer box around a quadrilateral's corner points (clipped at 0)."""
    arr = np.asarray(points, dtype=float).reshape(-1, 2)
    x0, y0 = np.floor(arr.min(axis=0)).astype(int)
    x1, y1 = np.ceil(arr.max(axis=0)).astype(int)
    return int(max(x0, 0)), int(max(y0, 0)), int(x1), int(y1)
