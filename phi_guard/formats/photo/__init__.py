"""The photo adapter: JPEG (and MPO), PNG, TIFF, WebP, BMP, GIF, HEIF and AVIF.

Nothing of the input container reaches the output: its metadata is inventoried for
the report, and the (masked) first frame is encoded into a fresh container."""
from __future__ import annotations

import dataclasses

import numpy as np

from ...errors import PhiGuardError, UsageError
from ...policy import Policy
from ...redact import on_chroma_grid, redact
from ...types import Box
from ..base import (
    Document,
    Encoded,
    MetadataStep,
    OutputCheck,
    TextFinder,
    changed_outside_masks,
    frame_renderings,
    metadata_findings,
    pixel_difference,
)
from .decode import load_photo, scaled_to
from .encode import WRITABLE, encode_image
from .metadata import classify, inventory_container

_LOSSY = ("JPEG", "MPO", "HEIF", "AVIF")
# Outputs that keep colour at half resolution (HEIF's 4:2:0): masks are laid on its
# 2x2 grid, one pixel wider at most. (JPEG and AVIF are written with full colour.)
_HALF_CHROMA = ("HEIF",)
# A lossy output's values differ from the input's by up to this much without any change
# of content (codec noise, worst at sharp edges); a larger difference is re-read.
CODEC_NOISE = 40
# Formats written as another by default: an MPO's first image as a JPEG, a GIF's first
# frame as a PNG (no 256-colour palette).
_DEFAULT_OUTPUT = {"MPO": "JPEG", "GIF": "PNG"}


class PhotoAdapter:
    """Opens, strips, encodes and checks photos and screenshots."""

    formats: tuple[str, ...] = ("JPEG", "MPO", "PNG", "TIFF", "WEBP", "BMP", "GIF", "HEIF", "AVIF")

    def accepts(self, data: bytes, fmt: str) -> bool:
        """Every still photo (multi-frame ones go to the animated adapter, asked first)."""
        return True

    def open(self, data: bytes, name: str, policy: Policy) -> Document:
        """Decode the first frame as displayed, scaled down to ``output.max_side``;
        raises an InputError subclass. (Scaled here, not in the decoder: verification
        decodes outputs, a DICOM's exported frame too, with the same decoder.)"""
        doc = load_photo(data, policy, name)
        notes = list(doc.notes)
        frame = scaled_to(doc.frames[0], policy.output.max_side, notes)
        if frame is doc.frames[0]:
            return doc
        return dataclasses.replace(doc, frames=(frame,), notes=tuple(notes), renderings=frame_renderings((frame,)))

    def output_format(self, doc: Document, requested: str | None) -> str:
        """The requested format, or the input's (MPO as JPEG, GIF as PNG). Raises UsageError for DICOM."""
        if requested == "DICOM":
            raise UsageError(f"{doc.source_name}: is a {doc.format} image; it can only be written as an image, not as DICOM")
        return requested or _DEFAULT_OUTPUT.get(doc.format, doc.format)

    def strip_metadata(self, doc: Document, policy: Policy, find_in_text: TextFinder) -> MetadataStep:
        """Inventory every carrier of the container; none is carried to the output."""
        items = tuple(inventory_container(doc.data, doc.format))
        return MetadataStep(items=items, findings=metadata_findings(items, classify))

    def encode(self, doc: Document, metadata: MetadataStep, masks: list[Box], policy: Policy, out_fmt: str) -> Encoded:
        """Mask the first frame in the policy's style and encode it as ``out_fmt``."""
        if not doc.has_pixels:
            raise UsageError(f"{doc.source_name}: has no pixel data; only a DICOM output (.dcm) can be written")
        if out_fmt in _HALF_CHROMA:
            masks = [on_chroma_grid(b) for b in masks]
        cleaned = redact(doc.frames[0], masks, policy.redact) if masks else doc.frames[0]
        note = f"first of {len(doc.frames)} frames exported" if len(doc.frames) > 1 else ""
        return Encoded(encode_image(cleaned, out_fmt, policy), out_fmt, note)

    def check_output(self, encoded: Encoded, doc: Document, metadata: MetadataStep, masks: list[Box],
                     policy: Policy) -> OutputCheck:
        """Decode the output with the input limits, check its size, container and masks."""
        try:
            out = load_photo(encoded.data, policy, "output")
        except PhiGuardError as exc:
            return OutputCheck((f"the output does not decode ({exc.code})",))
        problems: list[str] = []
        pixels = out.frames[0]
        if pixels.shape[:2] != doc.frames[0].shape[:2]:
            problems.append("the output's size differs from the screened pixels")
        leftovers = [m for m in inventory_container(encoded.data, encoded.format) if m.phi_risk]
        if leftovers:
            problems.append("the output still carries metadata: " + ", ".join(sorted({m.carrier for m in leftovers})))
        solid = policy.redact.style == "fill"
        if solid:
            for x0, y0, x1, y1 in masks:
                region = pixels[y0:y1, x0:x1].astype(np.int16)
                if region.size and int(region.max()) - int(region.min()) > (48 if encoded.format in _LOSSY else 0):
                    problems.append("a filled mask is not solid in the output")
                    solid = False
                    break
        changed = changed_outside_masks(pixel_difference(pixels, doc.frames[0]), masks,
                                        CODEC_NOISE if encoded.format in _LOSSY else 0)
        return OutputCheck(tuple(problems), ((0, pixels),), masks_solid=solid, changed=changed)


__all__ = ["WRITABLE", "PhotoAdapter"]
