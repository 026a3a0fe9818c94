"""Renderings of a frame that make burned-in text easier for Tesseract to read.

Tesseract is trained on dark text on a light, flat page. Burned-in overlays are
the opposite: light (or dark) text on a textured, noisy medical image. A white
top-hat keeps only small bright structures (the glyphs) and flattens the
anatomy behind them; inverting gives dark text on white. The black top-hat does
the same for dark text. Small text is upscaled first, because Tesseract reads
glyphs of about 20-30 px height best.
"""
from __future__ import annotations

import cv2
import numpy as np


def to_gray(image: np.ndarray) -> np.ndarray:
    """8-bit grey of a grey or RGB image."""
    if image.ndim == 2:
        return image
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def upscale_factor(gray: np.ndarray, target_long_side: int = 1000) -> float:
    """Upscale small images (small text) up to 2x; never shrink. Large images are
    read as they are: RapidOCR's detector covers small text on them (in tiles)."""
    long_side = max(gray.shape[:2])
    return float(min(2.0, max(1.0, target_long_side / max(long_side, 1))))


def _resize(gray: np.ndarray, factor: float) -> np.ndarray:
    if factor == 1.0:
        return gray
    return cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)


def tophat(gray: np.ndarray, bright_text: bool, kernel: int = 25) -> np.ndarray:
    """Keep text-sized structures, flatten the background, return dark text on white."""
    se = cv2.getStructuringElement(cv2.MORPH_RECT, (kernel, kernel))
    op = cv2.MORPH_TOPHAT if bright_text else cv2.MORPH_BLACKHAT
    th = cv2.morphologyEx(gray, op, se)
    th = cv2.normalize(th, np.empty_like(th), 0, 255, cv2.NORM_MINMAX)
    return np.asarray(255 - th)


def render_passes(image: np.ndarray, names: tuple[str, ...]) -> list[tuple[str, np.ndarray, float]]:
    """Return (name, rendering, scale) for each named pass; boxes are divided by scale."""
    gray = to_gray(image)
    factor = upscale_factor(gray)
    big = _resize(gray, factor)
    kernel = max(15, int(25 * factor))  # glyph strokes of upscaled text stay under it
    out: list[tuple[str, np.ndarray, float]] = []
    for name in names:
        if name == "gray":
            out.append((name, big, factor))
        elif name == "tophat-white":
            out.append((name, tophat(big, bright_text=True, kernel=kernel), factor))
        elif name == "tophat-black":
            out.append((name, tophat(big, bright_text=False, kernel=kernel), factor))
        elif name == "gray-dark-text":
            # Grey with the image's polarity made dark-on-light (a dark medical image
            # with light overlay text is inverted), the way Tesseract reads best.
            out.append((name, 255 - big if float(big.mean()) < 128 else big, factor))
        else:
            raise ValueError(f"unknown preprocessing pass '{name}'")
    return out
