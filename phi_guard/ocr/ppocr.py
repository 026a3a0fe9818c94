"""A lean PP-OCR runner: text detection (DB) and recognition (CTC) on ONNX Runtime.

It runs the PP-OCR models that ship inside the ``rapidocr`` wheel, with the same
processing steps as RapidOCR (ported from RapidOCR and PaddleOCR, both
Apache-2.0), but without RapidOCR's Python wrapper. Why: the wrapper parses its
YAML configuration with OmegaConf and imports ``requests``/``tqdm`` for model
downloads, which costs about a second at every start (the CLI's cold start), and
it creates its ONNX Runtime sessions without a memory arena, which costs about a
sixth of the detector's time. Nothing here downloads anything: a missing model is
an :class:`~phi_guard.errors.EngineError`.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import EngineError
from ..types import iou

# A recognised word: (text, confidence, CTC columns, columns covered by the crop's own width).
_DecodedWord = tuple[str, float, list[int], float]
# A recognised line: (text, mean confidence, words).
_Decoded = tuple[str, float, list[_DecodedWord]]
# A word placed in the image: (text, confidence, box).
_WordBox = tuple[str, float, tuple[int, int, int, int]]

DET_MODEL = "PP-OCRv6_det_small.onnx"
# Detector inputs above this many pixels (a 1600 px tile is 2.6 M) release their
# arena memory after the run; 1024x1024 and smaller keep it for speed.
_LARGE_DET_INPUT = 1_300_000
REC_MODEL = "PP-OCRv6_rec_small.onnx"
# A detected region this many times longer than high is a line of text (for the
# outline score of a line with wide gaps between its words).
LINE_ASPECT = 4.0


def models_dir() -> Path:
    """The ``models`` folder of the installed rapidocr wheel (found without importing it)."""
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or not spec.submodule_search_locations:
        raise EngineError("rapidocr is not installed (its wheel carries the OCR models): pip install rapidocr")
    for loc in spec.submodule_search_locations:
        d = Path(loc) / "models"
        if (d / DET_MODEL).is_file() and (d / REC_MODEL).is_file():
            return d
    raise EngineError(f"the OCR models {DET_MODEL} and {REC_MODEL} are missing from the rapidocr installation")


def quantized_model_path(model: str) -> Path:
    """Where ``make setup`` (tools/quantize_text_detector.py) writes the int8 copy of the
    float model ``model``: inside the environment (the virtualenv), outside git."""
    return Path(sys.prefix) / "share" / "phi_guard" / model.replace(".onnx", ".int8.onnx")


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


@functools.cache
def _model_to_run(model: str, int8: bool) -> tuple[Path, str]:
    """The model file to run and how reports name it: the int8 copy of ``model`` when
    asked for, made from the float model installed now (a rapidocr upgrade leaves an older
    copy unused) and unchanged since (its note's sha256); else the float model."""
    float_model = models_dir() / model
    if not int8:
        return float_model, float_model.name
    copy = quantized_model_path(model)
    try:
        note = json.loads(copy.with_suffix(".json").read_text())
        if note["source_sha256"] == _sha256(float_model) and note["sha256"] == _sha256(copy):
            return copy, f"{copy.name} (sha256 {note['sha256'][:12]})"
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no copy, or no readable note: the float model
    return float_model, float_model.name


def rapidocr_version() -> str:
    """The installed rapidocr package's version (its models are the ones run)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rapidocr")
    except PackageNotFoundError:  # pragma: no cover
        return "unknown"


@dataclass(frozen=True)
class OcrLine:
    """One detected text line: its quadrilateral, text, mean confidence and words
    (text, confidence, axis-aligned box), all in the input image's coordinates."""

    quad: np.ndarray
    text: str
    score: float
    words: tuple[tuple[str, float, tuple[int, int, int, int]], ...]


@functools.cache
def _session(path: Path, threads: int) -> Any:  # an onnxruntime.InferenceSession (untyped)
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 4
    # The arena reuses buffers between runs of different input sizes: about 15 %
    # faster detection than RapidOCR's default (arena off), for some resident memory.
    opts.enable_cpu_mem_arena = True
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads > 0:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - a corrupt model file
        raise EngineError(f"the OCR model {path.name} could not be loaded ({type(exc).__name__})") from None


# Lines read with a mean confidence below this are read turned by 180 degrees too
# (and, if slanted, cut out and read again turned level).
UPSIDE_DOWN_RETRY_BELOW = 0.8
# A detected region whose sides lie at least this far (degrees) from level and from
# vertical is slanted.
SLANTED_FROM_DEGREES = 10.0
# A slanted region read again is enlarged at most this much for the text detector (small
# print gains from it; enlarging a whole label to 736 px costs a second per region).
STRAIGHTENED_ENLARGED_AT_MOST = 3.0


def _round32(v: float) -> int:
    return max(32, int(round(v / 32) * 32))


def _sessions(threads: int, int8_detector: bool) -> tuple[Any, Any, tuple[str, str]]:
    """The detector and recognizer sessions and the names of their files. Each session is
    loaded once per process, file and thread setting: ONNX Runtime sessions are safe to
    run from several threads, so the screening and verification engines share them
    (half the start-up and memory). ``int8_detector``: run the detector's int8 copy made
    by ``make setup`` where it is (policy ``ocr.int8_detector``, off by default: about
    1.6x faster on one core with VNNI, the same PHI recall on the bench sets, but more
    spurious text in photos; docs/benchmarks.md)."""
    # Only the detector has an int8 copy: the recognizer's read less surely (more markers
    # and labels left unreadable, so masked; docs/benchmarks.md).
    (det, det_name), rec = _model_to_run(DET_MODEL, int8_detector), models_dir() / REC_MODEL
    return _session(det, threads), _session(rec, threads), (det_name, rec.name)


class PpOcr:
    """PP-OCR detection + recognition. ``det_limit_type='min'`` scales the image so
    its short side is at least ``det_limit_side`` (small text gets bigger; RapidOCR's
    default); ``'max'`` shrinks it so its long side is at most that (faster)."""

    # Detector post-processing (RapidOCR's defaults for PP-OCR).
    thresh = 0.3
    box_thresh = 0.5
    unclip_ratio = 1.6
    max_candidates = 1000
    min_size = 3
    # Recognition input: height 48, each line alone at its own width (at least
    # rec_min_width). The recognizer's cost is in proportion to its input's columns
    # (convolutions, three quarters of a run): RapidOCR's batches of 6 padded to their
    # widest line and to at least 320 px made it read 1.8-1.9 times the lines' own
    # columns (docs/benchmarks.md, issue 13, fifth session). Short lines are still
    # padded to 320 px, the width the model reads best: at 48 px, recognition cost half
    # as much, but the confidence of what it read on non-text shapes moved across the
    # 0.5 line (a 64 px tool icon's region: 0.58 -> 0.32, then blocked as unreadable).
    rec_height = 48
    rec_min_width = 320

    def __init__(self, threads: int = 0, det_limit_side: int = 736, det_limit_type: str = "min", int8_detector: bool = False) -> None:
        self.det, self.rec, self.model_files = _sessions(threads, int8_detector)
        meta = self.rec.get_modelmeta().custom_metadata_map
        if "character" not in meta:
            raise EngineError(f"the OCR model {REC_MODEL} carries no character list")
        self.characters = ["blank", *meta["character"].splitlines(), " "]
        self.det_limit_side = det_limit_side
        self.det_limit_type = det_limit_type
        self._det_input = self.det.get_inputs()[0].name
        import onnxruntime as ort

        self._shrink_arena = ort.RunOptions()
        self._shrink_arena.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        self._rec_input = self.rec.get_inputs()[0].name

    # -- the whole reading ----------------------------------------------------------
    def __call__(self, rgb: np.ndarray, known: Callable[[tuple[int, int, int, int]], bool] | None = None) -> list[OcrLine]:
        """Detect and recognise the text lines of ``rgb``. ``known``: a test on a detected
        line's box (input coordinates); lines it accepts are already read elsewhere and
        are neither recognised nor returned (a further reading of a frame recognises
        only what is new)."""
        lines = self._read_upright(rgb, known)
        # Slanted text (a label photographed at an angle): the detector, trained on
        # level lines, merges close slanted lines into one region that reads as noise.
        # Such a region is cut out, turned level and read again on its own (enlarged
        # like any small image), and its lines replace it if they read more surely.
        out: list[OcrLine] = []
        looked: list[np.ndarray] = []  # the regions read again (a region inside one is not read twice)
        for line in lines:
            if (line.score < UPSIDE_DOWN_RETRY_BELOW and _slant(line.quad) >= SLANTED_FROM_DEGREES
                    and not any(cv2.pointPolygonTest(r, tuple(map(float, line.quad.mean(axis=0))), False) >= 0 for r in looked)):
                looked.append(_grown(line.quad).astype(np.float32))
                again = self._read_straightened(rgb, line.quad)
                if again and max(a.score for a in again) > line.score:
                    # Two regions over one label both read it: each line is kept once.
                    out += [a for a in again if not any(_same_place(a.quad, o.quad) for o in out)]
                    continue
            out.append(line)
        return out

    def _read_upright(self, rgb: np.ndarray, known: Callable[[tuple[int, int, int, int]], bool] | None,
                      enlarge_at_most: float | None = None) -> list[OcrLine]:
        """The text lines of ``rgb``, level ones and vertical ones (read turned);
        ``enlarge_at_most``: see :meth:`detect`."""
        lines = self._read_lines(rgb, known, enlarge_at_most)
        if not any(_is_vertical(line.quad) for line in lines):
            return lines
        # Vertical text (a wristband or label photographed sideways): the detector is
        # trained on horizontal lines and merges close vertical ones into one region
        # that reads as noise. The image turned by 90 degrees is read too, and its
        # lines replace the vertical ones (a line then upside down is turned by the
        # 180-degree retry below).
        width = rgb.shape[1]
        turned = [_turned_back(line, width) for line in self._read_lines(np.ascontiguousarray(np.rot90(rgb)), None, enlarge_at_most)]
        return [line for line in lines if not _is_vertical(line.quad)] + [line for line in turned if _is_vertical(line.quad)]

    def _read_straightened(self, rgb: np.ndarray, quad: np.ndarray) -> list[OcrLine]:
        """The lines read in the region ``quad`` (grown by a margin) turned level, in
        ``rgb``'s coordinates (word boxes: the boxes around their turned-back corners)."""
        grown = _grown(quad)
        w = int(max(np.linalg.norm(grown[0] - grown[1]), np.linalg.norm(grown[2] - grown[3])))
        h = int(max(np.linalg.norm(grown[0] - grown[3]), np.linalg.norm(grown[1] - grown[2])))
        if w < 8 or h < 8:
            return []
        level = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
        m = cv2.getPerspectiveTransform(grown.astype(np.float32), level)
        crop = cv2.warpPerspective(rgb, m, (w, h), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC)
        back = np.linalg.inv(m)
        h0, w0 = rgb.shape[:2]

        def to_image(points: np.ndarray) -> np.ndarray:
            p: np.ndarray = cv2.perspectiveTransform(points.reshape(1, -1, 2).astype(np.float64), back)[0]
            p[:, 0] = np.clip(p[:, 0], 0, w0)
            p[:, 1] = np.clip(p[:, 1], 0, h0)
            return p

        out = []
        for line in self._read_upright(crop, None, STRAIGHTENED_ENLARGED_AT_MOST):
            words = tuple((t, c, _quad_box(to_image(np.array([[b[0], b[1]], [b[2], b[1]], [b[2], b[3]], [b[0], b[3]]], float))))
                          for t, c, b in line.words)
            out.append(OcrLine(to_image(line.quad), line.text, line.score, words))
        return out

    def _read_lines(self, rgb: np.ndarray, known: Callable[[tuple[int, int, int, int]], bool] | None,
                    enlarge_at_most: float | None = None) -> list[OcrLine]:
        img, ratio_h, ratio_w = _within_bounds(rgb, 30, 2000)
        img, pad_top = _vertical_padding(img, 8, 30)
        quads = self.detect(img, enlarge_at_most)
        if not len(quads):
            return []
        h0, w0 = rgb.shape[:2]
        placed = []
        for quad in quads:
            q = quad.astype(np.float64).copy()
            q[:, 1] -= pad_top
            q[:, 0] *= ratio_w
            q[:, 1] *= ratio_h
            q[:, 0] = np.clip(q[:, 0], 0, w0)
            q[:, 1] = np.clip(q[:, 1], 0, h0)
            placed.append(q)
        if known is not None:
            new = [i for i, q in enumerate(placed) if not known(_quad_box(q))]
            quads, placed = quads[new], [placed[i] for i in new]
            if not placed:
                return []
        cropped = [_rotate_crop(img, q) for q in quads]
        recs = self.recognize([c for c, _ in cropped])
        # A line upside down (a wristband or label turned by 180 degrees, or a vertical
        # line turned the other way) reads as unsure noise: read it turned by 180
        # degrees too (the same quadrilateral from its opposite corner) and keep the
        # more confident reading: what PaddleOCR's angle classifier decides, without it.
        unsure = [n for n, rec in enumerate(recs) if rec[1] < UPSIDE_DOWN_RETRY_BELOW]
        if unsure:
            turned = [np.roll(quads[n], 2, axis=0) for n in unsure]
            turned_crops = [_rotate_crop(img, q) for q in turned]
            for n, q, c, rec in zip(unsure, turned, turned_crops, self.recognize([c for c, _ in turned_crops])):
                if rec[1] > recs[n][1]:
                    quads[n], cropped[n], recs[n] = q, c, rec
                    placed[n] = np.roll(placed[n], 2, axis=0)
        lines = []
        for quad, q, (crop, vertical), (text, score, words) in zip(quads, placed, cropped, recs):
            if not text.strip():
                # RapidOCR drops a detected line that reads as nothing; here it stays,
                # with no words and score 0: detected text that no one could read is
                # unknown, not clean (the caller reports it as unreadable).
                text, score, words = "", 0.0, []
            word_boxes = _word_boxes(quad, crop.shape, vertical, words, pad_top, ratio_w, ratio_h, (w0, h0))
            lines.append(OcrLine(q, text, score, word_boxes))
        return lines

    # -- detection --------------------------------------------------------------------
    def detect(self, img: np.ndarray, enlarge_at_most: float | None = None) -> np.ndarray:
        """Text line quadrilaterals (N, 4, 2) found in ``img``, in its pixel coordinates, in reading
        order. ``enlarge_at_most``: a cap on the enlargement of ``det_limit_type='min'``."""
        h, w = img.shape[:2]
        side = self.det_limit_side
        if self.det_limit_type == "max":
            ratio = side / max(h, w) if max(h, w) > side else 1.0
        else:
            ratio = side / min(h, w) if min(h, w) < side else 1.0
            if enlarge_at_most is not None:
                ratio = min(ratio, enlarge_at_most)
        rh, rw = _round32(h * ratio), _round32(w * ratio)
        resized = cv2.resize(img, (rw, rh))
        x = resized.astype(np.float32)
        x *= 2.0 / 255.0
        x -= 1.0  # (v/255 - 0.5) / 0.5
        x = np.ascontiguousarray(x.transpose(2, 0, 1)[None])
        # After a large input, hand the arena's memory back: a worker that met one big
        # image should not keep its buffers for the rest of a batch.
        run_options = self._shrink_arena if rh * rw > _LARGE_DET_INPUT else None
        pred = self.det.run(None, {self._det_input: x}, run_options)[0][0, 0]
        mask = cv2.dilate((pred > self.thresh).astype(np.uint8), np.ones((2, 2), np.uint8))
        boxes = self._boxes_from_bitmap(pred, mask, w, h)
        return _sorted_boxes(boxes)

    def _boxes_from_bitmap(self, pred: np.ndarray, bitmap: np.ndarray, dest_w: int, dest_h: int) -> np.ndarray:
        import pyclipper

        height, width = bitmap.shape
        contours, _ = cv2.findContours(bitmap * 255, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        boxes = []
        for contour in contours[: self.max_candidates]:
            points, sside = _mini_box(contour)
            if sside < self.min_size:
                continue
            # The mean probability inside the line's rectangle or, for a long thin line,
            # inside its own outline: a line of small words with wide gaps between them
            # ("Dr Maria Gonzalez   Ward 7B   Phone ...") in a large, mostly empty image
            # scored 0.43 in its rectangle and 0.59 in its outline, and was lost. (Not
            # for blobs: granite or fabric would then read as words.)
            if _box_score(pred, points) < self.box_thresh and not (
                    _long_side(points) >= LINE_ASPECT * sside and _box_score(pred, contour.reshape(-1, 2)) >= self.box_thresh):
                continue
            # Unclip: grow the shrunk text kernel back to the text's extent.
            area = cv2.contourArea(points.astype(np.float32))
            length = cv2.arcLength(points.astype(np.float32), True)
            if length <= 0:
                continue
            offset = pyclipper.PyclipperOffset()
            offset.AddPath(points.tolist(), pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
            expanded = offset.Execute(area * self.unclip_ratio / length)
            if not expanded:
                continue
            box, sside = _mini_box(np.array(expanded[0]).reshape(-1, 1, 2))
            if sside < self.min_size + 2:
                continue
            box[:, 0] = np.clip(np.round(box[:, 0] / width * dest_w), 0, dest_w)
            box[:, 1] = np.clip(np.round(box[:, 1] / height * dest_h), 0, dest_h)
            box = _order_clockwise(box)
            box[:, 0] = np.clip(box[:, 0], 0, dest_w - 1).astype(int)
            box[:, 1] = np.clip(box[:, 1], 0, dest_h - 1).astype(int)
            if int(np.linalg.norm(box[0] - box[1])) <= 3 or int(np.linalg.norm(box[0] - box[3])) <= 3:
                continue
            boxes.append(box)
        return np.array(boxes, dtype=np.float32).reshape(-1, 4, 2)

    # -- recognition ------------------------------------------------------------------
    def recognize(self, crops: list[np.ndarray]) -> list[tuple[str, float, list[tuple[str, float, list[int], float]]]]:
        """Per crop: (text, mean confidence, words as (text, confidence, CTC columns,
        columns covered by the crop's own width))."""
        return [self._recognize_one(c) for c in crops]

    def _recognize_one(self, crop: np.ndarray) -> _Decoded:
        own = max(int(self.rec_height * crop.shape[1] / float(crop.shape[0])), 1)
        width = max(own, self.rec_min_width)
        x = np.zeros((1, 3, self.rec_height, width), np.float32)
        r = cv2.resize(crop, (own, self.rec_height)).astype(np.float32)
        x[0, :, :, :own] = r.transpose(2, 0, 1) * (2.0 / 255.0) - 1.0
        pred = self.rec.run(None, {self._rec_input: x})[0][0]
        return self._ctc_decode(pred, own / width)

    def _ctc_decode(self, pred: np.ndarray, width_share: float) -> _Decoded:
        idx = pred.argmax(axis=1)
        prob = pred.max(axis=1)
        keep = np.ones(len(idx), bool)
        keep[1:] = idx[1:] != idx[:-1]
        keep &= idx != 0
        cols = np.where(keep)[0]
        chars = [self.characters[k] if k < len(self.characters) else "" for k in idx[cols]]
        confs = prob[cols].astype(float)
        text = "".join(chars)
        score = float(np.mean(confs)) if len(confs) else 0.0
        # Words: split at spaces and at gaps of more than 5 columns (PaddleOCR's rule).
        words: list[tuple[str, float, list[int]]] = []
        cur_c: list[str] = []
        cur_cols: list[int] = []
        cur_conf: list[float] = []
        prev_col = None
        for ch, col, cf in zip(chars, cols, confs):
            gap = col - prev_col if prev_col is not None else 0
            prev_col = col
            if ch.isspace() or gap > 5:
                if cur_c:
                    words.append(("".join(cur_c), float(np.mean(cur_conf)), cur_cols))
                cur_c, cur_cols, cur_conf = [], [], []
                if ch.isspace():
                    continue
            cur_c.append(ch)
            cur_cols.append(int(col))
            cur_conf.append(float(cf))
        if cur_c:
            words.append(("".join(cur_c), float(np.mean(cur_conf)), cur_cols))
        text_cols = len(idx) * width_share
        return text, score, [(t, c, cols_, text_cols) for t, c, cols_ in words]


# -- geometry helpers ------------------------------------------------------------------
def _within_bounds(img: np.ndarray, min_side: int, max_side: int) -> tuple[np.ndarray, float, float]:
    """Shrink a very large image, enlarge a tiny one (sides rounded to multiples of 32);
    returns it with the factors that map its coordinates back to the input's."""
    h, w = img.shape[:2]
    if max(h, w) > max_side:
        img = _scaled(img, max_side / max(h, w))
    if min(img.shape[:2]) < min_side:
        img = _scaled(img, min_side / min(img.shape[:2]))
    return img, h / img.shape[0], w / img.shape[1]


def _scaled(img: np.ndarray, factor: float) -> np.ndarray:
    ih, iw = img.shape[:2]
    return cv2.resize(img, (_round32(iw * factor), _round32(ih * factor)))


def _vertical_padding(img: np.ndarray, max_ratio: float, min_height: int) -> tuple[np.ndarray, int]:
    """Very wide or very low images (a single cropped line) get black bands above and
    below: the detector needs context around a line."""
    h, w = img.shape[:2]
    if h <= min_height or w / h > max_ratio:
        pad = int(abs(max(int(w / max_ratio), min_height) * 2 - h) / 2)
        return cv2.copyMakeBorder(img, pad, pad, 0, 0, cv2.BORDER_CONSTANT, value=(0, 0, 0)), pad
    return img, 0


def _mini_box(contour: np.ndarray) -> tuple[np.ndarray, float]:
    rect = cv2.minAreaRect(contour)
    pts = sorted(list(cv2.boxPoints(rect)), key=lambda p: p[0])
    i1, i4 = (0, 1) if pts[1][1] > pts[0][1] else (1, 0)
    i2, i3 = (2, 3) if pts[3][1] > pts[2][1] else (3, 2)
    return np.array([pts[i1], pts[i2], pts[i3], pts[i4]]), min(rect[1])


def _box_score(pred: np.ndarray, box: np.ndarray) -> float:
    """The mean of ``pred`` inside the polygon ``box`` (N x 2 points): a line's
    rectangle, or its own outline (PaddleOCR's 'slow' score)."""
    h, w = pred.shape
    xmin = int(np.clip(np.floor(box[:, 0].min()), 0, w - 1))
    xmax = int(np.clip(np.ceil(box[:, 0].max()), 0, w - 1))
    ymin = int(np.clip(np.floor(box[:, 1].min()), 0, h - 1))
    ymax = int(np.clip(np.ceil(box[:, 1].max()), 0, h - 1))
    mask = np.zeros((ymax - ymin + 1, xmax - xmin + 1), np.uint8)
    shifted = box.copy()
    shifted[:, 0] -= xmin
    shifted[:, 1] -= ymin
    cv2.fillPoly(mask, [shifted.reshape(-1, 2).astype(np.int32)], 1)
    return float(cv2.mean(pred[ymin : ymax + 1, xmin : xmax + 1], mask)[0])


def _long_side(box: np.ndarray) -> float:
    return float(max(np.linalg.norm(box[0] - box[1]), np.linalg.norm(box[1] - box[2])))


def _order_clockwise(pts: np.ndarray) -> np.ndarray:
    xs = pts[np.argsort(pts[:, 0]), :]
    left, right = xs[:2], xs[2:]
    tl, bl = left[np.argsort(left[:, 1])]
    tr, br = right[np.argsort(right[:, 1])]
    return np.array([tl, tr, br, bl], dtype=np.float32)


def _sorted_boxes(boxes: np.ndarray) -> np.ndarray:
    """Top to bottom, then left to right within a line (10 px tolerance)."""
    if len(boxes) == 0:
        return boxes
    y = boxes[:, 0, 1]
    order = np.argsort(y, kind="stable")
    by_y = boxes[order]
    line_ids = np.concatenate([[0], np.cumsum(np.diff(y[order]) >= 10)])
    return by_y[np.lexsort((by_y[:, 0, 0], line_ids))]


def _is_vertical(quad: np.ndarray) -> bool:
    """A line at least 1.5 times as high as wide on the image (read turned upright)."""
    w, h = np.ptp(quad[:, 0]), np.ptp(quad[:, 1])
    return bool(h >= 1.5 * max(float(w), 1.0))


def _grown(quad: np.ndarray) -> np.ndarray:
    """The quadrilateral with each corner moved outwards by a quarter of its shorter side."""
    centre = quad.mean(axis=0)
    side = min(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[0] - quad[3]))
    outwards = (quad - centre) / np.maximum(np.linalg.norm(quad - centre, axis=1, keepdims=True), 1e-6)
    grown: np.ndarray = quad + outwards * side * 0.25
    return grown


def _same_place(a: np.ndarray, b: np.ndarray) -> bool:
    """Two quadrilaterals whose boxes overlap by more than half of their union."""
    return iou(_quad_box(a), _quad_box(b)) > 0.5


def _off_axis(quad: np.ndarray, period: float) -> float:
    """How far (degrees) the quadrilateral's top side lies from the nearest multiple of
    ``period`` degrees: 180 measures from level, 90 from level or vertical."""
    dx, dy = quad[1] - quad[0]
    angle = abs(math.degrees(math.atan2(float(dy), float(dx)))) % period
    return min(angle, period - angle)


def runs_level(quad: np.ndarray) -> bool:
    """True when the line's top side lies within ``SLANTED_FROM_DEGREES`` of level."""
    return _off_axis(quad, 180) < SLANTED_FROM_DEGREES


def _slant(quad: np.ndarray) -> float:
    """How far (degrees, 0-45) the quadrilateral's top side lies from level or vertical."""
    return _off_axis(quad, 90)


def _turned_back(line: OcrLine, width: int) -> OcrLine:
    """A line read in ``np.rot90(image)`` in the coordinates of ``image`` (``width``
    wide): the turned image's pixel (x, y) is the image's (width - y, x)."""
    q = line.quad.astype(np.float64)
    quad = np.stack([width - q[:, 1], q[:, 0]], axis=1)
    words = tuple((t, c, (width - b[3], b[0], width - b[1], b[2])) for t, c, b in line.words)
    return OcrLine(quad, line.text, line.score, words)


def _rotate_crop(img: np.ndarray, quad: np.ndarray) -> tuple[np.ndarray, bool]:
    """The line's crop, straightened; turned upright (and flagged) if it is a vertical line."""
    w = int(max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[2] - quad[3])))
    h = int(max(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2])))
    w, h = max(w, 1), max(h, 1)
    dst = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    m = cv2.getPerspectiveTransform(quad.astype(np.float32), dst)
    crop = cv2.warpPerspective(img, m, (w, h), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC)
    if crop.shape[0] / crop.shape[1] >= 1.5:
        return np.ascontiguousarray(np.rot90(crop)), True
    return crop, False


