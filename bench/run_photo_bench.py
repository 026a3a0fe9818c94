"""Face and code detection on the labelled photo set (bench/make_photo_set.py).

Reports face recall (faces >= 40 px and 20-40 px wide), code recall (masked) and
decode rate, false face masks on images with no face, false code masks on images with
no code, residual faces/codes after masking (fill and blur), and seconds per image for
each detector separately, on one thread (OMP and ONNX Runtime). A face or code counts
as found when the masks cover at least 90 % of its labelled box.

    OMP_NUM_THREADS=1 python bench/run_photo_bench.py [SET_DIR] [--faces-only] [--config NAME]
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from phi_guard.policy import RedactPolicy  # noqa: E402
from phi_guard.redact import redact  # noqa: E402
from phi_guard.vision import CodeDetector, FaceDetector, FacePolicy  # noqa: E402
from phi_guard.vision.faces import covered_fraction  # noqa: E402

FOUND = 0.9
CONFIGS = {
    "default": FacePolicy(),
    "upright-only": FacePolicy(rotations=False),
    "budget-100k": FacePolicy(max_pixels_per_pass=100_000),
    "budget-200k": FacePolicy(max_pixels_per_pass=200_000),
    "threshold-0.3": FacePolicy(score_threshold=0.3),
    "threshold-0.5": FacePolicy(score_threshold=0.5),
    "t0.25-200k": FacePolicy(score_threshold=0.25),
    "t0.25-400k": FacePolicy(score_threshold=0.25, max_pixels_per_pass=400_000),
    "t0.25-full": FacePolicy(score_threshold=0.25, min_size=14, max_pixels_per_pass=1_000_000),
}


def _ratio(a: int, b: int) -> str:
    return f"{a}/{b} = {a / b:.3f}" if b else "n/a"


def run(set_dir: Path, config: str = "default", faces_only: bool = False) -> dict:
    items = json.loads((set_dir / "labels.json").read_text())
    faces = FaceDetector(CONFIGS[config], threads=1)
    codes = CodeDetector()
    faces.warm_up()
    fill = RedactPolicy(style="fill", fill_color=(0, 0, 0), padding_px=0, padding_ratio=0.0)
    blur = RedactPolicy(style="blur", fill_color=(0, 0, 0), padding_px=0, padding_ratio=0.0)
    n = {k: 0 for k in ("large", "large_hit", "small", "small_hit", "codes", "codes_hit", "decoded", "noface", "noface_fp",
                        "nocode", "nocode_fp", "residual_fill", "residual_blur", "residual_code", "masked_images")}
    t_face, t_code, t_face_clean, t_code_clean = [], [], [], []
    # CPU time of this thread (ONNX Runtime and zxing run in it with one thread): the
    # cost on one core, much less sensitive than wall time to other jobs on the machine.
    cpu_face, cpu_code, cpu_face_clean, cpu_code_clean = [], [], [], []
    misses = []
    runs_noface: list[int] = []
    cpu_face_noface: list[float] = []
    by_rotation: dict[int, list[int]] = {}
    by_tone: dict[str, list[int]] = {}
    by_symbology: dict[str, list[int]] = {}
    for it in items:
        img = np.array(Image.open(set_dir / it["file"]).convert("RGB"))
        c0 = time.thread_time()
        fs = faces.search(img)
        t_face.append(fs.seconds)
        cpu_face.append(time.thread_time() - c0)
        face_masks = [f.box for f in fs.faces]
        for gt in it["faces"]:
            size = "large" if gt["width"] >= 40 else "small"
            hit = covered_fraction(tuple(gt["box"]), face_masks) >= FOUND
            n[size] += 1
            n[size + "_hit"] += hit
            by_rotation.setdefault(gt["rotation"], [0, 0])[0] += hit
            by_rotation[gt["rotation"]][1] += 1
            by_tone.setdefault(gt["tone"], [0, 0])[0] += hit
            by_tone[gt["tone"]][1] += 1
            if not hit:
                misses.append(f"face {it['file']} w={gt['width']} rot={gt['rotation']} tone={gt['tone']} cover={gt['cover']} found={[f.core for f in fs.faces]}")
        if not it["faces"]:
            runs_noface.append(fs.passes)
            cpu_face_noface.append(cpu_face[-1])
            n["noface"] += 1
            n["noface_fp"] += bool(fs.faces)
            if fs.faces:
                misses.append(f"false face {it['file']} {[(f.core, f.score, f.rotation) for f in fs.faces]}")
        if face_masks:  # verification after masking: nothing must fire outside the masks
            n["masked_images"] += 1
            n["residual_fill"] += bool(faces.faces_outside_masks(redact(img, face_masks, fill), face_masks))
            n["residual_blur"] += bool(faces.faces_outside_masks(redact(img, face_masks, blur), face_masks))
        if faces_only:
            continue
        c0 = time.thread_time()
        cs = codes.search(img)
        t_code.append(cs.seconds)
        cpu_code.append(time.thread_time() - c0)
        if not it["faces"] and not it["codes"]:
            t_face_clean.append(fs.seconds)
            t_code_clean.append(cs.seconds)
            cpu_face_clean.append(cpu_face[-1])
            cpu_code_clean.append(cpu_code[-1])
        code_masks = [c.box for c in cs.codes]
        for gt in it["codes"]:
            hit = covered_fraction(tuple(gt["box"]), code_masks) >= FOUND
            n["codes"] += 1
            n["codes_hit"] += hit
            decoded = any(c.decoded and covered_fraction(tuple(gt["box"]), [c.box]) >= FOUND for c in cs.codes)
            n["decoded"] += decoded
            by_symbology.setdefault(gt["symbology"], [0, 0, 0])
            by_symbology[gt["symbology"]][0] += hit
            by_symbology[gt["symbology"]][1] += decoded
            by_symbology[gt["symbology"]][2] += 1
            if not hit:
                misses.append(f"code {it['file']} {gt['symbology']} angle={gt['angle']} scale={gt['scale']} found={[(c.box, c.symbology) for c in cs.codes]}")
        if not it["codes"]:
            n["nocode"] += 1
            n["nocode_fp"] += bool(cs.codes)
            if cs.codes:
                misses.append(f"false code {it['file']} {[(c.box, c.symbology, c.found_by) for c in cs.codes]}")
        if code_masks:
            n["residual_code"] += bool(codes.decodable_codes(redact(img, code_masks, fill), code_masks))
    result = {
        "config": config,
        "images": len(items),
        "face recall >= 40 px": _ratio(n["large_hit"], n["large"]),
        "face recall 20-40 px": _ratio(n["small_hit"], n["small"]),
        "face recall by rotation": {k: _ratio(*v) for k, v in sorted(by_rotation.items())},
        "face recall by tone": {k: _ratio(*v) for k, v in sorted(by_tone.items())},
        "images with a false face mask (no face in image)": _ratio(n["noface_fp"], n["noface"]),
        "faces still detected after fill / blur (images)": f"{n['residual_fill']} / {n['residual_blur']} of {n['masked_images']}",
        "detector runs per image with no face (median, max)": (statistics.median(runs_noface), max(runs_noface)),
        "face seconds per image with no face, one-core CPU (median, max)": (round(statistics.median(cpu_face_noface), 4), round(max(cpu_face_noface), 4)),
        "face seconds per image, wall (median, max)": (round(statistics.median(t_face), 4), round(max(t_face), 4)),
        "face seconds per image, one-core CPU (median, max)": (round(statistics.median(cpu_face), 4), round(max(cpu_face), 4)),
    }
    if not faces_only:
        result.update({
            "code recall (masked)": _ratio(n["codes_hit"], n["codes"]),
            "codes decoded": _ratio(n["decoded"], n["codes"]),
            "by symbology (masked, decoded, of)": by_symbology,
            "images with a false code mask (no code in image)": _ratio(n["nocode_fp"], n["nocode"]),
            "codes still decodable after fill (images)": n["residual_code"],
            "code seconds per image, wall (median, max)": (round(statistics.median(t_code), 4), round(max(t_code), 4)),
            "code seconds per image, one-core CPU (median, max)": (round(statistics.median(cpu_code), 4), round(max(cpu_code), 4)),
            "no face, no code: face s / code s, wall (median)": (round(statistics.median(t_face_clean), 4), round(statistics.median(t_code_clean), 4)),
            "no face, no code: face s / code s, one-core CPU (median)": (round(statistics.median(cpu_face_clean), 4), round(statistics.median(cpu_code_clean), 4)),
            "no face, no code: face + code s, one-core CPU (median of the sums)": round(statistics.median(a + b for a, b in zip(cpu_face_clean, cpu_code_clean)), 4),
            "no face, no code: face + code s, one-core CPU (max)": round(max(a + b for a, b in zip(cpu_face_clean, cpu_code_clean)), 4),
        })
    result["misses"] = misses
    return result


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    config = sys.argv[sys.argv.index("--config") + 1] if "--config" in sys.argv else "default"
    if config in args:
        args.remove(config)
    set_dir = Path(args[0]) if args else ROOT / "bench" / "out" / "photo_set"
    started = time.perf_counter()
    out = run(set_dir, config, "--faces-only" in sys.argv)
    misses = out.pop("misses")
    print(json.dumps(out, indent=1))
    print(f"{len(misses)} misses / false alarms:")
    for m in misses[:60]:
        print("  " + m)
    print(f"load average {os.getloadavg()[0]:.2f} (2 cores; above ~1 the timings are from a busy machine); wall {time.perf_counter() - started:.0f} s")
