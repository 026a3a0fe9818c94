"""Build an int8 copy of the OCR text detector (run by ``make setup``; no network but PyPI once).

RapidOCR's wheel ships the PP-OCRv6 small text detector and recognizer (PaddleOCR,
Apache-2.0) as float32 ONNX models. This tool quantizes the detector to 8-bit integers
with ONNX Runtime's static quantization (QDQ, per-channel int8 weights, uint8
activations) and writes it where phi_guard looks for it at run time
(``phi_guard.ocr.ppocr.quantized_model_path()``: ``<sys.prefix>/share/phi_guard``,
inside the virtualenv), with a JSON note of the float model it was made from. phi_guard
runs the copy when the policy turns it on (``ocr.int8_detector``, off by default) and
only if that float model is the one installed; otherwise the float detector runs.

Why: on one core with VNNI the int8 detector takes about 0.10 s of a 736x736 image
against 0.17 s, with the same PHI recall on every bench set; but it finds text that is
not there in a few photos, and its results move with its calibration, so it is not the
default (docs/benchmarks.md, "Issue 13, seventh session"). The recognizer quantized the
same way is 1.5x faster too, but read less surely (more markers and labels masked as
unreadable), so no copy of it is made.

Calibration (the activation ranges) uses 36 images this tool draws itself, from fixed
seeds, not the bench or test sets: OpenCV's Hershey text (no font files) in many sizes,
weights and contrasts, light on dark and dark on light, over flat, graded, blurred-noise,
speckled and radiograph-like backgrounds (some saved as JPEG quality 40-70 and read
back), and black unsmoothed glyphs on white as in a DICOM value-band rendering. Without
the last two kinds, the copy read DICOM markers and labels less surely. The ``onnx``
package the quantizer needs is installed into a temporary folder (pinned, no
dependencies), not into the environment.

    python tools/quantize_text_detector.py [--out-dir DIR]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

# The same pinned onnx as the face model's setup step, installed the same way (a script's
# own folder is on its import path).
from vendor_centerface import import_onnx

# Per-channel quantization (a DequantizeLinear with an axis) needs opset 13; the models are 11.
OPSET = 13
# Bump when the calibration or the quantization settings change: a model made by another
# recipe is rebuilt.
RECIPE = 2
FONTS = [cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX,
         cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_COMPLEX_SMALL]
CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 ^,.:/-#()"


def sha256_of(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _text(rng: np.random.Generator) -> str:
    return "".join(rng.choice(list(CHARS), size=int(rng.integers(3, 24))))


def _background(rng: np.random.Generator, h: int, w: int, kind: int) -> np.ndarray:
    base = float(rng.integers(0, 256))
    if kind == 0:  # flat
        grey = np.full((h, w), base, np.float32)
    elif kind == 1:  # graded
        grey = np.linspace(base, float(rng.integers(0, 256)), w, dtype=np.float32)[None, :].repeat(h, 0)
    elif kind == 2:  # anatomy-like: blurred noise
        noise = rng.normal(0, 1, (h // 8 + 1, w // 8 + 1)).astype(np.float32)
        grey = cv2.resize(cv2.GaussianBlur(noise, (0, 0), 2), (w, h)) * 50 + base
    elif kind == 3:  # speckle
        grey = rng.normal(base, 25, (h, w)).astype(np.float32)
    elif kind == 4:  # a radiograph: a bright body with texture on black
        grey = np.zeros((h, w), np.float32)
        cv2.ellipse(grey, (w // 2, h // 2), (int(w * rng.uniform(0.25, 0.45)), int(h * rng.uniform(0.3, 0.48))), 0, 0, 360,
                    float(rng.uniform(90, 200)), -1)
        noise = rng.normal(0, 1, (h // 16 + 1, w // 16 + 1)).astype(np.float32)
        grey = cv2.GaussianBlur(grey, (0, 0), 12) + cv2.resize(noise, (w, h)) * 20
    else:  # a value-band rendering of a DICOM: white, the band's pixels black (drawn later)
        grey = np.full((h, w), 255.0, np.float32)
    grey = np.clip(grey, 0, 255)
    colour = np.stack([grey * float(rng.uniform(0.8, 1.0)) for _ in range(3)], axis=2) if kind < 5 else np.stack([grey] * 3, axis=2)
    return colour.astype(np.uint8)


def _draw_lines(rng: np.random.Generator, img: np.ndarray, lines: int, binary: bool = False) -> None:
    h, w = img.shape[:2]
    for _ in range(lines):
        scale = float(rng.uniform(0.35, 1.6))
        font = FONTS[int(rng.integers(len(FONTS)))]
        thickness = int(rng.integers(1, 3))
        x, y = int(rng.integers(0, max(1, w - 60))), int(rng.integers(12, h))
        if binary:  # black glyphs, no anti-aliasing
            cv2.putText(img, _text(rng), (x, y), font, scale, (0, 0, 0), thickness, cv2.LINE_8)
            continue
        local = float(img[min(y, h - 1), min(x, w - 1)].mean())
        # mostly clear text, some faint (35-60 levels of contrast)
        contrast = float(rng.uniform(35, 60)) if rng.random() < 0.3 else float(rng.uniform(120, 255))
        value = local + contrast if local < 128 else local - contrast
        c = int(np.clip(value, 0, 255))
        cv2.putText(img, _text(rng), (x, y), font, scale, (c, c, c), thickness, cv2.LINE_AA)


def _maybe_jpeg(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    if rng.random() < 0.4:
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(40, 71))])
        if ok:
            decoded: np.ndarray = cv2.imdecode(buf, cv2.IMREAD_COLOR)
            return decoded
    return img


def detector_inputs(count: int = 36, seed: int = 20261207) -> Iterator[np.ndarray]:
    """Images as the detector sees them (NCHW, (v/255 - 0.5) / 0.5), sides 512-1024: each
    kind of background in turn, with 0-15 lines of text."""
    rng = np.random.default_rng(seed)
    for n in range(count):
        h, w = (int(rng.integers(16, 33)) * 32 for _ in range(2))
        kind = n % 6
        img = _background(rng, h, w, kind)
        _draw_lines(rng, img, int(rng.integers(0, 16)), binary=kind == 5)
        if kind != 5:
            img = _maybe_jpeg(rng, img)
        yield np.ascontiguousarray((img.astype(np.float32) * (2.0 / 255.0) - 1.0).transpose(2, 0, 1)[None])


def quantize(src: Path, out: Path, inputs: Iterator[np.ndarray], work: Path) -> None:
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    converted, prepared = work / f"{src.stem}.opset.onnx", work / f"{src.stem}.prepared.onnx"
    onnx.save(version_converter.convert_version(onnx.load(str(src)), OPSET), str(converted))
    # Folds batch norms and constants first: quantizing the raw graph runs 1.5x slower.
    quant_pre_process(str(converted), str(prepared), skip_symbolic_shape=True)
    name = onnx.load(str(prepared)).graph.input[0].name

    class Feed(CalibrationDataReader):  # type: ignore[misc]
        def get_next(self) -> dict[str, np.ndarray] | None:
            x = next(inputs, None)
            return None if x is None else {name: x}

    quantize_static(str(prepared), str(out), Feed(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", help="where to write the model (default: where phi_guard looks for it)")
    args = ap.parse_args()
    from phi_guard.ocr.ppocr import DET_MODEL, models_dir, quantized_model_path

    src = models_dir() / DET_MODEL
    out = Path(args.out_dir) / quantized_model_path(DET_MODEL).name if args.out_dir else quantized_model_path(DET_MODEL)
    note = out.with_suffix(".json")
    made_from = {"source": DET_MODEL, "source_sha256": sha256_of(src), "recipe": RECIPE}
    if out.is_file() and note.is_file():
        made = json.loads(note.read_text())
        if {k: v for k, v in made.items() if k in made_from} == made_from and made.get("sha256") == sha256_of(out):
            out.touch()  # up to date for make
            print(f"int8 text detector already made: {out}")
            return
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f"{out.name}.{os.getpid()}.partial")
    try:
        with tempfile.TemporaryDirectory(prefix="phi_guard-quantize-") as tmp:
            import_onnx(Path(tmp) / "onnx")
            quantize(src, partial, detector_inputs(), Path(tmp))
        digest = sha256_of(partial)
        # The old note goes first: a copy runs only where its note names the installed
        # float model and the copy's own digest, so no moment pairs a new copy with an old note.
        note.unlink(missing_ok=True)
        partial.replace(out)  # a reader never sees half a model
    finally:
        partial.unlink(missing_ok=True)
    partial_note = note.with_name(f"{note.name}.{os.getpid()}.partial")
    partial_note.write_text(json.dumps({**made_from, "sha256": digest}, indent=1))
    partial_note.replace(note)
    print(f"made the int8 text detector: {out} ({out.stat().st_size} bytes, sha256 {digest})")

if __name__ == "__main__":
    main()
