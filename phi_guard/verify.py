"""Verify stage: re-screen what is about to be written.

The output format's adapter decodes the encoded output again and inspects its
container (no metadata that could identify anyone, masks still solid, the header
clean); the decoded frames are then read again by the verification engines (set up
differently from the screening pass, :data:`VERIFY_SETTINGS`) and run through
detection. Anything found goes back to redaction; what cannot be fixed is blocked."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .detect.pixels import PixelDetector
from .errors import PhiGuardError
from .formats.base import Document, Encoded, FormatAdapter, MetadataStep
from .ocr import OcrEngine, OcrReading, ReadSettings, merged_boxes, neighbourhoods, read_frame, read_new_text, read_regions
from .policy import Policy
from .types import Box, Finding, VerifyOutcome
from .vision import PictureDetectors, residual_picture_findings

# Verification is not the same reading repeated: RapidOCR detects text at no more than
# 960 px, and Tesseract reads plain grey made dark-on-light (unlike its screening
# passes), still trying each unsure line inverted: a dark x-ray can carry a white
# label with black text, which the global inversion turns light-on-dark.
VERIFY_SETTINGS = ReadSettings(det_max_side=960, tesseract_passes=("gray-dark-text",), tesseract_unreadable=False)


@dataclass(frozen=True)
class VerifyEngines:
    """The engines that re-read an output: the whole frames, and the masks' neighbourhoods."""

    frames: list[OcrEngine]
    masks: list[OcrEngine] = field(default_factory=list)
    # Faces and codes: none left visible outside the masks, no code still decodable.
    pictures: PictureDetectors | None = None


def verify_output(encoded: Encoded, writer: FormatAdapter, doc: Document, metadata: MetadataStep, masks: list[Box],
                  policy: Policy, engines: VerifyEngines, detector: PixelDetector,
                  finding_frames: frozenset[int] = frozenset(), text_masks: list[Box] | None = None) -> VerifyOutcome:
    """Check ``encoded`` with the adapter that wrote it, then re-read and re-detect its
    frames (all it gives, or of a long output its sample and every frame in which
    screening found an identifier, ``finding_frames``), and look for faces and codes
    left in them. ``text_masks``: the masks over text, whose neighbourhoods are re-read
    (default: all; a face's or a code's mask has no line of text running on past it).

    Where the adapter proved the masks solid and the output equal to the input outside
    them (``OutputCheck.changed`` not None), only what can have changed is re-read: the
    masks' neighbourhoods, the regions that changed, and the pictures around face and
    code masks (docs/design.md, "What verification proves"). Otherwise, and with
    ``verify.full_reread``, every frame is re-read in full."""
    check = writer.check_output(encoded, doc, metadata, masks, policy)
    residual: list[Finding] = []
    problems = list(check.problems)
    checked = 0
    around = masks if text_masks is None else text_masks
    focused = check.changed is not None and check.masks_solid and not policy.verify.full_reread
    # Frames with further readings keep their reading, so that those readings recognise
    # only what it did not read.
    with_readings = {r.frame for r in check.readings}
    read: dict[int, OcrReading] = {}
    try:
        for i, pixels in check.frames:
            if check.sample is None or i in check.sample or i in finding_frames:
                if focused:
                    reading = focused_reading(pixels, i, around, check.changed or (), engines)
                else:
                    reading = frame_reading(pixels, i, masks, policy, engines, text_masks)
                if i in with_readings:
                    read[i] = reading
                residual += _detected(reading, i, masks, policy, detector, metadata.terms)
                if engines.pictures is not None:
                    if focused:
                        picture_masks = [m for m in masks if m not in around]
                        residual += _pictures_around(pixels, i, masks, picture_masks, policy, engines.pictures, doc.photographic)
                    else:
                        residual += residual_picture_findings(pixels, i, masks, policy, engines.pictures, doc.photographic)
                checked += 1
    except PhiGuardError as exc:  # an output frame that does not decode: nothing is written
        problems.append(f"the output failed its check while decoding: {exc}")
    # Further readings of the output's stored values (a DICOM's value bands): the first
    # verification engine's detector, recognising what the frame's reading did not read;
    # when focused, only around the masks and where the output changed (elsewhere the
    # stored values are the input's, read through the same renderings when screening).
    for r in check.readings:
        if focused:
            h, w = r.pixels.shape[:2]
            regions = neighbourhoods(around, w, h) + list(check.changed or ())
            extra = read_regions(engines.frames, r.pixels, regions, r.frame) if regions else OcrReading()
        else:
            extra = read_new_text(engines.frames[0], r.pixels, r.frame, read.get(r.frame, OcrReading()),
                                  policy.ocr.tile_size, policy.ocr.tile_overlap)
        read[r.frame] = read.get(r.frame, OcrReading()) + extra
        residual += _detected(extra, r.frame, masks, policy, detector, metadata.terms)
    return VerifyOutcome(not problems and not residual, tuple(problems), tuple(residual), checked,
                         "around masks and changes" if focused else "full")


