"""Phone-sized photos, read in full or scaled to the size they will be shared
(``output.max_side``, the web page's default 2048 px).

The labelled photo set (bench/make_photo_set.py, 1024x768) is enlarged to a phone
camera's 4032x3024 (12 MP, Lanczos, JPEG quality 92): softer than a real phone photo,
the same pixel count. Each photo is screened whole by one warm Screener on one thread,
once at full size and once with ``max_side`` 2048, and for each the bench counts what
the written output hides: labelled faces and codes (at least 90 % of the box under
masks, or the image blocked) and printed PHI words (at least 80 % of the word's ink
under masks, or blocked), with CPU seconds per photo.

    OMP_THREAD_LIMIT=1 OMP_NUM_THREADS=1 python bench/run_phone_size.py SET_DIR [N_PER_GROUP]
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OMP_THREAD_LIMIT", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from run_photo_text_bench import COVERED, covered_fraction  # noqa: E402

from phi_guard import Policy, Screener  # noqa: E402

PHONE = (4032, 3024)
FOUND = 0.9  # share of a face's or code's labelled box under masks for it to count


def _box_cover(box: list[float], masks: list[list[int]], shape: tuple[int, int]) -> float:
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    inside = np.zeros(shape, bool)
    for a, b, c, d in masks:
        inside[b:d, a:c] = True
    region = inside[max(y0, 0):y1, max(x0, 0):x1]
    return float(region.mean()) if region.size else 0.0


def _scaled_quad(quad: list[list[float]], f: float) -> list[list[float]]:
    return [[x * f, y * f] for x, y in quad]


def main(set_dir: Path, per_group: int) -> dict:
    items = json.loads((set_dir / "labels.json").read_text())
    picked = []
    for group in ("face-large", "face-small", "code"):
        picked += [it for it in items if it["group"] == group][:per_group]
    screener = Screener(threads=1)
    sizes = {"full (4032 px)": Policy.default(), "max_side 2048": Policy.default().with_max_side(2048)}
    rows = {name: {"faces": [0, 0], "codes": [0, 0], "words": [0, 0], "cpu": []} for name in sizes}
    with tempfile.TemporaryDirectory() as tmp:
        screener.screen(set_dir / picked[0]["file"])  # warm
        for it in picked:
            src = Image.open(set_dir / it["file"]).convert("RGB")
            f = PHONE[0] / src.width
            path = Path(tmp) / (Path(it["file"]).stem + ".jpg")
            src.resize((PHONE[0], round(src.height * f)), Image.LANCZOS).save(path, quality=92)
            for name, policy in sizes.items():
                c0 = time.process_time()
                result = screener.screen(path, policy=policy)
                rows[name]["cpu"].append(time.process_time() - c0)
                masks = result.report["redactions"]["boxes"]
                shape = (result.report["input"]["height"], result.report["input"]["width"])
                k = shape[1] / src.width  # label coordinates -> screened coordinates
                for kind, labels in (("faces", it["faces"]), ("codes", it["codes"])):
                    for lab in labels:
                        box = [v * k for v in lab["box"]]
                        rows[name][kind][0] += result.blocked or _box_cover(box, masks, shape) >= FOUND
                        rows[name][kind][1] += 1
                for quad in it.get("phi_word_quads", []):
                    hidden = result.blocked or covered_fraction(_scaled_quad(quad, k), masks, shape) >= COVERED
                    rows[name]["words"][0] += hidden
                    rows[name]["words"][1] += 1
    out = {
        "photos": len(picked),
        **{name: {"faces hidden": f"{r['faces'][0]}/{r['faces'][1]}", "codes hidden": f"{r['codes'][0]}/{r['codes'][1]}",
                  "PHI words hidden": f"{r['words'][0]}/{r['words'][1]}",
                  "CPU s per photo (median, max)": (round(statistics.median(r["cpu"]), 2), round(max(r["cpu"]), 2))}
           for name, r in rows.items()},
    }
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 4)
