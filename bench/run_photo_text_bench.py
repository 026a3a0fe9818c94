"""Printed PHI on wristbands, labels and badges through the whole pipeline.

For each image of the photo set (bench/make_photo_set.py) that carries printed PHI
words (names, MRNs, birth dates; turned by any angle, mild perspective, several
lightings), the image is screened by a default Screener and each printed word counts
as found when a text finding in the pixels (not a code's decoded value) contains it.
Also reports the verdicts and the seconds per image.

    OMP_THREAD_LIMIT=1 python bench/run_photo_text_bench.py SET_DIR [--limit N]
"""
from __future__ import annotations

import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from phi_guard import Screener  # noqa: E402


def main(set_dir: Path, limit: int | None = None) -> dict:
    items = [it for it in json.loads((set_dir / "labels.json").read_text()) if it.get("phi_words")][:limit]
    screener = Screener(threads=1)
    words = found = 0
    verdicts: Counter[str] = Counter()
    by_angle: dict[str, list[int]] = {}
    misses = []
    seconds = []
    for it in items:
        t0 = time.perf_counter()
        result = screener.screen(set_dir / it["file"])
        seconds.append(time.perf_counter() - t0)
        verdicts[result.verdict.value] += 1
        text = " ".join(f.raw_text.upper() for f in result.findings if f.boxes and f.kind not in ("BARCODE", "FACE"))
        angle = it["codes"][0]["angle"] if it["codes"] else 0
        key = str(int(angle)) if angle in (0, 90, 180, 270) else "other"
        for w in it["phi_words"]:
            hit = w.upper().strip(",") in text
            words += 1
            found += hit
            by_angle.setdefault(key, [0, 0])
            by_angle[key][0] += hit
            by_angle[key][1] += 1
            if not hit:
                misses.append(f"{it['file']} angle={angle} word={len(w)} chars")
    out = {
        "images": len(items),
        "PHI word recall": f"{found}/{words} = {found / max(words, 1):.3f}",
        "by label angle": {k: f"{a}/{b} = {a / b:.3f}" for k, (a, b) in sorted(by_angle.items())},
        "verdicts": dict(verdicts),
        "seconds per image, wall (median, max)": (round(statistics.median(seconds), 2), round(max(seconds), 2)),
        "misses": misses,
    }
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    args = sys.argv[1:]
    lim = int(args[args.index("--limit") + 1]) if "--limit" in args else None
    main(Path(args[0]), lim)
