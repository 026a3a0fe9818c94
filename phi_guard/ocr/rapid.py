"""RapidOCR (PP-OCR detection + recognition on ONNX Runtime). Its models ship in
the wheel, so nothing is downloaded. It reads low-contrast text on textured
medical backgrounds that Tesseract misses, and its detector finds text regions
even where recognition is unsure (those become 'unreadable text')."""
from __future__ import annotations

import logging

import numpy as np

from ..errors import EngineError
from ..types import TextRegion, Word
from .base import OcrReading, quad_to_box


class RapidOcrEngine:
    name = "rapidocr"

    def __init__(self, threads: int = 0, min_confidence: float = 0.5, det_max_side: int = 0):
        try:
            from rapidocr import RapidOCR
            import rapidocr
        except ImportError as exc:  # pragma: no cover
            raise EngineError(f"rapidocr is not installed ({exc})") from None
        params: dict[str, object] = {
            "Global.log_level": "error",
            "Global.return_word_box": True,
            # Keep every detected line, even low-scoring ones: we decide what is unreadable.
            "Global.text_score": 0.0,
            # Overlay text is upright; the 180-degree classifier only costs time.
            "Global.use_cls": False,
            "EngineConfig.onnxruntime.intra_op_num_threads": threads if threads > 0 else -1,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1 if threads > 0 else -1,
        }
        if det_max_side:
            # Detect on a downscaled copy (faster; used for verification, where the
            # screening pass has already read the image at full resolution).
            params["Det.limit_type"] = "max"
            params["Det.limit_side_len"] = det_max_side
        self._engine = RapidOCR(params=params)
        logging.getLogger("RapidOCR").setLevel(logging.ERROR)
        self._version = getattr(rapidocr, "__version__", "unknown")
        self.min_confidence = min_confidence

    def version(self) -> str:
        return f"rapidocr {self._version}"

    def read(self, image: np.ndarray, tag: str = "") -> OcrReading:
        rgb = np.repeat(image[:, :, None], 3, axis=2) if image.ndim == 2 else image
        result = self._engine(np.ascontiguousarray(rgb))
        if result is None or result.boxes is None or result.txts is None:
            return OcrReading()
        words: list[Word] = []
        unreadable: list[TextRegion] = []
        per_line_words = result.word_results if result.word_results else [()] * len(result.txts)
        for i, (quad, text, score) in enumerate(zip(result.boxes, result.txts, result.scores)):
            line_box = quad_to_box(quad)
            line_key = f"{self.name}:{tag}:{i}"
            if float(score) < self.min_confidence or not text.strip():
                unreadable.append(TextRegion(box=line_box, confidence=float(score), engine=self.name))
            entries = per_line_words[i] if i < len(per_line_words) else ()
            if not entries:
                entries = ((text, score, quad),)
            for w_text, w_score, w_quad in entries:
                if not str(w_text).strip():
                    continue
                words.append(
                    Word(
                        text=str(w_text).strip(),
                        confidence=float(w_score),
                        box=_clip_to(quad_to_box(w_quad), line_box),
                        engine=self.name,
                        line=line_key,
                    )
                )
        return OcrReading(tuple(words), tuple(unreadable))


def _clip_to(box: tuple[int, int, int, int], outer: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    # Word boxes keep the line's full height (ascenders and descenders of the line).
    x0 = max(box[0], outer[0])
    x1 = min(max(box[2], x0 + 1), outer[2]) if outer[2] > x0 else box[2]
    return x0, outer[1], max(x1, x0 + 1), outer[3]
