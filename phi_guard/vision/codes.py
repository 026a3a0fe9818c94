"""Barcodes and 2-D codes in photos (wristbands, specimen and chart labels, badges),
read with zxing-cpp: Code 128, Code 39/93, EAN/UPC, Codabar, ITF, DataBar, QR (and
Micro/rMQR), Data Matrix, PDF417, Aztec, MaxiCode.

A wristband's code encodes the MRN, so every code is masked, decoded or not. Three
steps, cheapest first:

1. zxing-cpp on the whole grey image (it also tries 90-degree turns, downscaled
   copies and inverted print);
2. a finder for code-like regions that zxing missed (1-D: many parallel,
   high-contrast bars; 2-D: a square patch of dark and light modules), each cropped,
   turned so its bars stand upright, enlarged and binarised, and read again: codes at
   an angle or small are read there;
3. a region that still does not decode is reported as an undecoded code (masked:
   somebody else's reader may decode what ours could not).

The decoded value never leaves this module except as its *kind* (digits, MRN-like,
URL, text, binary); ``Code.value`` is kept in memory for verification only.
"""
from __future__ import annotations

import copy
import math
import re
import time
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..errors import EngineError
from ..policy import CodePolicy
from ..types import Box, iou
from .faces import as_rgb8, covered_fraction

if TYPE_CHECKING:  # pragma: no cover
    from zxingcpp import Barcode

LINEAR = "linear"
MATRIX = "matrix"
# A code counts as masked in verification when this much of its box is under masks.
MASKED_FRACTION = 0.6
# The finder works on a copy at most this large (long side), for a bounded cost.
FINDER_SIDE = 1280

_URL = re.compile(r"^(https?|ftp)://|^www\.|^[a-z][a-z0-9+.-]*:(//)?\S+\.\S+", re.IGNORECASE)
_MRN_LABEL = re.compile(r"\b(MRN|PID|MR|ID|UR|NHS|ACC|ACCESSION|PATIENT|PT|CHART|ENC|VISIT)\b\W*\d", re.IGNORECASE)
_MRN_LIKE = re.compile(r"^[A-Z]{0,4}[-/ ]?\d{5,}[-/ ]?[A-Z0-9]{0,3}$", re.IGNORECASE)


@dataclass(frozen=True)
class Code:
    """One code: ``box`` is what gets masked (padded; a 1-D code's box also covers the
    digits printed above or below it); ``symbology`` is zxing's name ("Code128",
    "QRCode", ...) or "unknown-1d"/"unknown-2d" for a region nothing decoded."""

    box: Box
    symbology: str
    kind: str  # digits | mrn-like | url | text | binary | undecoded
    decoded: bool
    found_by: str  # "zxing", "zxing:region", "finder"
    linear: bool = False  # a 1-D (bar) code
    # The decoded content, for verification in memory only: never in a report.
    value: str = field(default="", repr=False, compare=False)


@dataclass(frozen=True)
class CodeSearch:
    codes: tuple[Code, ...]
    seconds: float


def content_kind(text: str, binary: bool = False) -> str:
    """What a decoded value looks like, for the report (the value itself is PHI)."""
    t = text.strip()
    if binary:
        return "binary"
    if not t:
        return "empty"
    if t.isdigit():
        return "digits"
    if _URL.search(t):
        return "url"
    if _MRN_LABEL.search(t) or _MRN_LIKE.match(t):
        return "mrn-like"
    return "text"


def _zxing() -> ModuleType:
    try:
        import zxingcpp
    except ImportError as exc:  # pragma: no cover - a broken installation
        raise EngineError("the barcode reader (zxing-cpp) is not installed") from exc
    return zxingcpp


def _quad(barcode: Barcode) -> np.ndarray:
    p = barcode.position
    return np.array([(q.x, q.y) for q in (p.top_left, p.top_right, p.bottom_right, p.bottom_left)], dtype=np.float64)


def _is_linear(barcode: Barcode) -> bool:
    z = _zxing()
    try:
        return bool(barcode.format in z.BarcodeFormat.AllLinear)
    except TypeError:  # pragma: no cover - older zxing-cpp without set membership
        return barcode.format.name not in {"QRCode", "MicroQRCode", "RMQRCode", "DataMatrix", "Aztec", "PDF417", "MaxiCode"}


