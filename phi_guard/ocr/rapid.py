"""RapidOCR's PP-OCR models (detection + recognition on ONNX Runtime), run by our
lean runner in :mod:`.ppocr`. The models ship in the rapidocr wheel, so nothing is
downloaded. It reads low-contrast text on textured
medical backgrounds that Tesseract misses, and its detector finds text regions
even where recognition is unsure (those become 'unreadable text')."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..types import Box, TextRegion, Word
from .base import READ_COVERAGE, OcrReading, quad_to_box, read_fraction


class RapidOcrEngine:
    """RapidOCR's PP-OCR models, run by :class:`~phi_guard.ocr.ppocr.PpOcr`."""

    name = "rapidocr"

    def __init__(self, threads: int = 0, min_confidence: float = 0.5, det_max_side: int = 0, int8_detector: bool = False) -> None:
        from .ppocr import PpOcr, rapidocr_version

        if det_max_side:
            # Detect on a downscaled copy (faster; used for verification, where the
            # screening pass has already read the image at full resolution).
            self._ocr = PpOcr(threads=threads, det_limit_side=det_max_side, det_limit_type="max", int8_detector=int8_detector)
        else:
            # Small text on small images: the short side is scaled up to 736 px at least.
            self._ocr = PpOcr(threads=threads, int8_detector=int8_detector)
        self._version = rapidocr_version()
        self.min_confidence = min_confidence

    def version(self) -> str:
        """The PP-OCR models' version and the files run (the detector float32 or its int8 copy), for reports."""
        return f"rapidocr {self._version} models (PP-OCRv6 small: {', '.join(self._ocr.model_files)}), onnxruntime"

    def read(self, image: np.ndarray, tag: str = "") -> OcrReading:
        """Words and unreadable text lines in ``image``; raises EngineError when ONNX Runtime fails."""
        return self.read_new(image, None, tag)

    def read_new(self, image: np.ndarray, known: Callable[[Box], bool] | None, tag: str = "") -> OcrReading:
        """Like :meth:`read`, but text lines whose box ``known`` accepts (read already, in
        another rendering of the same frame) are detected only, not recognised."""
        from .ppocr import runs_level

        rgb = np.repeat(image[:, :, None], 3, axis=2) if image.ndim == 2 else image
        words: list[Word] = []
        unreadable: list[TextRegion] = []
        for i, line in enumerate(self._ocr(np.ascontiguousarray(rgb), known)):
            line_box = quad_to_box(line.quad)
            line_key = f"{self.name}:{tag}:{i}"
            level = runs_level(line.quad)
            line_words = [Word(text=w_text.strip(), confidence=float(w_score), box=_clip_to(w_box, line_box),
                               engine=self.name, line=line_key, level=level)
                          for w_text, w_score, w_box in line.words or ((line.text, line.score, line_box),) if w_text.strip()]
            words += line_words
            # A line counts as read only when its confident words cover most of it: a line
            # recognised in part (one clear word, the rest lost) is text seen but not read.
            read = read_fraction(line_box, [w.box for w in line_words if w.confidence >= self.min_confidence])
            if (line.score < self.min_confidence or read < READ_COVERAGE) and _has_ink(rgb, line_box):
                unreadable.append(TextRegion(box=line_box, confidence=min(line.score, read), engine=self.name))
        return OcrReading(tuple(words), tuple(unreadable))


def _clip_to(box: tuple[int, int, int, int], outer: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    # Word boxes keep the line's full height (ascenders and descenders of the line).
    x0 = max(box[0], outer[0])
    x1 = min(max(box[2], x0 + 1), outer[2]) if outer[2] > x0 else box[2]
    return x0, outer[1], max(x1, x0 + 1), outer[3]


# Grey levels a region must span to hold any glyph: the detector also outlines flat
# areas (a uniform colour, a blank margin), where no text can be.
_MIN_INK_CONTRAST = 24


def _has_ink(image: np.ndarray, box: Box) -> bool:
    """True when ``box`` holds enough contrast for a glyph (flat regions hold no text)."""
    x0, y0, x1, y1 = box
    crop = image[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)]
    if crop.size == 0:
        return False
    grey = crop.mean(axis=2) if crop.ndim == 3 else crop
    lo, hi = np.percentile(grey, (2, 98))
    return bool(hi - lo >= _MIN_INK_CONTRAST)