def _word_boxes(quad: np.ndarray, crop_shape: tuple[int, ...], vertical: bool, words: list[_DecodedWord], pad_top: int,
                ratio_w: float, ratio_h: float, size: tuple[int, int]) -> tuple[_WordBox, ...]:
    """Each word's box: its CTC columns placed along the line's crop, mapped back
    through the crop's perspective transform into image coordinates."""
    w0, h0 = size
    ch, cw = crop_shape[:2]
    line_box = _to_image_box(quad, pad_top, ratio_w, ratio_h, w0, h0)
    if vertical or not words:
        # A vertical line is rare in overlays: every word gets the whole line's box.
        return tuple((t, c, line_box) for t, c, _cols, _n in words)
    text_cols = max(words[0][3], 1e-6)
    col_w = cw / text_cols
    multi = [(cols[-1] - cols[0]) * col_w / (len(cols) - 1) for _t, _c, cols, _n in words if len(cols) > 1]
    n_chars = sum(len(t) for t, *_ in words)
    char_w = (sum(multi) / len(multi)) if multi else cw / max(n_chars, 1)
    src = np.array([[0, 0], [cw, 0], [cw, ch], [0, ch]], np.float32)
    m = cv2.getPerspectiveTransform(src, quad.astype(np.float32))
    out: list[_WordBox] = []
    for text, conf, cols, _n in words:
        x0 = max((cols[0] + 0.5) * col_w - char_w / 2, 0)
        x1 = min((cols[-1] + 0.5) * col_w + char_w / 2, cw)
        pts = np.array([[[x0, 0], [x1, 0], [x1, ch], [x0, ch]]], np.float32)
        mapped = cv2.perspectiveTransform(pts, m)[0]
        out.append((text, conf, _to_image_box(mapped, pad_top, ratio_w, ratio_h, w0, h0)))
    return tuple(out)


def _quad_box(q: np.ndarray) -> tuple[int, int, int, int]:
    x0, y0 = np.floor(q.min(axis=0)).astype(int)
    x1, y1 = np.ceil(q.max(axis=0)).astype(int)
    return int(x0), int(y0), int(max(x1, x0 + 1)), int(max(y1, y0 + 1))


def _to_image_box(points: np.ndarray, pad_top: int, ratio_w: float, ratio_h: float, w0: int, h0: int) -> tuple[int, int, int, int]:
    xs = points[:, 0] * ratio_w
    ys = (points[:, 1] - pad_top) * ratio_h
    x0, y0 = int(max(np.floor(xs.min()), 0)), int(max(np.floor(ys.min()), 0))
    x1, y1 = int(min(np.ceil(xs.max()), w0)), int(min(np.ceil(ys.max()), h0))
    return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)
