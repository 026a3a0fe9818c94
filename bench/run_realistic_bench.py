"""Realistic-set benchmark (issue 10): phi_guard and presidio-image-redactor side by side,
same files, one run, per set.

Metrics (per set, per tool):
- PHI word recall: a PHI word is caught when its glyphs are changed in the output's
  native pixels and an independent Tesseract cannot read it (``run_core_bench.leaked``,
  applied to each word's box with one contrast stretch for input and output, taken from
  the input's box: text stamped at a value outside the display window is judged by what
  anyone re-windowing the file would see). A blocked file catches all its words.
- PHI hidden by the window: the same, for the PHI words the stored window shows with no
  contrast (their text lies outside the window).
- ``outside_window_unchanged``: files whose text lies outside the stored window and that
  came out with every hidden PHI word unchanged (the case issue 10 starts from).
- markers kept, field labels kept, other text kept (box unchanged), separately.
- clean images blocked; seconds per image (phi_guard: warm ``Screener.screen``; peer:
  its redact call).

Usage: python bench/run_realistic_bench.py [--sets a,b] [--no-peer] [--no-build]
(regenerates the sets into bench/out/realistic; results -> bench/out/realistic_results.json)
       python bench/run_realistic_bench.py --rescore   (score the last run's outputs again)
       python bench/run_realistic_bench.py --table     (the markdown table of the last run)
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_THREAD_LIMIT", "1")
import numpy as np  # noqa: E402
import pydicom  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
SET_DIR = OUT / "realistic"
sys.path.insert(0, str(ROOT / "bench"))
from make_realistic_set import build, load  # noqa: E402
from run_core_bench import PEER_PY, grey, leaked, run_peer, run_phi_guard  # noqa: E402

CLASSES = ("phi", "marker", "label", "other")


def display_frames(path: Path) -> list[np.ndarray]:
    """A DICOM file's frames as float grey in display polarity (modality LUT applied,
    MONOCHROME1 negated; colour and palette images as luminance). No window: the
    scorer stretches each word's box itself."""
    from pydicom.pixels import apply_color_lut, apply_modality_lut

    ds = pydicom.dcmread(path)
    arr = ds.pixel_array
    spp = int(getattr(ds, "SamplesPerPixel", 1))
    nframes = int(getattr(ds, "NumberOfFrames", 1) or 1)
    frames = list(arr) if nframes > 1 else [arr]
    out = []
    for f in frames:
        if spp == 3:
            g = f[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        elif ds.PhotometricInterpretation == "PALETTE COLOR":
            rgb = apply_color_lut(f, ds).astype(np.float32)
            g = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
        else:
            g = apply_modality_lut(f, ds).astype(np.float32)
            if ds.PhotometricInterpretation == "MONOCHROME1":
                g = -g
        out.append(g)
    return out


def judge_word(src: np.ndarray, out: np.ndarray, word: dict) -> tuple[float, bool]:
    """(fraction of the word's pixels changed, still readable) through one contrast
    stretch taken from the input's box, applied to a crop of input and output."""
    h, w = src.shape
    x0, y0, x1, y1 = (max(0, word["box"][0]), max(0, word["box"][1]), min(w, word["box"][2]), min(h, word["box"][3]))
    if x1 <= x0 or y1 <= y0:
        return 1.0, False
    pad = max(8, (y1 - y0))
    cx0, cy0, cx1, cy1 = max(0, x0 - pad), max(0, y0 - pad), min(w, x1 + pad), min(h, y1 + pad)
    box = src[y0:y1, x0:x1]
    lo, hi = float(box.min()), float(box.max())
    scale = 255.0 / max(hi - lo, 1e-6)

    def stretch(a: np.ndarray) -> np.ndarray:
        return np.clip((a[cy0:cy1, cx0:cx1] - lo) * scale, 0, 255).astype(np.uint8)

    shifted = {**word, "box": [x0 - cx0, y0 - cy0, x1 - cx0, y1 - cy0]}
    return leaked(stretch(src), stretch(out), shifted)


def image_frames(path: Path) -> list[np.ndarray]:
    return [grey(path).astype(np.float32)]


def score(items: list[dict], outputs: dict[str, Path | None]) -> dict:
    counts = {c: [0, 0] for c in CLASSES}  # [total, caught-or-kept]
    hidden = [0, 0]
    clean_total = clean_blocked = blocked = unreadable_outputs = 0
    outside_unchanged: list[str] = []
    leaks: list[str] = []
    lost: list[str] = []  # markers and labels the output changed
    for it in items:
        outp = outputs.get(it["file"])
        is_dicom = it["kind"] == "dicom"
        if it.get("clean"):
            clean_total += 1
            clean_blocked += outp is None
        if outp is None:
            blocked += 1
            for wd in it["words"]:
                if wd["cls"] == "phi":
                    counts["phi"][0] += 1
                    counts["phi"][1] += 1
                    hidden[0] += bool(wd.get("hidden_in_window"))
                    hidden[1] += bool(wd.get("hidden_in_window"))
                else:
                    counts[wd["cls"]][0] += 1
            continue
        src_frames = display_frames(Path(it["file"])) if is_dicom else image_frames(Path(it["file"]))
        try:
            out_frames = display_frames(outp) if is_dicom else image_frames(outp)
        except Exception:  # noqa: BLE001 - an output nobody can decode is counted as leaking nothing useful, but flagged
            out_frames = None
            unreadable_outputs += 1
        hidden_left = 0
        for wd in it["words"]:
            cls = wd["cls"]
            for fi in wd.get("frames", it["frames_with_text"]):
                counts[cls][0] += 1
                if wd.get("hidden_in_window") and cls == "phi":
                    hidden[0] += 1
                if out_frames is None or fi >= len(out_frames) or out_frames[fi].shape[:2] != src_frames[fi].shape[:2]:
                    changed, readable = 1.0, False  # a different geometry: not comparable, counted as changed
                else:
                    changed, readable = judge_word(src_frames[fi], out_frames[fi], wd)
                if cls == "phi":
                    caught = changed >= 0.5 and not readable
                    counts[cls][1] += caught
                    if wd.get("hidden_in_window"):
                        hidden[1] += caught
                        hidden_left += changed < 0.05
                    if not caught:
                        leaks.append(f"{Path(it['file']).name} [{it['case']}] {wd['text']!r} changed={changed:.2f} readable={readable}")
                else:
                    counts[cls][1] += changed < 0.05
                    if cls in ("marker", "label") and changed >= 0.05:
                        lost.append(f"{Path(it['file']).name} [{it['case']}] {cls} {wd['text']!r} changed={changed:.2f}")
        n_hidden = sum(1 for wd in it["words"] if wd.get("hidden_in_window") and wd["cls"] == "phi")
        if n_hidden and hidden_left == n_hidden:
            outside_unchanged.append(Path(it["file"]).name)

    def rate(c: str) -> float | None:
        return round(counts[c][1] / counts[c][0], 3) if counts[c][0] else None

    return {"files": len(items), "phi_words": counts["phi"][0], "phi_recall": rate("phi"),
            "phi_hidden_by_window": hidden[0], "hidden_recall": round(hidden[1] / hidden[0], 3) if hidden[0] else None,
            "outside_window_files": sum(bool(it.get("outside_window")) for it in items),
            "outside_window_unchanged": outside_unchanged,
            "markers": counts["marker"][0], "markers_kept": rate("marker"),
            "labels": counts["label"][0], "labels_kept": rate("label"),
            "other": counts["other"][0], "other_kept": rate("other"),
            "clean_files": clean_total, "clean_blocked": clean_blocked, "blocked": blocked,
            "unreadable_outputs": unreadable_outputs, "leaks": leaks,
            "lost": lost}


def run_peer_dicom(items: list[dict], out_dir: Path) -> tuple[dict, dict]:
    files = [it["file"] for it in items]
    subprocess.run([str(PEER_PY), str(ROOT / "bench" / "peer_dicom_redact.py"), str(out_dir)] + files, check=True,
                   env={**os.environ, "OMP_THREAD_LIMIT": "1"})
    timings = json.loads((out_dir / "timings.json").read_text())
    per = list(timings.values())
    return {f: out_dir / Path(f).name for f in files}, {"mean_s": round(statistics.mean(per), 3), "median_s": round(statistics.median(per), 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default="", help="comma-separated set names (default: all)")
    ap.add_argument("--no-peer", action="store_true", help="phi_guard only")
    ap.add_argument("--no-build", action="store_true", help="reuse the generated sets")
    args = ap.parse_args()
    if not args.no_build:
        build(SET_DIR)
    sets = load(SET_DIR)
    if args.sets:
        sets = {k: v for k, v in sets.items() if k in args.sets.split(",")}
    from phi_guard import Screener

    screener = Screener(threads=1)
    t = time.perf_counter()
    screener.screen(next(iter(sets.values()))[0]["file"])  # warm-up: model loading is not per-image cost
    warm_up_s = time.perf_counter() - t
    results: dict = {"warm_up_s": round(warm_up_s, 2), "load_1min": os.getloadavg()[0], "sets": {}}
    for name, items in sets.items():
        dicom = items[0]["kind"] == "dicom"
        pg_out, pg_t = run_phi_guard(items, OUT / "realistic_out" / f"phi_guard_{name}", "DICOM" if dicom else "PNG", screener=screener)
        pg_t.pop("screener")
        per_file = pg_t.pop("per_file_s")
        verdicts = pg_t.pop("verdicts")
        entry = {"phi_guard": {**score(items, pg_out), **pg_t,
                               "verdicts": {Path(f).name: v for f, v in verdicts.items()},
                               "per_file_s": {Path(f).name: round(s, 2) for f, s in per_file.items()}}}
        if not args.no_peer:
            peer_dir = OUT / "realistic_out" / f"peer_{name}"
            peer_out, peer_t = run_peer_dicom(items, peer_dir) if dicom else run_peer(items, peer_dir)
            entry["presidio_image_redactor"] = {**score(items, peer_out), **peer_t}
        results["sets"][name] = entry
        brief = {tool: {k: v for k, v in r.items() if k not in ("leaks", "lost", "verdicts", "per_file_s")} for tool, r in entry.items()}
        print(name, json.dumps(brief), flush=True)
    results["load_1min_end"] = os.getloadavg()[0]
    previous = OUT / "realistic_results.json"
    if args.sets and previous.exists():  # a partial run updates its sets in the last full run
        merged = json.loads(previous.read_text())
        merged["sets"].update(results["sets"])
        results = merged
    (OUT / "realistic_results.json").write_text(json.dumps(results, indent=1))
    print(table(results))


def rescore() -> None:
    """Score the outputs already in bench/out/realistic_out again against freshly built
    ground truth (same seeds, same pixels), keeping the run's timings and verdicts."""
    results = json.loads((OUT / "realistic_results.json").read_text())
    build(SET_DIR)
    sets = load(SET_DIR)
    for name, entry in results["sets"].items():
        items = sets[name]
        dicom = items[0]["kind"] == "dicom"
        for tool, prefix in (("phi_guard", "phi_guard"), ("presidio_image_redactor", "peer")):
            if tool not in entry:
                continue
            d = OUT / "realistic_out" / f"{prefix}_{name}"
            outs = {}
            for it in items:
                p = d / (Path(it["file"]).name if dicom else Path(it["file"]).stem + ".png")
                outs[it["file"]] = p if p.exists() else None
            keep = {k: entry[tool][k] for k in ("mean_s", "median_s", "verdicts", "per_file_s") if k in entry[tool]}
            entry[tool] = {**score(items, outs), **keep}
    (OUT / "realistic_results.json").write_text(json.dumps(results, indent=1))
    print(table(results))


def table(results: dict) -> str:
    """The markdown table for docs/benchmarks.md."""
    rows = ["| set | files | tool | PHI recall | hidden-by-window recall | outside-window files unchanged | markers kept | labels kept | clean blocked | s/image |",
            "|---|---:|---|---:|---:|---|---:|---:|---:|---:|"]
    for name, entry in results["sets"].items():
        for tool, r in entry.items():
            unchanged = f"{len(r['outside_window_unchanged'])} of {r['outside_window_files']}" if r["outside_window_files"] else "-"
            fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
            rows.append(f"| {name} | {r['files']} | {'phi_guard' if tool == 'phi_guard' else 'presidio'} | {fmt(r['phi_recall'])} ({r['phi_words']}) | "
                        f"{fmt(r['hidden_recall'])} ({r['phi_hidden_by_window']}) | {unchanged} | {fmt(r['markers_kept'])} ({r['markers']}) | "
                        f"{fmt(r['labels_kept'])} ({r['labels']}) | {r['clean_blocked']}/{r['clean_files']} | {r['mean_s']:.2f} |")
    return "\n".join(rows)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--table"]:
        print(table(json.loads((OUT / "realistic_results.json").read_text())))
    elif sys.argv[1:2] == ["--rescore"]:
        rescore()
    else:
        main()
