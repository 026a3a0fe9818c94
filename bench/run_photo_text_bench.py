"""Printed PHI on wristbands, labels and badges through the whole pipeline.

For each image of the photo set (bench/make_photo_set.py) that carries printed PHI
words (names, MRNs, birth dates; turned by any angle, mild perspective, several
lightings), the image is screened by a default Screener and each printed word is
counted two ways:

- **hidden**: the output does not show it. At least ``COVERED`` of the word's ink
  quadrilateral (``phi_word_quads`` in labels.json) lies under the masks of the written
  output, whatever the mask was for (a text finding, a code's padded mask, unreadable
  text), or the image was blocked (nothing is written). This is what the issue asks.
- **found as text**: a text finding in the pixels (not a code's decoded value) contains
  the word, the stricter count kept from before, so nothing is hidden.

Also reports the verdicts and the seconds per image (wall; CPU of the process, which
screens on one thread, so a busy machine inflates it less; the OCR stage's wall time).

    OMP_THREAD_LIMIT=1 python bench/run_photo_text_bench.py SET_DIR [--limit N] [--only code_001,code_017]
"""
from __future__ import annotations

import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from phi_guard import Screener  # noqa: E402

COVERED = 0.8  # fraction of a word's ink quadrilateral under masks for it to count as hidden


def covered_fraction(quad: list[list[float]], masks: list[list[int]], shape: tuple[int, int]) -> float:
    """The fraction of the quadrilateral's pixels that lie under any of the mask boxes."""
    word = np.zeros(shape, np.uint8)
    cv2.fillPoly(word, [np.round(np.float32(quad)).astype(np.int32)], 1)
    under = np.zeros(shape, np.uint8)
    for x0, y0, x1, y1 in masks:
        under[y0:y1, x0:x1] = 1
    area = int(word.sum())
    return float((word & under).sum()) / max(area, 1)


def word_kind(word: str) -> str:
    return "date" if "/" in word else "number" if word.isdigit() else "name"


def _ratio(a: int, b: int) -> str:
    return f"{a}/{b} = {a / max(b, 1):.3f}"


def main(set_dir: Path, limit: int | None = None, only: set[str] | None = None) -> dict:
    items = [it for it in json.loads((set_dir / "labels.json").read_text()) if it.get("phi_words")]
    if only:
        items = [it for it in items if Path(it["file"]).stem in only]
    items = items[:limit]
    screener = Screener(threads=1)
    words = hidden = masked = as_text = 0
    verdicts: Counter[str] = Counter()
    by_angle: dict[str, list[int]] = {}
    by_kind: dict[str, list[int]] = {}
    misses = []
    seconds = []
    cpu = []
    ocr = []
    for it in items:
        t0, c0 = time.perf_counter(), time.process_time()
        result = screener.screen(set_dir / it["file"])
        seconds.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        ocr.append(result.report["timings_s"]["ocr"])
        verdicts[result.verdict.value] += 1
        text = " ".join(f.raw_text.upper() for f in result.findings if f.boxes and f.kind not in ("BARCODE", "FACE"))
        masks = result.report["redactions"]["boxes"]
        shape = (result.report["input"]["height"], result.report["input"]["width"])
        angle = it["codes"][0]["angle"] if it["codes"] else 0
        key = str(int(angle)) if angle in (0, 90, 180, 270) else "other"
        for w, quad in zip(it["phi_words"], it["phi_word_quads"]):
            cover = covered_fraction(quad, masks, shape)
            is_masked = cover >= COVERED
            is_hidden = is_masked or result.blocked
            is_text = w.upper().strip(",") in text
            words += 1
            hidden += is_hidden
            masked += is_masked
            as_text += is_text
            for table, k in ((by_angle, key), (by_kind, word_kind(w))):
                row = table.setdefault(k, [0, 0, 0])
                row[0] += is_hidden
                row[1] += is_text
                row[2] += 1
            if not is_hidden:
                misses.append(f"{it['file']} {it['codes'][0]['kind']} angle={angle} scale={it['codes'][0]['scale']} "
                              f"{word_kind(w)} of {len(w)} chars, {cover:.0%} under masks")
    out = {
        "images": len(items),
        "PHI words hidden in the output (masked >= 80 % or image blocked)": _ratio(hidden, words),
        "of which masked": _ratio(masked, words),
        "PHI words found as text (a text finding contains the word)": _ratio(as_text, words),
        "by label angle (hidden; found as text)": {k: f"{_ratio(a, n)}; {_ratio(t, n)}" for k, (a, t, n) in sorted(by_angle.items())},
        "by word kind (hidden; found as text)": {k: f"{_ratio(a, n)}; {_ratio(t, n)}" for k, (a, t, n) in sorted(by_kind.items())},
        "verdicts": dict(verdicts),
        "seconds per image, wall (median, max)": (round(statistics.median(seconds), 2), round(max(seconds), 2)),
        "CPU seconds per image, one thread (median, mean, max)": (round(statistics.median(cpu), 2), round(statistics.mean(cpu), 2),
                                                                  round(max(cpu), 2)),
        "OCR stage seconds per image, wall (median, mean)": (round(statistics.median(ocr), 2), round(statistics.mean(ocr), 2)),
        "misses (not hidden)": misses,
    }
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    args = sys.argv[1:]
    lim = int(args[args.index("--limit") + 1]) if "--limit" in args else None
    only_arg = set(args[args.index("--only") + 1].split(",")) if "--only" in args else None
    main(Path(args[0]), lim, only_arg)
