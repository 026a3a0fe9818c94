"""Where each missed face of the labelled photo sets is lost in the face search.

Runs ``FaceDetector.search`` on every image with a labelled face, recording each step
(the overview's heat-map peaks, the close looks, the closer looks, the detections the
min_size rule drops, the merge, the second opinion) and, for each face the bench counts
as missed (masks cover under 90 % of its labelled box), names the first step where it
was lost:

* ``no peak``: no overview peak of CANDIDATE_HEAT or more (nor a split peak of
  SPLIT_HEAT, the two strongest turns added) near the face (within half its width of
  its box) and no face decided by the overview;
* ``no window``: a peak near it, but no close look's window held the face (the peak
  was skipped: inside a face already found, or near a window already looked at);
* ``min_size``: the only detections of it were narrower than the size rule allows;
* ``close look``: a window held it, nothing scored WEAK_SCORE there;
* ``closer look``: the close look saw it weakly, the closer look not at the threshold
  (or there was no closer look: ``no closer look``);
* ``merge``: found at the threshold, but merged into another face;
* ``second opinion``: found and merged, not confirmed;
* ``mask``: confirmed, but the mask covers under 90 % of the labelled box.

For each miss it also prints the best score of a look centred on the labelled face at
its labelled width, scaled to 48, 80 and 112 px (all turns): what an ideal candidate
would get.

    OMP_NUM_THREADS=1 python bench/run_face_losses.py SET_DIR [SET_DIR ...]
"""
from __future__ import annotations

import collections
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from phi_guard.vision import FaceDetector, FacePolicy  # noqa: E402
from phi_guard.vision import faces as F  # noqa: E402

FOUND = 0.9


class Tracer:
    """Wraps one detector's steps and records what each produced."""

    def __init__(self, detector: FaceDetector) -> None:
        self.det = detector
        self.events: list[dict[str, Any]] = []
        self.phase = "overview"
        self._close_look = detector._close_look
        self._faces = detector._faces
        self._confirmed = detector._confirmed
        detector._close_look = self.close_look  # type: ignore[method-assign]
        detector._faces = self.faces  # type: ignore[method-assign]
        detector._confirmed = self.confirmed  # type: ignore[method-assign]

    def reset(self) -> None:
        self.events = []
        self.phase = "overview"

    def close_look(self, rgb: np.ndarray, cx: float, cy: float, face_w: float, thr: float, turns: tuple[int, ...],
                   looked_px: float = F.CLOSE_LOOK_PX, max_zoom: float = F.MAX_ZOOM, window_faces: float = F.WINDOW_FACES) -> list[F.Face]:
        outer = self.phase
        if self.phase != "confirm":
            self.phase = {F.CLOSE_LOOK_PX: "close", F.CLOSER_PX: "closer"}.get(looked_px, f"look{looked_px}")
        out = self._close_look(rgb, cx, cy, face_w, thr, turns, looked_px, max_zoom, window_faces)
        self.events.append({"step": self.phase, "cx": cx, "cy": cy, "fw": face_w, "faces": out})
        self.phase = outer
        return out

    def faces(self, boxes: list[tuple[float, float, float, float, float]], k: int, frame: tuple[int, int], zoom: tuple[float, float],
              origin: tuple[int, int], image: tuple[int, int], min_width: float = 0.0) -> list[F.Face]:
        kept = self._faces(boxes, k, frame, zoom, origin, image, min_width)
        policy = self.det.policy
        self.det.policy = dataclasses.replace(policy, min_size=1)
        try:
            every = self._faces(boxes, k, frame, zoom, origin, image, 0.0)
        finally:
            self.det.policy = policy
        small = [f for f in every if f.width * 1.0 < F.SIZE_TOLERANCE * policy.min_size]
        if small:
            self.events.append({"step": "dropped-small", "phase": self.phase, "faces": small})
        if self.phase == "overview":
            self.events.append({"step": "overview-decided", "faces": kept})
        return kept

    def confirmed(self, rgb: np.ndarray, face: F.Face, thr: float, turns: tuple[int, ...]) -> bool:
        self.phase = "confirm"
        ok = self._confirmed(rgb, face, thr, turns)
        self.phase = "done"
        self.events.append({"step": "confirmed" if ok else "refused", "face": face})
        return ok


