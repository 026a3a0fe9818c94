"""Masks: solid fill (default), blur and pixelate.

Blur and pixelate are sized from the text height so that no glyph survives:
pixelation blocks are at least half a line high, and the blur radius is larger
than a line. Verification re-reads the result and blocks if anything is still
legible, so a weak mask can never be written.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..policy import RedactPolicy
from ..types import Box


def on_chroma_grid(box: Box) -> Box:
    """``box`` grown to even coordinates. Codecs that store colour at half resolution
    (4:2:0: H.264, HEIF) average each 2x2 block's colour: a mask edge through a block
    mixes the fill with the picture beside it, and the mask is no longer solid."""
    x0, y0, x1, y1 = box
    return x0 & ~1, y0 & ~1, x1 + (x1 & 1), y1 + (y1 & 1)


def pad_boxes(boxes: list[Box], width: int, height: int, policy: RedactPolicy) -> list[Box]:
    """Grow boxes by padding_px plus padding_ratio of the text height vertically
    (ascenders, descenders) and half that horizontally (OCR word boxes are tight
    left and right, and labels such as "DOB:" sit right next to the value)."""
    out = []
    for x0, y0, x1, y1 in boxes:
        h = y1 - y0
        pad_y = int(round(policy.padding_px + policy.padding_ratio * h))
        pad_x = int(round(policy.padding_px + policy.padding_ratio * h / 2))
        out.append((max(0, x0 - pad_x), max(0, y0 - pad_y), min(width, x1 + pad_x), min(height, y1 + pad_y)))
    return out


def redact(image: np.ndarray, boxes: list[Box], policy: RedactPolicy) -> np.ndarray:
    """Return a masked copy; ``boxes`` are already padded."""
    out = image.copy()
    for x0, y0, x1, y1 in boxes:
        if x1 <= x0 or y1 <= y0:
            continue
        region = out[y0:y1, x0:x1]
        if policy.style == "fill":
            color = policy.fill_color if out.ndim == 3 else int(round(np.mean(policy.fill_color)))
            region[...] = color
        elif policy.style == "pixelate":
            block = max(8, int((y1 - y0) * 0.75))
            h, w = region.shape[:2]
            small = cv2.resize(region, (max(1, w // block), max(1, h // block)), interpolation=cv2.INTER_AREA)
            region[...] = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
        elif policy.style == "blur":
            h, w = region.shape[:2]
            k = max(3, (max(h, 12) * 2) | 1)
            blurred = region
            for _ in range(3):
                blurred = cv2.GaussianBlur(blurred, (k, k), 0)
            # Flatten what remains of the strokes towards the local mean, so edge
            # energy that a sharpening filter could recover is gone too.
            mean = blurred.reshape(-1, blurred.shape[-1]).mean(axis=0) if blurred.ndim == 3 else blurred.mean()
            region[...] = (0.3 * blurred + 0.7 * mean).astype(out.dtype)
        else:  # the policy loader rejects unknown styles; this guards direct callers
            raise ValueError(f"unknown redaction style {policy.style!r}")
    return out