def _padded_box(quad: np.ndarray, linear: bool, padding: float, width: int, height: int) -> Box:
    """Grow the code's quadrilateral in its own frame, then take its bounding box.
    A 1-D code grows by 60 % of its bar height across (the digits printed under or
    over the bars repeat the encoded number) and every code by ``padding`` times its
    shorter side (the quiet zone)."""
    tl, tr, br, bl = quad
    along = (tr - tl + br - bl) / 2
    across = (bl - tl + br - tr) / 2
    la, lc = float(np.hypot(*along)), float(np.hypot(*across))
    ua = along / la if la > 1e-6 else np.array([1.0, 0.0])
    uc = across / lc if lc > 1e-6 else np.array([-ua[1], ua[0]])
    if lc < 2 or (linear and lc < 0.25 * la):
        # zxing's box of a 1-D code may span only the scan lines it decoded: bars are
        # at least a quarter of the code's length high (the finder's region, when
        # there is one, gives the real extent).
        lc = max(lc, 0.25 * la)
        centre = (tl + tr + br + bl) / 4
        tl, tr = centre - ua * la / 2 - uc * lc / 2, centre + ua * la / 2 - uc * lc / 2
        bl, br = centre - ua * la / 2 + uc * lc / 2, centre + ua * la / 2 + uc * lc / 2
    pad = max(4.0, padding * min(la, lc))
    grow_c = pad + (0.6 * lc if linear else 0.0)
    pts = np.array([tl - ua * pad - uc * grow_c, tr + ua * pad - uc * grow_c,
                    br + ua * pad + uc * grow_c, bl - ua * pad + uc * grow_c])
    x0, y0 = np.floor(pts.min(axis=0)).astype(int)
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int)
    return (max(0, int(x0)), max(0, int(y0)), min(width, int(x1)), min(height, int(y1)))


@dataclass(frozen=True)
class _Region:
    """A code-like region from the finder, in image coordinates. ``turn`` is the
    rotation (degrees, as cv2.getRotationMatrix2D takes it) that makes a 1-D code's
    bars vertical (its gradient horizontal)."""

    box: Box
    turn: float
    linear: bool


