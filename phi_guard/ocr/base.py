from __future__ import annotations

from collections.abc import Callable, Sequence
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
    # Tesseract's unsure words in rows it read in part count as text seen but not read.
    # Off for verification: in a masked output they are the masks' edges and pixelation.
    tesseract_unreadable: bool = False


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


# A detected text region counts as read when confident words cover this share of its width.
READ_COVERAGE = 0.6


def read_fraction(region: Box, word_boxes: list[Box]) -> float:
    """The share of ``region``'s width covered by words (that overlap it by at least half
    their height), gaps between words and margins at the region's ends of up to half its
    height counted as read (the spaces of a line, the detector's margin). 0 for an empty
    region."""
    x0, y0, x1, y1 = region
    h = max(y1 - y0, 1)
    spans = sorted((max(b[0], x0), min(b[2], x1)) for b in word_boxes
                   if min(b[3], y1) - max(b[1], y0) >= 0.5 * min(b[3] - b[1], h) and b[2] > x0 and b[0] < x1)
    merged: list[list[int]] = []
    for a, b in spans:
        if merged and a - merged[-1][1] <= 0.5 * h:
            merged[-1][1] = max(merged[-1][1], b)
        elif b > a:
            merged.append([a, b])
    # A detector's box reaches a little beyond the glyphs at either end: margins of up to
    # half the region's height before the first word and after the last count as read.
    if merged and merged[0][0] - x0 <= 0.5 * h:
        merged[0][0] = x0
    if merged and x1 - merged[-1][1] <= 0.5 * h:
        merged[-1][1] = x1
    covered = sum(b - a for a, b in merged)
    return min(covered / max(x1 - x0, 1), 1.0)


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


def neighbourhoods(boxes: Sequence[Box], width: int, height: int) -> list[Box]:
    """Regions around text boxes (a mask, a detected line), wide enough to hold the rest
    of a line of text (4 box heights sideways, one up and down), merged where they
    overlap (one read per cluster)."""
    grown = []
    for x0, y0, x1, y1 in boxes:
        h = max(y1 - y0, 8)
        grown.append((max(0, x0 - 4 * h), max(0, y0 - h), min(width, x1 + 4 * h), min(height, y1 + h)))
    return merged_boxes(grown)


def merged_boxes(boxes: Sequence[Box]) -> list[Box]:
    """``boxes`` with overlapping ones merged into their bounding box."""
    merged: list[list[int]] = []
    for g in sorted(boxes):
        for m in merged:
            if g[0] <= m[2] and m[0] <= g[2] and g[1] <= m[3] and m[1] <= g[3]:
                m[0], m[1], m[2], m[3] = min(m[0], g[0]), min(m[1], g[1]), max(m[2], g[2]), max(m[3], g[3])
                break
        else:
            merged.append(list(g))
    return [(m[0], m[1], m[2], m[3]) for m in merged]