def focused_reading(pixels: np.ndarray, frame: int, around: list[Box], changed: tuple[Box, ...] | list[Box],
                    engines: VerifyEngines) -> OcrReading:
    """One output frame that equals the input outside its solid masks, re-read where
    text can still show: the neighbourhood of every text mask (the rest of a line, a
    sliver of a word) and the regions the encoding changed, by the mask engines and the
    verification engines (two readers, set up differently from the screening pass)."""
    h, w = pixels.shape[:2]
    regions = neighbourhoods(around, w, h) + list(changed)
    if not regions:
        return OcrReading()
    readers = list(engines.masks) + [e for e in engines.frames if all(e is not m for m in engines.masks)]
    return read_regions(readers, pixels, regions, frame)


def _pictures_around(pixels: np.ndarray, frame: int, masks: list[Box], picture_masks: list[Box], policy: Policy,
                     detectors: PictureDetectors, photographic: bool) -> list[Finding]:
    """Faces and codes left around the face and code masks (each grown by its own size
    on every side): the rest of the frame is the input's, already searched."""
    h, w = pixels.shape[:2]
    out: list[Finding] = []
    for x0, y0, x1, y1 in merged_boxes([(max(0, a - (c - a)), max(0, b - (d - b)), min(w, c + (c - a)), min(h, d + (d - b)))
                                   for a, b, c, d in picture_masks]):
        inside = [(a - x0, b - y0, c - x0, d - y0) for a, b, c, d in masks]
        for f in residual_picture_findings(pixels[y0:y1, x0:x1], frame, inside, policy, detectors, photographic):
            out.append(dataclasses.replace(f, boxes=tuple((a + x0, b + y0, c + x0, d + y0) for a, b, c, d in f.boxes)))
    return out


def frame_reading(pixels: np.ndarray, frame: int, masks: list[Box], policy: Policy, engines: VerifyEngines,
                  text_masks: list[Box] | None = None) -> OcrReading:
    """One output frame re-read: whole by the verification engines, the masks'
    neighbourhoods (in frame 0) by the mask engines."""
    reading = read_frame(engines.frames, pixels, frame, policy.ocr.tile_size, policy.ocr.tile_overlap)
    around = masks if text_masks is None else text_masks
    if frame == 0 and engines.masks and around:
        reading = reading + read_regions(engines.masks, pixels, neighbourhoods(around, pixels.shape[1], pixels.shape[0]), frame)
    return reading


def _detected(reading: OcrReading, frame: int, masks: list[Box], policy: Policy, detector: PixelDetector,
              header_terms: tuple[str, ...]) -> list[Finding]:
    return [f for f in detector.detect(reading, policy, header_terms, frame=frame) if not unreadable_inside_masks(f, masks)]


def unreadable_inside_masks(f: Finding, masks: list[Box]) -> bool:
    """An 'unreadable text' region centred inside a solid mask is the OCR detector
    seeing the mask's edge, not text left in the output."""
    if f.kind != "UNREADABLE_TEXT":
        return False
    return all(any(m[0] <= (b[0] + b[2]) / 2 <= m[2] and m[1] <= (b[1] + b[3]) / 2 <= m[3] for m in masks) for b in f.boxes)


@dataclass
class VerificationLog:
    """What the report says about verification, kept up to date round by round."""

    engines: list[str]
    mask_recheck_engines: list[str]
    rounds: int = 0
    passed: bool = False
    frames_checked: int = 0
    scope: str = ""
    problems: list[str] = field(default_factory=list)
    residual_kinds: list[str] = field(default_factory=list)

    def record(self, outcome: VerifyOutcome) -> None:
        """Count one verification round and what it found."""
        self.rounds += 1
        self.passed = outcome.ok
        self.frames_checked = outcome.frames_checked
        self.scope = outcome.scope
        if outcome.problems:
            self.problems = list(outcome.problems)
        elif outcome.residual:
            self.residual_kinds = sorted({f.kind for f in outcome.residual})

    def as_dict(self) -> dict[str, Any]:
        """The report's ``verification`` section."""
        out: dict[str, Any] = {"engines": self.engines, "mask_recheck_engines": self.mask_recheck_engines,
                               "rounds": self.rounds, "passed": self.passed, "frames_checked": self.frames_checked}
        if self.scope:
            out["reread"] = self.scope
        if self.problems:
            out["problems"] = self.problems
        if self.residual_kinds:
            out["residual_kinds"] = self.residual_kinds
        return out