class CodeDetector:
    """Finds and reads barcodes and 2-D codes. Stateless apart from its policy:
    zxing-cpp needs no model, so there is nothing to load."""

    name = "zxing-cpp"

    def __init__(self, policy: CodePolicy | None = None) -> None:
        self.policy = policy or CodePolicy()

    def version(self) -> str:
        from importlib.metadata import version

        return f"zxing-cpp {version('zxing-cpp')}"

    def with_policy(self, policy: CodePolicy) -> CodeDetector:
        """This detector under another policy (a screen's policy is passed per image)."""
        if policy == self.policy:
            return self
        other = copy.copy(self)
        other.policy = policy
        return other

    # -- the search ------------------------------------------------------------------
    def search(self, image: np.ndarray) -> CodeSearch:
        start = time.perf_counter()
        grey = cv2.cvtColor(as_rgb8(image), cv2.COLOR_RGB2GRAY)
        h, w = grey.shape
        codes = [self._code(b, None, w, h, "zxing") for b in self._read(grey)]
        for region in find_code_regions(grey):
            rbox = region.box
            touching = [n for n, c in enumerate(codes) if c.linear and region.linear and _intersects(rbox, c.box)]
            if touching:
                # zxing's box of a 1-D code spans only the scan lines it decoded (often
                # a tenth of the bar height): the finder's region gives the bars' extent.
                for n in touching:
                    codes[n] = replace(codes[n], box=_union(codes[n].box, _pad_region(region, self.policy.padding, w, h)))
                continue
            if covered_fraction(rbox, [c.box for c in codes]) > 0.5:
                continue  # a code already read
            read = self._read_region(grey, region)
            if read:
                read = [replace(c, box=_union(c.box, _pad_region(region, self.policy.padding, w, h))) if c.linear else c for c in read]
                codes.extend(c for c in read if not any(iou(c.box, k.box) > 0.3 for k in codes))
            elif self.policy.mask_undecoded:
                codes.append(Code(_pad_region(region, self.policy.padding, w, h), "unknown-1d" if region.linear else "unknown-2d",
                                  "undecoded", False, "finder", region.linear))
        return CodeSearch(tuple(codes), time.perf_counter() - start)

    def detect(self, image: np.ndarray) -> list[Code]:
        return list(self.search(image).codes)

    def decodable_codes(self, image: np.ndarray, masks: list[Box] | tuple[Box, ...] = ()) -> list[Code]:
        """Verification: codes that still decode in the output and are not under the
        masks. An empty list means nobody's reader gets a code out of these pixels."""
        return [c for c in self.detect(image) if c.decoded and covered_fraction(c.box, masks) < MASKED_FRACTION]

    # -- reading -------------------------------------------------------------------------
    def _read(self, grey: np.ndarray) -> list[Barcode]:
        z = _zxing()
        try:
            # Not return_errors: zxing then also returns "QR codes" it imagines in
            # textures (gravel, fabric: measured); undecoded codes come from the finder.
            return list(z.read_barcodes(grey))
        except Exception as exc:  # noqa: BLE001 - zxing-cpp raises plain RuntimeErrors
            raise EngineError(f"the barcode reader failed ({type(exc).__name__})") from None

    def _read_region(self, grey: np.ndarray, region: _Region) -> list[Code]:
        """Crop the region (with a margin), turn it so 1-D bars stand upright, enlarge
        small crops, and read it as it is and binarised (Otsu)."""
        h, w = grey.shape
        x0, y0, x1, y1 = region.box
        side = max(x1 - x0, y1 - y0)
        margin = int(0.25 * side + 8)
        x0, y0, x1, y1 = max(0, x0 - margin), max(0, y0 - margin), min(w, x1 + margin), min(h, y1 + margin)
        crop = grey[y0:y1, x0:x1]
        ch, cw = crop.shape
        # Enlarge so the code is about 300 px on its long side (thin bars of a small
        # code become at least 2 px), never more than 3x.
        zoom = min(3.0, max(1.0, 300.0 / max(side, 1)))
        m = cv2.getRotationMatrix2D((cw / 2, ch / 2), region.turn, zoom)
        cos, sin = abs(m[0, 0]), abs(m[0, 1])
        out_w, out_h = int(ch * sin + cw * cos) + 2, int(ch * cos + cw * sin) + 2
        m[0, 2] += out_w / 2 - cw / 2
        m[1, 2] += out_h / 2 - ch / 2
        upright = cv2.warpAffine(crop, m, (out_w, out_h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
        inverse = cv2.invertAffineTransform(m)
        inverse[:, 2] += (x0, y0)
        _, binary = cv2.threshold(upright, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
        for variant in (upright, binary):
            found = [b for b in self._read(variant) if b.valid]
            if found:
                return [self._code(b, inverse, w, h, "zxing:region") for b in found]
        return []

    def _code(self, barcode: Barcode, inverse: np.ndarray | None, width: int, height: int, found_by: str) -> Code:
        quad = _quad(barcode)
        if inverse is not None:  # read on a turned, enlarged crop: back to the image
            quad = np.hstack([quad, np.ones((4, 1))]) @ inverse.T
        linear = _is_linear(barcode)
        box = _padded_box(quad, linear, self.policy.padding, width, height)
        if not barcode.valid:
            return Code(box, barcode.format.name, "undecoded", False, found_by, linear)
        binary = barcode.content_type.name == "Binary"
        return Code(box, barcode.format.name, content_kind(barcode.text, binary), True, found_by, linear, value=barcode.text)


def _intersects(a: Box, b: Box) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


def _union(a: Box, b: Box) -> Box:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def _pad_region(region: _Region, padding: float, width: int, height: int) -> Box:
    """An undecoded region's mask: its box grown by ``padding`` of its shorter side,
    and a 1-D region's by 60 % more on every side (the printed digits may be on any
    side, since its bar direction is only estimated)."""
    x0, y0, x1, y1 = region.box
    short = min(x1 - x0, y1 - y0)
    pad = int(max(4, padding * short + (0.6 * short if region.linear else 0)))
    return (max(0, x0 - pad), max(0, y0 - pad), min(width, x1 + pad), min(height, y1 + pad))


# -- the finder ------------------------------------------------------------------------
def find_code_regions(grey: np.ndarray) -> list[_Region]:
    """Regions that look like printed codes, from the structure tensor: 1-D codes are
    strongly oriented (all edges parallel), 2-D codes are not, and both are dense in
    high-contrast edges over a block (a lone edge is removed by an opening). Each
    candidate is then checked on its pixels: a 1-D code crosses its mid-grey at least
    14 times across its bars with the contrast of printed ink; a 2-D code is a near
    square patch of dark and light modules."""
    h, w = grey.shape
    f = min(1.0, FINDER_SIDE / max(h, w))
    small = grey if f >= 1.0 else cv2.resize(grey, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)
    g = small.astype(np.float32)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    k = (9, 9)
    # OpenCV's arithmetic, not numpy's: the finder's cost on a photo is mostly these
    # full-image passes (measured: 14 -> 9 ms per clean photo of the bench set).
    jxx = cv2.blur(cv2.multiply(gx, gx), k)
    jyy = cv2.blur(cv2.multiply(gy, gy), k)
    jxy = cv2.blur(cv2.multiply(gx, gy), k)
    energy = cv2.add(jxx, jyy)
    strong = energy > (60.0**2)  # edges of printed ink: a step of about 60 grey levels or more
    if not strong.any():
        return []
    # Coherence sqrt((jxx - jyy)^2 + 4 jxy^2) / energy, compared squared (no root, no
    # division): above 0.75 the edges are parallel (bars), below 0.5 they are not.
    diff = cv2.subtract(jxx, jyy)
    anisotropy2 = cv2.add(cv2.multiply(diff, diff), cv2.multiply(jxy, jxy, scale=4.0))
    energy2 = cv2.multiply(energy, energy)
    regions: list[_Region] = []
    for linear, mask in ((True, strong & (anisotropy2 > 0.75**2 * energy2)), (False, strong & (anisotropy2 < 0.5**2 * energy2))):
        m: np.ndarray = mask.astype(np.uint8) * 255
        # Opening first: a lone edge (brick mortar, a label's border) is a band about
        # as wide as the tensor window and goes; a block of bars or modules stays.
        m = cv2.morphologyEx(m, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (13, 13)))
        m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (9, 9)))
        # Components only inside the marked pixels' bounding box: labelling a whole
        # photo costs 4 ms even when it is empty.
        rx, ry, rw, rh = cv2.boundingRect(m)
        if not rw:
            continue
        count, labels, stats, _ = cv2.connectedComponentsWithStats(m[ry : ry + rh, rx : rx + rw], connectivity=8)
        for n in range(1, count):
            bx, by, bw, bh, area = (int(v) for v in stats[n])
            if min(bw, bh) < 12 or max(bw, bh) < 20 or area < 300:
                continue
            sel = labels[by : by + bh, bx : bx + bw] == n
            bx, by = bx + rx, by + ry
            sxx, syy, sxy = (float(a[by : by + bh, bx : bx + bw][sel].sum()) for a in (jxx, jyy, jxy))
            # The gradient's mean direction: turning by it makes 1-D bars vertical.
            turn = 0.5 * math.degrees(math.atan2(2 * sxy, sxx - syy))
            crop = small[by : by + bh, bx : bx + bw]
            if linear and not _bars_check(crop, sel, turn):
                continue
            if not linear and not _modules_check(crop, sel):
                continue
            box = (int(bx / f), int(by / f), int(math.ceil((bx + bw) / f)), int(math.ceil((by + bh) / f)))
            regions.append(_Region((max(0, box[0]), max(0, box[1]), min(w, box[2]), min(h, box[3])), turn, linear))
    return regions


