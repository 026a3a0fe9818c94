from __future__ import annotations

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
# Changed regions of later frames (a clip, an animation): crops read at their own
# scale (RapidOCR detecting at no more than 960 px), not blown up to 736 px on the
# short side as a whole frame is: a 200 px crop costs a fraction of a frame.
REGION_SETTINGS = ReadSettings(det_max_side=960)


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


def quad_to_box(points: object) -> Box:
    """The integer box around a quadrilateral's corner points (clipped at 0)."""
    arr = np.asarray(points, dtype=float).reshape(-1, 2)
    x0, y0 = np.floor(arr.min(axis=0)).astype(int)
    x1, y1 = np.ceil(arr.max(axis=0)).astype(int)
    return int(max(x0, 0)), int(max(y0, 0)), int(x1), int(y1)
