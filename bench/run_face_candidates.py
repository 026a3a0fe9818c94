"""Compare face detector candidates on the labelled photo set: recall (>= 40 px and
20-40 px), images with a false face on photos with no face, one-core CPU seconds.

Candidates: CenterFace (phi_guard.vision, four 90-degree passes, and upright only) and
OpenCV's LBP frontal-face cascade run by scikit-image (bench extra; the Haar cascades
are gone from the OpenCV 5 wheels this project installs, and OpenCV 5 has no
CascadeClassifier any more). The cascade gets the same four turns as CenterFace.

    OMP_NUM_THREADS=1 python bench/run_face_candidates.py [SET_DIR]
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from phi_guard.vision import FaceDetector, FacePolicy  # noqa: E402
from phi_guard.vision.faces import _unrotate, covered_fraction  # noqa: E402


def lbp_cascade():
    import cv2
    from skimage.data import lbp_frontal_face_cascade_filename
    from skimage.feature import Cascade

    cascade = Cascade(lbp_frontal_face_cascade_filename())

    def detect(rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        h, w = grey.shape
        boxes = []
        for k in range(4):
            turned = np.ascontiguousarray(np.rot90(grey, k))
            for d in cascade.detect_multi_scale(img=turned, scale_factor=1.2, step_ratio=1, min_size=(18, 18), max_size=(400, 400)):
                x0, y0 = d["c"], d["r"]
                box = _unrotate((x0, y0, x0 + d["width"], y0 + d["height"]), k, w, h)
                # Pad like phi_guard pads CenterFace's box (the cascade's box is tighter).
                bw, bh = box[2] - box[0], box[3] - box[1]
                boxes.append((int(box[0] - 0.3 * bw), int(box[1] - 0.3 * bh), int(box[2] + 0.3 * bw), int(box[3] + 0.3 * bh)))
        return boxes

    return detect


def centerface(policy: FacePolicy):
    detector = FaceDetector(policy, threads=1)
    detector.warm_up()
    return lambda rgb: [f.box for f in detector.detect(rgb)]


def evaluate(set_dir: Path, name: str, detect) -> dict:
    items = json.loads((set_dir / "labels.json").read_text())
    n = {"large": 0, "large_hit": 0, "small": 0, "small_hit": 0, "noface": 0, "noface_fp": 0}
    cpu = []
    for it in items:
        img = np.array(Image.open(set_dir / it["file"]).convert("RGB"))
        c0 = time.thread_time()
        masks = detect(img)
        cpu.append(time.thread_time() - c0)
        for gt in it["faces"]:
            size = "large" if gt["width"] >= 40 else "small"
            n[size] += 1
            n[size + "_hit"] += covered_fraction(tuple(gt["box"]), masks) >= 0.9
        if not it["faces"]:
            n["noface"] += 1
            n["noface_fp"] += bool(masks)
    return {
        "candidate": name,
        "recall >= 40 px": round(n["large_hit"] / max(n["large"], 1), 3),
        "recall 20-40 px": round(n["small_hit"] / max(n["small"], 1), 3),
        "false-face images": f"{n['noface_fp']}/{n['noface']}",
        "one-core CPU s/image (median)": round(float(np.median(cpu)), 4),
    }


if __name__ == "__main__":
    set_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "bench" / "out" / "photo_set"
    rows = [
        evaluate(set_dir, "CenterFace, 4 turns (phi_guard default)", centerface(FacePolicy())),
        evaluate(set_dir, "CenterFace, upright only", centerface(FacePolicy(rotations=False))),
        evaluate(set_dir, "LBP frontal cascade (OpenCV data, scikit-image), 4 turns", lbp_cascade()),
    ]
    for row in rows:
        print(json.dumps(row))
    print(f"load average {os.getloadavg()[0]:.2f} (2 cores)")
