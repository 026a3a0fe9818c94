"""Masks that follow the ink: each word's mask is fitted to the rows its glyphs occupy,
with padding proportional to the glyph height, not to the text detector's box (often
twice the glyph height), so a marker one line below a masked value stays readable.

Where the glyphs cannot be told from their background (no contrast in the box, ink
running on past the search window, a finding with no words such as unreadable text),
the box is padded as it was (:func:`.styles.pad_boxes`). Verification re-reads the
output around every mask, so a sliver left visible goes back to redaction."""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ..policy import RedactPolicy
from ..types import Box, Finding, Rendering, Where
from .styles import pad_boxes

_MIN_CONTRAST = 24  # grey levels between glyph and background below which no ink is found
_ROW_SHARE = 0.12  # of the busiest row's ink, below which a row holds no glyph
_NOT_FITTED = frozenset({"UNREADABLE_TEXT"})  # regions, not words: their extent is unknown


def ink_rows(gray: np.ndarray, box: Box) -> tuple[int, int] | None:
    """The rows (y0, y1 exclusive) of the glyphs of the text in ``box`` of an 8-bit grey
    image, searched half a box height above and below it; None when they cannot be found."""
    x0, y0, x1, y1 = box
    H = gray.shape[0]
    h = y1 - y0
    if h < 4 or x1 - x0 < 2:
        return None
    core = gray[y0:y1, x0:x1]
    if core.size == 0 or int(core.max()) - int(core.min()) < _MIN_CONTRAST:
        return None
    t, _ = cv2.threshold(np.ascontiguousarray(core), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    bright = float((core > t).mean()) < 0.5  # glyphs are the minority of a word's box
    wy0, wy1 = max(0, y0 - h // 2), min(H, y1 + h // 2)
    win = gray[wy0:wy1, x0:x1]
    span = _ink_run(win > t if bright else win <= t, y0 - wy0, y1 - wy0, x1 - x0, wy0 > 0, wy1 < H)
    if span is None:
        # Three levels in the box (background, anatomy, glyphs): the first split put the
        # anatomy with the glyphs. Glyphs are stamped at the extreme, so split the glyph
        # side once more.
        side = core[core > t] if bright else core[core <= t]
        if side.size and int(side.max()) - int(side.min()) >= _MIN_CONTRAST:
            t2, _ = cv2.threshold(np.ascontiguousarray(side.reshape(1, -1)), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
            span = _ink_run(win > t2 if bright else win <= t2, y0 - wy0, y1 - wy0, x1 - x0, wy0 > 0, wy1 < H)
    return None if span is None else (wy0 + span[0], wy0 + span[1])


def _ink_run(ink: np.ndarray, b0: int, b1: int, width: int, more_above: bool, more_below: bool) -> tuple[int, int] | None:
    """The run of glyph rows (start, end exclusive) of an ink mask through the middle of
    the box's rows ``b0:b1``; None when there is none or it runs out of the mask."""
    counts = ink.sum(axis=1)
    h = b1 - b0
    # A row is glyph ink when it holds a fair share of the busiest row inside the box:
    # a few stray pixels (noise, compression) must not bridge the gap to the next line.
    peak = int(counts[b0:b1].max())
    rows = counts >= max(1, int(0.02 * width), int(_ROW_SHARE * peak))
    # The run of ink rows through the box's middle band (gaps of a few rows allowed: the
    # dot of an i, the bar of a slashed zero).
    inside = [i for i in range(b0, b1) if rows[i]]
    if not inside:
        return None
    mid = (b0 + b1) / 2
    seed = min(inside, key=lambda i: abs(i - mid))
    if abs(seed - mid) > h / 4:
        return None  # no ink through the box's middle: this rendering does not show its text
    gap = max(2, int(0.15 * h))
    top = bottom = seed
    misses = 0
    i = seed - 1
    while i >= 0 and misses <= gap:
        if rows[i]:
            top, misses = i, 0
        else:
            misses += 1
        i -= 1
    misses = 0
    i = seed + 1
    while i < len(rows) and misses <= gap:
        if rows[i]:
            bottom, misses = i, 0
        else:
            misses += 1
        i += 1
    if (top == 0 and more_above) or (bottom == len(rows) - 1 and more_below):
        return None  # ink runs on past the window: not a line of text we can delimit
    return top, bottom + 1


def _glyph_rows(box: Box, grays: Sequence[np.ndarray], widest: bool) -> tuple[int, int] | None:
    """The glyph rows of ``box`` over the renderings that show its text: the same glyphs
    lie in the same rows in each, so runs much taller than the tightest one hold texture
    beside them (anatomy in a min-max rendering) and are left out; the rest are joined.
    ``widest``: every rendering's run counts (after a failed verification)."""
    found = [s for s in (ink_rows(g, box) for g in grays) if s is not None]
    if not found:
        return None
    tightest = min(s[1] - s[0] for s in found)
    kept = found if widest else [s for s in found if s[1] - s[0] <= _CONSISTENT_HEIGHT * tightest]
    return min(s[0] for s in kept), max(s[1] for s in kept)


# A rendering's run of glyph rows up to this many times the tightest is the same glyphs.
_CONSISTENT_HEIGHT = 1.3


def _same_line(a: Box, b: Box) -> bool:
    """Boxes overlapping by at least half the lower one's height, and horizontally."""
    overlap = min(a[3], b[3]) - max(a[1], b[1])
    return overlap >= 0.5 * min(a[3] - a[1], b[3] - b[1]) and min(a[2], b[2]) > max(a[0], b[0])


def fit_masks(findings: Sequence[Finding], renderings: Sequence[Rendering], width: int, height: int,
              policy: RedactPolicy, widest: bool = False) -> list[Box]:
    """One mask per box of ``findings`` (in the frames' pixels), each fitted to the ink it
    holds in the renderings of its finding's frame; padded boxes where no ink is found.
    ``widest``: every rendering's glyph rows count (a round after a failed verification)."""
    by_frame: dict[int, list[np.ndarray]] = {}
    for r in renderings:
        if r.where is Where.PIXELS and r.pixels.shape[:2] == (height, width):
            gray = r.pixels if r.pixels.ndim == 2 else cv2.cvtColor(r.pixels, cv2.COLOR_RGB2GRAY)
            by_frame.setdefault(r.frame, []).append(gray)
    rows: dict[tuple[int, Box], tuple[int, int] | None] = {}
    for f in findings:
        grays = by_frame.get(f.frame) or next(iter(by_frame.values()), [])
        for box in f.boxes:
            if f.kind not in _NOT_FITTED and f.level and (f.frame, box) not in rows:
                rows[(f.frame, box)] = _glyph_rows(box, grays, widest)
    masks: list[Box] = []
    for f in findings:
        for box in f.boxes:
            # A box with no delimitable ink (texture runs through it) takes the glyph rows
            # found for another box over the same words (another engine's, or another
            # finding's: a date that is both a birth date and a header term).
            # A slanted word's glyphs fill its box diagonally: the box is masked whole.
            span = None if f.kind in _NOT_FITTED or not f.level else rows[(f.frame, box)] or next(
                (s for (fr, b), s in rows.items() if s is not None and fr == f.frame and _same_line(b, box)), None)
            if span is None:
                masks += pad_boxes([box], width, height, policy)
                continue
            gy0, gy1 = span
            glyph_h = gy1 - gy0
            pad_y = int(round(policy.padding_px + policy.padding_ratio * glyph_h))
            pad_x = int(round(policy.padding_px + policy.padding_ratio * glyph_h / 2))
            masks.append((max(0, box[0] - pad_x), max(0, gy0 - pad_y), min(width, box[2] + pad_x), min(height, gy1 + pad_y)))
    return masks


def mask_boxes(findings: Sequence[Finding], renderings: Sequence[Rendering], width: int, height: int,
               policy: RedactPolicy, widest: bool = False) -> tuple[list[Box], list[Box]]:
    """The masks for ``findings``: (every mask, the text masks among them). Text masks are
    fitted to the glyphs' ink (:func:`fit_masks`, ``widest`` after a failed verification);
    faces and codes come padded to the whole object and are masked as found."""
    text = fit_masks([f for f in findings if not f.whole_object], renderings, width, height, policy, widest)
    return text + [b for f in findings if f.whole_object for b in f.boxes], text
