"""Detection over what the OCR read: one detector pass per rendering, findings mapped
to the frame (or the plane) each rendering shows. Light on imports (no Presidio)."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Protocol

from ..ocr.base import OcrReading
from ..policy import Policy
from ..types import Finding, Rendering, Where
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
