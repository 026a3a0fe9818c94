"""Core value types shared by every pipeline stage.

All of them are frozen dataclasses: a stage never mutates what an earlier stage
produced, it returns something new. Boxes are pixel rectangles
``(x0, y0, x1, y1)`` with x1/y1 exclusive, in the coordinates of the frame as
it is displayed (after EXIF orientation).
"""
from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import numpy.typing as npt

Box = tuple[int, int, int, int]


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    if not inter:
        return 0.0
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def coverage(inner: Box, outer: Box) -> float:
    """Fraction of ``inner``'s area that lies inside ``outer``."""
    ix = max(0, min(inner[2], outer[2]) - max(inner[0], outer[0]))
    iy = max(0, min(inner[3], outer[3]) - max(inner[1], outer[1]))
    return ix * iy / max((inner[2] - inner[0]) * (inner[3] - inner[1]), 1)


class Verdict(str, enum.Enum):
    CLEAN = "CLEAN"  # no PHI found; a stripped copy is written
    REDACTED = "REDACTED"  # PHI found and masked; the masked copy passed verification
    BLOCKED = "BLOCKED"  # cannot be made safe with confidence; nothing is written


class Where(str, enum.Enum):
    PIXELS = "pixels"
    METADATA = "metadata"
    OVERLAY = "overlay"  # a DICOM overlay plane (removed from the output by default)


@dataclass(frozen=True)
class Word:
    """One word read by an OCR engine."""

    text: str
    confidence: float  # 0..1
    box: Box
    engine: str  # e.g. "rapidocr", "tesseract:tophat-white"
    line: str  # key shared by the words of one text line of one reading
    frame: int = 0
    # The word's line runs level; a slanted word (a label photographed at an angle)
    # crosses its box diagonally, so its glyphs fill the box's height.
    level: bool = True


@dataclass(frozen=True)
class TextRegion:
    """A region an engine detected as text but could not read with confidence."""

    box: Box
    confidence: float
    engine: str
    frame: int = 0


@dataclass(frozen=True)
class MetadataItem:
    """One metadata entry found in the input container (value already masked)."""

    carrier: str  # EXIF, GPS, XMP, IPTC, ICC, JPEG-COM, PNG-tEXt, TIFF, MPO, ...
    key: str
    masked_value: str
    action: str = "removed"  # removed | kept | converted
    phi_risk: bool = True  # could identify a person, place, device or time


@dataclass(frozen=True)
class Finding:
    """An identifier found in the pixels or the metadata."""

    kind: str  # PERSON, DATE, MEDICAL_RECORD_NUMBER, ...
    masked_value: str
    boxes: tuple[Box, ...]
    score: float
    rule: str  # the recognizer or rule that found it
    where: Where = Where.PIXELS
    frame: int = 0
    # The raw text is kept in memory for verification only; it never reaches a
    # report unless the caller asks for it explicitly (Policy.report.include_phi).
    raw_text: str = field(default="", repr=False, compare=False)
    # The boxes already cover the whole object (a face out to its hair and ears, a code
    # with its quiet zone): masked as they are, not padded like text, and not re-read
    # as text around their masks in verification.
    whole_object: bool = False
    # Its words run level: a text mask is fitted to the rows of their glyphs. Slanted
    # words fill their boxes diagonally and are masked box and all.
    level: bool = True


@dataclass(frozen=True)
class Rendering:
    """One 8-bit image the OCR engines read: a rendering of a frame as displayed, or
    a plane drawn over it (a DICOM overlay). A format may give several renderings
    of one frame; their findings all map to that frame's pixels."""

    pixels: npt.NDArray[np.uint8] = field(repr=False)
    frame: int = 0
    where: Where = Where.PIXELS
    label: str = ""  # prefixes the findings' rule, e.g. "overlay 6000"
    # Read by every screening engine, or by the first one only (further frames of a
    # cine loop repeat the first frame's overlay on changing anatomy).
    all_engines: bool = True
    # Only these parts of the frame changed since they were last read (a later frame
    # of an animation or a video); None: read the whole frame.
    regions: tuple[Box, ...] | None = None
    # A further reading of a frame already read (a DICOM value band, a min-max or colour
    # rendering): the first engine's text detector runs on it, and only text regions not
    # yet read in that frame's earlier renderings are recognised.
    supplementary: bool = False

    def without_pixels(self) -> Rendering:
        """This rendering's description (frame, plane, label) once it has been read:
        a clip's frames are not all held in memory."""
        import numpy  # here, not at the top: this module stays light on imports

        return dataclasses.replace(self, pixels=numpy.zeros((0, 0), dtype=numpy.uint8))


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class VerifyOutcome:
    """One verification of an encoded output. ``problems``: container faults (each
    blocks); ``residual``: identifiers still readable in the output pixels."""

    ok: bool
    problems: tuple[str, ...]
    residual: tuple[Finding, ...]
    frames_checked: int = 0  # output frames re-read
    # What was re-read: "full" (every checked frame), or "around masks and changes"
    # (the output proved equal to the input elsewhere, docs/design.md).
    scope: str = "full"
