"""Verify stage: re-screen what is about to be written.

The encoded output is decoded again (the same loader and limits as any input),
its container is inventoried (it must carry no metadata that could identify
anyone), filled masks must still be solid, and the pixels are read again by the
verification engines (different settings from the screening pass) and run
through detection. Anything found goes back to redaction; what cannot be fixed
is blocked."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import PhiGuardError
from .load import load_document
from .metadata import inventory_container
from .ocr import OcrEngine, read_frame, read_regions
from .policy import Policy
from .types import Box, Finding


@dataclass(frozen=True)
class VerifyOutcome:
    ok: bool
    problems: tuple[str, ...]
    residual: tuple[Finding, ...]  # PHI still readable in the output pixels


def verify_output(
    encoded: bytes,
    fmt: str,
    expected_shape: tuple[int, ...],
    masks: list[Box],
    policy: Policy,
    engines: list[OcrEngine],
    detector,  # noqa: ANN001 - phi_guard.detect.Detector
    header_terms: tuple[str, ...] = (),
    mask_engines: list[OcrEngine] | None = None,
) -> VerifyOutcome:
    problems: list[str] = []
    try:
        doc = load_document(encoded, policy, "output")
    except PhiGuardError as exc:
        return VerifyOutcome(False, (f"the output does not decode ({exc.code})",), ())
    pixels = doc.frames[0]
    if pixels.shape[:2] != tuple(expected_shape[:2]):
        problems.append("the output's size differs from the screened pixels")
    leftovers = [m for m in inventory_container(encoded, fmt) if m.phi_risk]
    if leftovers:
        problems.append("the output still carries metadata: " + ", ".join(sorted({m.carrier for m in leftovers})))
    if policy.redact.style == "fill":
        lossy = fmt in ("JPEG", "MPO", "HEIF", "AVIF")
        for x0, y0, x1, y1 in masks:
            region = pixels[y0:y1, x0:x1].astype(np.int16)
            if region.size and int(region.max()) - int(region.min()) > (48 if lossy else 0):
                problems.append("a filled mask is not solid in the output")
                break
    residual = residual_findings(pixels, 0, masks, policy, engines, detector, header_terms, mask_engines)
    return VerifyOutcome(not problems and not residual, tuple(problems), tuple(residual))


def residual_findings(
    pixels: np.ndarray, frame: int, masks: list[Box], policy: Policy, engines: list[OcrEngine],
    detector, header_terms: tuple[str, ...], mask_engines: list[OcrEngine] | None,  # noqa: ANN001
) -> list[Finding]:
    """Identifiers still readable in one output frame: the whole frame re-read by the
    verification engines, the masks' neighbourhoods by ``mask_engines``, then detected.
    (Masks apply to every frame; a mask's surroundings are re-read in frame 0.)"""
    reading = read_frame(engines, pixels, frame, policy.ocr.tile_size, policy.ocr.tile_overlap)
    if frame == 0 and mask_engines and masks:
        reading = reading + read_regions(mask_engines, pixels, mask_neighbourhoods(masks, pixels.shape[1], pixels.shape[0]), frame)
    return [f for f in detector.detect(reading, policy, header_terms, frame=frame) if not unreadable_inside_masks(f, masks)]


def unreadable_inside_masks(f: Finding, masks: list[Box]) -> bool:
    """An 'unreadable text' region centred inside a solid mask is the OCR detector
    seeing the mask's edge, not text left in the output."""
    if f.kind != "UNREADABLE_TEXT":
        return False
    return all(any(m[0] <= (b[0] + b[2]) / 2 <= m[2] and m[1] <= (b[1] + b[3]) / 2 <= m[3] for m in masks) for b in f.boxes)


def mask_neighbourhoods(masks: list[Box], width: int, height: int) -> list[Box]:
    """Regions around the masks, wide enough to hold the rest of a line of text,
    merged where they overlap (one read per cluster of masks)."""
    grown = []
    for x0, y0, x1, y1 in masks:
        h = max(y1 - y0, 8)
        grown.append([max(0, x0 - 4 * h), max(0, y0 - h), min(width, x1 + 4 * h), min(height, y1 + h)])
    merged: list[list[int]] = []
    for g in sorted(grown):
        for m in merged:
            if g[0] <= m[2] and m[0] <= g[2] and g[1] <= m[3] and m[1] <= g[3]:
                m[0], m[1], m[2], m[3] = min(m[0], g[0]), min(m[1], g[1]), max(m[2], g[2]), max(m[3], g[3])
                break
        else:
            merged.append(g)
    return [tuple(m) for m in merged]  # type: ignore[misc]
