"""Readings of a DICOM frame beyond its stored window.

A viewer can re-window any stored value, so text stamped at a value the stored window
maps to black or white (a CT's overlay at raw 0-255 under a soft-tissue window, text at
the 16-bit maximum over bone in a bone window, text at 1-3 over a background of 0) is in
the output for anyone to see. Each frame is therefore read through a few more
renderings, chosen from its stored values, but only where they show something the
stored window does not:

- ``min-max``: the full stored range, when the window clips much of the frame;
- ``bands``: stored values used by many more pixels than their neighbours (text is
  stamped at one value) whose pixels form glyph-sized components that the stored
  window shows with little contrast; all such values of a frame drawn black on white
  in one rendering;
- ``colour``: the saturation of a colour frame (yellow or green text over grey anatomy),
  when coloured glyph-sized components have little luminance contrast.

The same :class:`ReadingSpec` is applied to the output's stored pixels at verification,
so text outside the window is verified in the band where it was.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ...types import Rendering
from ..base import Pixels, distinct_frames

# A value (run) is a band candidate when it holds this many pixels and this many times the
# median count of its neighbouring values (text adds hundreds of pixels at one value).
_BAND_MIN_PIXELS = 40
_BAND_SPIKE_RATIO = 4.0
# Integer ranges wider than this are not histogrammed value by value (only min and max).
_MAX_HISTOGRAM_RANGE = 1 << 17
# Band candidates tried per frame at most (each costs a mask and a labelling).
_MAX_CANDIDATES = 8
# Glyph-sized connected components (pixels).
_GLYPH_MIN_HEIGHT, _GLYPH_MAX_HEIGHT = 5, 120
_GLYPH_MIN_AREA = 8
_MIN_GLYPHS = 3
# A glyph the window shows with less contrast than this (8-bit levels) to the pixels
# around it is hidden by the window.
_VISIBLE_CONTRAST = 40
# Read a band when at least this share of its glyphs is hidden.
_HIDDEN_SHARE = 0.2
# Saturation (max - min channel) from which a colour pixel counts as coloured text.
_COLOURED = 60
# Value bands per frame at most (those with the most glyphs).
MAX_BANDS = 4
# The min-max rendering is read when the window clips this share of the pixels and the
# two renderings differ by this much on average.
_CLIPPED_SHARE = 0.05
_MINMAX_DIFFERENCE = 8.0


@dataclass(frozen=True)
class ReadingSpec:
    """One extra reading of a frame: ``kind`` min-max, bands (the stored values in any of
    ``bands``, (lo, hi) inclusive, drawn black on white in one rendering) or colour."""

    kind: str
    bands: tuple[tuple[float, float], ...] = ()

    @property
    def label(self) -> str:
        """A short name for reports and debugging (no pixel values of the patient)."""
        return self.kind


def plan_readings(native: np.ndarray, displayed: Pixels, photometric: str) -> tuple[ReadingSpec, ...]:
    """The extra readings worth making of one stored frame (``native``, as decoded) whose
    stored-window rendering is ``displayed``."""
    if native.ndim == 3:
        return (ReadingSpec("colour"),) if _colour_text_hidden(native, displayed) else ()
    scored = []
    for lo, hi in _band_candidates(native):
        mask = (native >= lo) & (native <= hi)
        glyphs = _glyph_components(mask)
        if len(glyphs) < _MIN_GLYPHS:
            continue
        hidden = _hidden_share(glyphs, mask, displayed)
        if hidden >= _HIDDEN_SHARE:
            scored.append((len(glyphs), (float(lo), float(hi))))
    scored.sort(key=lambda t: -t[0])
    # The bands in one rendering (one detector pass; text at different values lies in
    # different places), read first: their text is crisp; the min-max rendering then
    # recognises only what no band showed (text spread over many values, e.g. after
    # lossy compression).
    specs = [ReadingSpec("bands", tuple(sorted(b for _, b in scored[:MAX_BANDS])))] if scored else []
    minmax = render_reading(ReadingSpec("min-max"), native, photometric)
    clipped = float(np.mean((displayed == 0) | (displayed == 255)))
    if clipped >= _CLIPPED_SHARE and float(np.mean(np.abs(minmax.astype(np.int16) - displayed))) >= _MINMAX_DIFFERENCE:
        specs.append(ReadingSpec("min-max"))
    return tuple(specs)


def render_reading(spec: ReadingSpec, native: np.ndarray, photometric: str) -> Pixels:
    """``spec`` applied to one stored frame: 8-bit grey, text dark on light where it can be."""
    if spec.kind == "colour":
        sat = native.max(axis=2).astype(np.int16) - native.min(axis=2).astype(np.int16)
        shown: Pixels = (255 - np.clip((sat - 20) * 4, 0, 255)).astype(np.uint8)
        return shown
    if spec.kind == "bands":
        inside = np.zeros(native.shape, bool)
        for lo, hi in spec.bands:
            inside |= (native >= lo) & (native <= hi)
        mask = inside.astype(np.uint8)
        # Stray pixels at the value (noise in the anatomy) would speckle the reading; tiny
        # parts next to larger strokes stay (a colon's dots: "15:41" is a time).
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        area = stats[:, cv2.CC_STAT_AREA]
        strokes = ((area >= _GLYPH_MIN_AREA) & (np.arange(n) > 0))[labels].astype(np.uint8)
        near = cv2.dilate(strokes, np.ones((7, 7), np.uint8)) > 0
        keep = (((area >= 3) & (np.arange(n) > 0))[labels]) | (near & (mask > 0))
        return np.where(keep, 0, 255).astype(np.uint8)
    values = native.astype(np.float64)
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        out = np.zeros(values.shape, np.uint8)
    else:
        out = ((values - lo) * (255.0 / (hi - lo))).astype(np.uint8)
    return (255 - out) if photometric == "MONOCHROME1" else out


def _band_candidates(native: np.ndarray) -> list[tuple[int, int]]:
    """Stored values used by many more pixels than their neighbours (text is stamped at
    one value), most used first, at most :data:`_MAX_CANDIDATES`; for a wide range only
    the extreme values."""
    if not np.issubdtype(native.dtype, np.integer):
        return []
    lo, hi = int(native.min()), int(native.max())
    if hi - lo > _MAX_HISTOGRAM_RANGE:
        return [(lo, lo), (hi, hi)]
    counts = np.bincount((native.astype(np.int64) - lo).ravel(), minlength=hi - lo + 1)
    spikes = _spikes(counts)
    if len(spikes) > _MAX_CANDIDATES:
        # A quantised histogram (e.g. 8-bit data shifted into 16 bits): every used value
        # looks like a spike among empty neighbours; compare used values with each other.
        used = np.nonzero(counts)[0]
        spikes = used[_spikes(counts[used])]
    spikes = spikes[np.argsort(-counts[spikes], kind="stable")][:_MAX_CANDIDATES]
    return [(int(v) + lo, int(v) + lo) for v in spikes]


def _spikes(counts: np.ndarray) -> np.ndarray:
    """Indices whose count is at least :data:`_BAND_MIN_PIXELS` and
    :data:`_BAND_SPIKE_RATIO` times the median of the three counts on either side."""
    n = len(counts)
    padded = np.pad(counts, 3)
    neighbours = np.stack([padded[3 + k : 3 + k + n] for k in (-3, -2, -1, 1, 2, 3)])
    median = np.median(neighbours, axis=0)
    return np.nonzero((counts >= _BAND_MIN_PIXELS) & (counts >= _BAND_SPIKE_RATIO * median + 20))[0]


def _glyph_components(mask: np.ndarray) -> list[tuple[int, int, int, int]]:
    """(x, y, w, h) of the mask's glyph-sized connected components (at most 200, spread
    over the image)."""
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    x, y, w, h, area = (stats[1:, k] for k in range(5))
    ok = ((h >= _GLYPH_MIN_HEIGHT) & (h <= _GLYPH_MAX_HEIGHT) & (w <= 3 * h + 4) & (area >= _GLYPH_MIN_AREA)
          & (area <= 0.9 * w * h))
    idx = np.nonzero(ok)[0]
    if len(idx) > 200:
        idx = idx[np.linspace(0, len(idx) - 1, 200).astype(int)]
    return [(int(x[i]), int(y[i]), int(w[i]), int(h[i])) for i in idx]


def _hidden_share(glyphs: list[tuple[int, int, int, int]], mask: np.ndarray, displayed: Pixels) -> float:
    """The share of ``glyphs`` the window shows with less than :data:`_VISIBLE_CONTRAST`
    against the non-band pixels around them."""
    grey = displayed if displayed.ndim == 2 else cv2.cvtColor(displayed, cv2.COLOR_RGB2GRAY)
    h, w = mask.shape
    hidden = 0
    for x, y, gw, gh in glyphs:
        x0, y0, x1, y1 = max(0, x - 2), max(0, y - 2), min(w, x + gw + 2), min(h, y + gh + 2)
        m = mask[y0:y1, x0:x1]
        if m.all():
            continue
        crop = grey[y0:y1, x0:x1].astype(np.float32)
        if abs(float(crop[m].mean()) - float(crop[~m].mean())) < _VISIBLE_CONTRAST:
            hidden += 1
    return hidden / max(len(glyphs), 1)


def _colour_text_hidden(native: np.ndarray, displayed: Pixels) -> bool:
    """True when coloured glyph-sized components have little luminance contrast."""
    rgb = native if native.dtype == np.uint8 else displayed
    if rgb.ndim != 3:
        return False
    sat = rgb.max(axis=2).astype(np.int16) - rgb.min(axis=2).astype(np.int16)
    mask = sat >= _COLOURED
    if int(mask.sum()) < _BAND_MIN_PIXELS:
        return False
    glyphs = _glyph_components(mask)
    return len(glyphs) >= _MIN_GLYPHS and _hidden_share(glyphs, mask, displayed) >= _HIDDEN_SHARE



# Distinct frames of a multi-frame file planned at most (a cine loop repeats its overlay).
MAX_PLANNED_FRAMES = 8


def plan_frames(native: np.ndarray, displayed: tuple[Pixels, ...], photometric: str) -> tuple[tuple[int, ReadingSpec], ...]:
    """(frame, spec) for the extra readings of a file's frames: those of each distinct
    frame (the first :data:`MAX_PLANNED_FRAMES`), a reading already planned for an
    earlier frame left out (cine frames repeat the overlay at the same values)."""
    planned: list[tuple[int, ReadingSpec]] = []
    for n, (i, _) in enumerate(distinct_frames(displayed)):
        if n >= MAX_PLANNED_FRAMES:
            break
        seen = {s for _, s in planned}
        planned += [(i, s) for s in plan_readings(native[i], displayed[i], photometric) if s not in seen]
    return tuple(planned)


def extra_renderings(native: np.ndarray, specs: tuple[tuple[int, ReadingSpec], ...], photometric: str) -> tuple[Rendering, ...]:
    """The renderings of ``specs`` over stored frames ``native`` (the input's, or an
    output's at verification): read after their frame's own rendering, by the first
    engine's text detector, with only text it has not read yet recognised."""
    return tuple(Rendering(render_reading(s, native[i], photometric), i, label=s.label, supplementary=True)
                 for i, s in specs)