def _turned(crop: np.ndarray, turn: float) -> np.ndarray:
    ch, cw = crop.shape
    m = cv2.getRotationMatrix2D((cw / 2, ch / 2), turn, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    out_w, out_h = int(ch * sin + cw * cos) + 1, int(ch * cos + cw * sin) + 1
    m[0, 2] += out_w / 2 - cw / 2
    m[1, 2] += out_h / 2 - ch / 2
    return cv2.warpAffine(crop, m, (out_w, out_h), flags=cv2.INTER_LINEAR, borderValue=0)


def _bars_check(crop: np.ndarray, sel: np.ndarray, turn: float) -> bool:
    """Bars: with the gradient turned horizontal, rows through the middle cross their
    mid-grey at least 14 times with ink contrast; the bars vary in width (a code's
    bars are 1 to 4 modules wide; a flag's or a blind's stripes are all alike); and
    they are straight: a row a third of the height lower shows the same profile,
    give or take a small shift for perspective (wood grain, hair, fabric and the
    curved ridges of a helmet ring do not)."""
    upright = _turned(crop, turn).astype(np.float32)
    inside = _turned(sel.astype(np.uint8) * 255, turn) > 127
    cover = inside.sum(axis=1)
    band = np.flatnonzero(cover >= 0.5 * cover.max()) if cover.max() else np.array([], int)
    if len(band) < 6:
        return False
    b0, b1 = int(band.min()), int(band.max())
    h = b1 - b0
    ys = np.arange(b0 + h // 4, max(b0 + h // 4 + 1, b0 + 3 * h // 4), max(1, h // 24))
    if len(ys) < 3:
        return False
    rows = upright[ys]
    valid = inside[ys]
    # Ink and paper levels: extremes of the row smoothed over 3 pixels (a lone
    # speck does not count; percentiles cost 10x more here).
    smooth = cv2.blur(rows, (3, 1))
    lo = np.where(valid, smooth, 255.0).min(axis=1)
    hi = np.where(valid, smooth, 0.0).max(axis=1)
    hits = 0
    for i in range(len(ys)):
        if np.count_nonzero(valid[i]) < 20 or hi[i] - lo[i] < 60:
            continue
        # Hysteresis: a crossing counts only from below 35 % to above 65 % of the
        # contrast (or back), so noise and grain around the middle do not count.
        values = rows[i][valid[i]]
        span = hi[i] - lo[i]
        level = np.where(values > lo[i] + 0.65 * span, 1, np.where(values < lo[i] + 0.35 * span, 0, -1))
        where = np.flatnonzero(level >= 0)
        edges = where[1:][np.diff(level[where]) != 0]
        if len(edges) < 14:
            continue
        runs = np.diff(edges)
        if runs.std() < 0.3 * runs.mean():  # even stripes, not bars
            continue
        hits += 1
    if hits < 3:
        return False
    y_top, y_bottom = b0 + h // 3, b0 + (2 * h) // 3
    top, bottom = upright[y_top], upright[y_bottom]
    top_in, bottom_in = inside[y_top], inside[y_bottom]
    shift_max = max(2, int(0.1 * (h // 3)))
    best = -1.0
    n = len(top)
    for shift in range(-shift_max, shift_max + 1):
        lo_a, hi_a = max(0, shift), n + min(0, shift)
        lo_b, hi_b = max(0, -shift), n + min(0, -shift)
        both = top_in[lo_a:hi_a] & bottom_in[lo_b:hi_b]
        if np.count_nonzero(both) < 20:
            continue
        a, b = top[lo_a:hi_a][both], bottom[lo_b:hi_b][both]
        a, b = a - a.mean(), b - b.mean()
        best = max(best, float((a * b).sum() / (np.sqrt((a * a).sum() * (b * b).sum()) + 1e-6)))
    return best > 0.6


def _modules_check(crop: np.ndarray, sel: np.ndarray) -> bool:
    """Modules: a compact (near square) patch, printed dark/light (bimodal), with about
    as many transitions per row as per column, at least 6 each (21x21 QR: about 10)."""
    ch, cw = crop.shape
    if max(ch, cw) > 1.8 * min(ch, cw) or sel.mean() < 0.6:
        return False
    lo, hi = np.percentile(crop, 5), np.percentile(crop, 95)
    if hi - lo < 80:
        return False
    binary = crop > (lo + hi) / 2
    dark = float(1.0 - binary.mean())
    if not 0.3 <= dark <= 0.7:
        return False
    if _blank_lines_inside(binary):
        return False
    tx = np.count_nonzero(np.diff(binary.astype(np.int8), axis=1)) / ch
    ty = np.count_nonzero(np.diff(binary.astype(np.int8), axis=0)) / cw
    if min(tx, ty) < 6 or max(tx, ty) > 1.6 * min(tx, ty):
        return False
    # Mid-tones are rare in print: most pixels are near the two ink levels.
    mid = np.count_nonzero((crop > lo + 0.3 * (hi - lo)) & (crop < lo + 0.7 * (hi - lo))) / crop.size
    return bool(mid < 0.3)


def _blank_lines_inside(binary: np.ndarray) -> bool:
    """Whether a row or a column that is all one ink level crosses the patch between
    its first and last marked ones: the gap between two lines of text (or between two
    columns of it, turned). A 2-D code's modules leave no such line: finder and timing
    patterns, borders and data touch every row and column of the symbol."""
    for axis in (1, 0):
        uniform: np.ndarray = np.asarray(binary.all(axis=axis) | (~binary).all(axis=axis))
        marked = np.flatnonzero(~uniform)
        if len(marked) and uniform[marked[0] : marked[-1] + 1].any():
            return True
    return False