def overview_peaks(det: FaceDetector, rgb: np.ndarray) -> list[tuple[float, float, float, float]]:
    """The overview's peaks as search() computes them, with their heat: (x, y, fw, heat)."""
    h, w = rgb.shape[:2]
    scale = det.overview_scale(w, h)
    work = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    wh, ww = work.shape[:2]
    out = []
    heats, widths = [], []
    for k in (0, 1, 2, 3):
        turned = np.rot90(work, k)
        outputs = det._infer(turned)
        heat = outputs[0][0, 0]
        heats.append(F._turned_back(heat, k, wh, ww))
        widths.append(F._turned_back(outputs[1][0, 1], k, wh, ww))
        for cx, cy, fw, v in F._peaks(outputs, *turned.shape[:2], 0.005):  # faint ones too, for the listing
            x, y = F._unrotate((cx, cy, cx, cy), k, ww, wh)[:2]
            out.append((x * w / ww, y * h / wh, fw * w / ww, v))
    split = np.sort(np.stack(heats), axis=0)
    for cx, cy, fw in F._split_peaks(heats, widths):  # heat split between turns: the two strongest added
        if fw * w / ww <= F.SPLIT_MAX_FACES * det.policy.min_size:
            out.append((cx * w / ww, cy * h / wh, fw * w / ww, float(split[-1, int(cy // 4), int(cx // 4)] + split[-2, int(cy // 4), int(cx // 4)])))
    return out


def matches(core: tuple[int, int, int, int], gt: list[int]) -> bool:
    """A detection is of the labelled face: its centre inside the face's box, and its
    width within half to twice the face's."""
    cx, cy = (core[0] + core[2]) / 2, (core[1] + core[3]) / 2
    gw = max(gt[2] - gt[0], gt[3] - gt[1])
    fw = max(core[2] - core[0], core[3] - core[1])
    return gt[0] <= cx <= gt[2] and gt[1] <= cy <= gt[3] and 0.4 <= fw / max(gw, 1) <= 2.5


def holds(ev: dict[str, Any], gt: list[int]) -> bool:
    """Whether a look's window held the whole face."""
    half = F.WINDOW_FACES * ev["fw"] / 2
    return ev["cx"] - half <= gt[0] and ev["cy"] - half <= gt[1] and ev["cx"] + half >= gt[2] and ev["cy"] + half >= gt[3]


def probe(det: FaceDetector, rgb: np.ndarray, gt: dict[str, Any]) -> dict[str, float]:
    """Best score of a look centred on the labelled face at its labelled width."""
    x0, y0, x1, y1 = gt["box"]
    out = {}
    for px in (48, 80, 112):
        seen = det._close_look(rgb, (x0 + x1) / 2, (y0 + y1) / 2, float(gt["width"]), 0.02, (0, 1, 2, 3), px, 4.0)
        out[str(px)] = round(max((f.score for f in seen if matches(f.core, gt["box"])), default=0.0), 3)
    return out


def classify(tr: Tracer, peaks: list[tuple[float, float, float, float]], final: list[F.Face], gt: dict[str, Any]) -> str:
    box = gt["box"]
    gw = gt["width"]
    if any(matches(f.core, box) for f in final):
        return "mask"
    ev = tr.events
    refused = [e for e in ev if e["step"] == "refused" and matches(e["face"].core, box)]
    if refused:
        return "second opinion"
    strong = [f for e in ev if e["step"] in ("close", "closer", "overview-decided") for f in e["faces"]
              if f.score >= tr.det.policy.score_threshold and matches(f.core, box)]
    if strong:
        return "merge"
    weak = [f for e in ev if e["step"] == "close" for f in e["faces"] if matches(f.core, box)]
    if weak:
        closer = [e for e in ev if e["step"] == "closer" and holds(e, box)]
        return "closer look" if closer else "no closer look"
    if any(e["step"] == "dropped-small" and any(matches(f.core, box) for f in e["faces"]) for e in ev):
        return "min_size"
    windows = [e for e in ev if e["step"] == "close" and holds(e, box)]
    if windows:
        px = max(gw * min(F.CLOSE_LOOK_PX / e["fw"], F.MAX_ZOOM) for e in windows)
        return "close look" if px >= 0.5 * F.CLOSE_LOOK_PX else "close look, window too wide"
    near = [p for p in peaks if (p[3] >= F.CANDIDATE_HEAT or (p[3] >= F.FAINT_HEAT and p[2] <= F.SPLIT_MAX_FACES * tr.det.policy.min_size))
            and box[0] - gw / 2 <= p[0] <= box[2] + gw / 2 and box[1] - gw / 2 <= p[1] <= box[3] + gw / 2]
    return "no window" if near else "no peak"


def run(set_dir: Path, det: FaceDetector, tr: Tracer) -> tuple[collections.Counter[str], list[str], int, int]:
    items = json.loads((set_dir / "labels.json").read_text())
    steps: collections.Counter[str] = collections.Counter()
    lines = []
    n_small = hit_small = 0
    for it in items:
        if not it["faces"]:
            continue
        rgb = np.array(Image.open(set_dir / it["file"]).convert("RGB"))
        tr.reset()
        found = det.search(rgb)
        events = tr.events
        masks = [f.box for f in found.faces]
        for gt in it["faces"]:
            small = gt["width"] < 40
            hit = F.covered_fraction(tuple(gt["box"]), masks) >= FOUND
            n_small += small
            hit_small += small and hit
            if hit:
                continue
            peaks = overview_peaks(det, rgb)
            tr.events = events
            step = classify(tr, peaks, list(found.faces), gt)
            steps[("small " if small else "large ") + step] += 1
            windows = [round(gt["width"] * min(F.CLOSE_LOOK_PX / e["fw"], F.MAX_ZOOM)) for e in events
                       if e["step"] == "close" and holds(e, gt["box"])]
            near = [(round(p[3], 3), round(p[2])) for p in peaks
                    if gt["box"][0] - gt["width"] / 2 <= p[0] <= gt["box"][2] + gt["width"] / 2
                    and gt["box"][1] - gt["width"] / 2 <= p[1] <= gt["box"][3] + gt["width"] / 2]
            seen = [(e["step"], round(f.score, 3), f.width, f.rotation) for e in events if "faces" in e
                    for f in e["faces"] if matches(f.core, gt["box"])]
            lines.append(f"{set_dir.name} {it['file']} w={gt['width']} rot={gt['rotation']} tone={gt['tone']} "
                         f"cover={gt['cover']} -> {step}; face px in windows {sorted(windows)[-3:]}; peaks near (heat, predicted px) {near[:4]}; "
                         f"seen {seen[:6]}; ideal look {probe(det, rgb, gt)}")
    return steps, lines, n_small, hit_small


if __name__ == "__main__":
    detector = FaceDetector(FacePolicy(), threads=1)
    detector.warm_up()
    tracer = Tracer(detector)
    total: collections.Counter[str] = collections.Counter()
    for arg in sys.argv[1:]:
        counts, misses, n, hit = run(Path(arg), detector, tracer)
        total += counts
        print(f"== {arg}: small faces {hit}/{n}; lost at {dict(counts)}")
        for line in misses:
            print("  " + line)
    print("all sets, misses by step:", json.dumps(dict(sorted(total.items())), indent=1))
