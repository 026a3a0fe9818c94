"""Tesseract, in-process through tesserocr (no subprocess per call: 3-5x faster
than pytesseract), over several preprocessed renderings of the frame."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..errors import EngineError
from ..quiet import quiet_native_stderr
from ..types import TextRegion, Word
from .base import OcrReading
from .preprocess import render_passes

_TESSDATA_CANDIDATES = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
)


def find_tessdata() -> str:
    """The folder of Tesseract's language data (TESSDATA_PREFIX, else Debian's).
    Raises EngineError when the English data is not installed."""
    env = os.environ.get("TESSDATA_PREFIX")
    for cand in ([env] if env else []) + list(_TESSDATA_CANDIDATES):
        if cand and (Path(cand) / "eng.traineddata").is_file():
            return cand
    raise EngineError(
        "Tesseract's English language data was not found; install it with "
        "'apt-get install tesseract-ocr-eng' or set TESSDATA_PREFIX"
    )


class TesseractEngine:
    """Tesseract LSTM, sparse-text page segmentation (overlays are scattered words)."""

    name = "tesseract"

    def __init__(self, passes: tuple[str, ...] = ("tophat-white", "tophat-black"), min_confidence: float = 0.5,
                 share_api_with: TesseractEngine | None = None, report_unreadable: bool = True) -> None:
        try:
            import tesserocr
        except ImportError as exc:  # pragma: no cover - a broken install
            raise EngineError(f"tesserocr is not installed ({exc})") from None
        self._tesserocr = tesserocr
        self._api: Any
        self.passes = passes
        self.min_confidence = min_confidence
        self.report_unreadable = report_unreadable
        self.noise_confidence = 0.4
        self.min_text_height = 7  # px in the original image; smaller is not legible text
        if share_api_with is not None:
            # Engines of one Screener run one after another: they can share the loaded
            # model (about 0.1 s and 20 MB less at start-up); their settings are the same.
            self._api = share_api_with._api
            return
        self._api = tesserocr.PyTessBaseAPI(
            path=find_tessdata(), lang="eng", psm=tesserocr.PSM.SPARSE_TEXT, oem=tesserocr.OEM.LSTM_ONLY
        )
        # Overlays are not dictionary prose: do not let the language model "correct" IDs.
        self._api.SetVariable("load_system_dawg", "0")
        self._api.SetVariable("load_freq_dawg", "0")

    def version(self) -> str:
        """Tesseract's version, for reports."""
        return f"tesseract {self._tesserocr.tesseract_version().split()[1]} (tesserocr {self._tesserocr.__version__})"

    def read(self, image: np.ndarray, tag: str = "") -> OcrReading:
        """Words and unreadable text in ``image``, read in each of the engine's passes."""
        words: list[Word] = []
        unreadable: list[TextRegion] = []
        for pass_name, rendering, scale in render_passes(image, self.passes):
            engine = f"{self.name}:{pass_name}"
            api = self._api
            api.SetImage(Image.fromarray(rendering))
            with quiet_native_stderr():  # Leptonica's "Error in boxClipToRectangle ..."
                api.Recognize()
            it = api.GetIterator()
            if it is None:
                continue
            for line_no, line in enumerate(self._lines(it, scale)):
                read = [b for _t, conf, b in line if conf >= self.min_confidence]
                for text, conf, box in line:
                    if box[3] - box[1] < self.min_text_height:
                        continue
                    unsure = conf < self.min_confidence and sum(c.isalnum() for c in text) >= 2
                    if conf >= self.noise_confidence:
                        words.append(Word(text=text, confidence=conf, box=box, engine=engine, line=f"{engine}:{tag}:{line_no}"))
                    # Text seen but not read: an unsure word in the row of words Tesseract read
                    # on the same line (what it read proves the row is text; unsure words
                    # elsewhere are mostly anatomy texture). Masked unless another engine read it.
                    if self.report_unreadable and unsure and any(_same_row(box, b) for b in read):
                        unreadable.append(TextRegion(box=box, confidence=conf, engine=engine))
            api.Clear()
        return OcrReading(tuple(words), tuple(unreadable))

    def _lines(self, it: Any, scale: float) -> list[list[tuple[str, float, tuple[int, int, int, int]]]]:
        """The recognised page as lines of (text, confidence 0..1, box in the original image)."""
        RIL = self._tesserocr.RIL
        lines: list[list[tuple[str, float, tuple[int, int, int, int]]]] = []
        for r in self._tesserocr.iterate_level(it, RIL.WORD):
            if r.IsAtBeginningOf(RIL.TEXTLINE) or not lines:
                lines.append([])
            try:
                text = (r.GetUTF8Text(RIL.WORD) or "").strip()
            except RuntimeError:  # tesserocr raises on an empty word
                continue
            bbox = r.BoundingBox(RIL.WORD)
            if not text or bbox is None:
                continue
            conf = max(0.0, min(1.0, r.Confidence(RIL.WORD) / 100.0))
            x0, y0, x1, y1 = (int(round(v / scale)) for v in bbox)
            lines[-1].append((text, conf, (x0, y0, max(x1, x0 + 1), max(y1, y0 + 1))))
        return lines


def _same_row(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    """Two word boxes on one text row: they overlap by at least half the smaller height."""
    return min(a[3], b[3]) - max(a[1], b[1]) >= 0.5 * min(a[3] - a[1], b[3] - b[1])
