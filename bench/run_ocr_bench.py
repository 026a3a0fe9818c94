"""OCR choice: how many ground-truth PHI words each engine configuration *reads*
(an OCR word overlapping the box with >= 0.8 similar text), and seconds per image,
on the labelled synthetic set and Presidio's pseudo-PHI renders. Recall per second
decided the default engines. Usage: python bench/run_ocr_bench.py"""
from __future__ import annotations

import difflib
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ["OMP_THREAD_LIMIT"] = "1"
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from run_core_bench import OUT, norm, presidio_set  # noqa: E402

from phi_guard.ocr import read_frame  # noqa: E402
from phi_guard.ocr.rapid import RapidOcrEngine  # noqa: E402
from phi_guard.ocr.tesseract import TesseractEngine, find_tessdata  # noqa: E402


class PlainTesseract:
    """Tesseract as most tools run it: default page segmentation, the image as is."""

    name = "tesseract-default"

    def __init__(self) -> None:
        import tesserocr

        self.api = tesserocr.PyTessBaseAPI(path=find_tessdata(), lang="eng")
        self.t = tesserocr

    def version(self) -> str:
        return "tesseract default"

    def read(self, image, tag=""):  # noqa: ANN001
        from phi_guard.ocr.base import OcrReading
        from phi_guard.types import Word

        self.api.SetImage(Image.fromarray(image))
        self.api.Recognize()
        words = []
        it = self.api.GetIterator()
        if it:
            for r in self.t.iterate_level(it, self.t.RIL.WORD):
                try:
                    text = r.GetUTF8Text(self.t.RIL.WORD)
                except RuntimeError:
                    continue
                box = r.BoundingBox(self.t.RIL.WORD)
                if text and box:
                    words.append(Word(text.strip(), r.Confidence(self.t.RIL.WORD) / 100, box, self.name, "l"))
        return OcrReading(tuple(words))


def read_words(items, engines) -> tuple[float, float]:
    hits = total = 0
    secs = []
    for it in items:
        im = np.asarray(Image.open(it["file"]).convert("L"))
        t = time.perf_counter()
        reading = read_frame(engines, im)
        secs.append(time.perf_counter() - t)
        for w in it["words"]:
            if not w["phi"]:
                continue
            total += 1
            x0, y0, x1, y1 = w["box"]
            target = norm(w["text"])
            for word in reading.words:
                b = word.box
                if b[0] < x1 and b[2] > x0 and b[1] < y1 and b[3] > y0:
                    got = norm(word.text)
                    if target and (target in got or difflib.SequenceMatcher(None, target, got).ratio() >= 0.8):
                        hits += 1
                        break
    return hits / max(total, 1), statistics.mean(secs)


def main() -> None:
    synth_dir = OUT / "synth"
    synth = json.loads((synth_dir / "ground_truth.json").read_text())
    for it in synth:
        it["file"] = str(synth_dir / it["file"])
    items = [it for it in synth if not it.get("clean")] + presidio_set()
    configs = {
        "tesseract, default settings": lambda: [PlainTesseract()],
        "tesseract, sparse text on grey": lambda: [TesseractEngine(passes=("gray",))],
        "tesseract, sparse text on top-hat renderings": lambda: [TesseractEngine()],
        "rapidocr": lambda: [RapidOcrEngine(threads=1)],
        "rapidocr + tesseract top-hat (default)": lambda: [RapidOcrEngine(threads=1), TesseractEngine()],
    }
    results = {}
    for name, make in configs.items():
        recall, sec = read_words(items, make())
        results[name] = {"phi_words_read": round(recall, 4), "seconds_per_image": round(sec, 3),
                         "recall_per_second": round(recall / sec, 3) if sec else None}
        print(name, results[name], flush=True)
    (OUT / "ocr_results.json").write_text(json.dumps({"images": len(items), "configs": results}, indent=1))


if __name__ == "__main__":
    main()
