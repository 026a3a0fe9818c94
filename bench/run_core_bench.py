"""Core benchmark: phi_guard vs presidio-image-redactor on the same images, one run.

Accuracy: a PHI word leaks if its box is mostly unchanged in the output, or if an
independent reader (Tesseract through pytesseract, default settings, on the upscaled
crop) still reads it. Non-PHI kept: the marker's box is unchanged. Block rate.
Speed: warm screen() of a 1024x1024 image on one core; CLI cold start; peak memory.
Usage: python bench/run_core_bench.py [N_SYNTH]   (results -> bench/out/, docs/benchmarks.md by hand)
"""
from __future__ import annotations

import difflib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ["OMP_THREAD_LIMIT"] = "1"
import numpy as np  # noqa: E402
import pytesseract  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
SHARED = ROOT.parent / "shared" / "data" / "01_dicom_burned_in" / "presidio"
PEER_PY = ROOT / "bench" / ".venv-peer" / "bin" / "python"
sys.path.insert(0, str(ROOT / "bench"))


def presidio_set(suffix: str = ".png", under: str = "presidio-image-redactor/tests/test_data/png_images/") -> list[dict]:
    """Presidio's pseudo-PHI files with their ground-truth PHI word boxes."""
    gt = json.loads((SHARED / "ground_truth_normalized.json").read_text())
    items = []
    for key, boxes in gt.items():
        if key.endswith(suffix) and key.startswith(under):
            words = [{"text": b["text"], "phi": True, "box": [b["left"], b["top"], b["left"] + b["width"], b["top"] + b["height"]]} for b in boxes]
            items.append({"file": str(SHARED / key), "words": words, "set": "presidio", "frames_with_text": [0]})
    return items


def norm(s: str) -> str:
    return "".join(c for c in s.upper() if c.isalnum())


def leaked(src: np.ndarray, out: np.ndarray, word: dict) -> tuple[bool, bool]:
    """(changed-enough, readable) for a word box."""
    x0, y0, x1, y1 = word["box"]
    a = src[y0:y1, x0:x1].astype(int)
    b = out[y0:y1, x0:x1].astype(int)
    # Judge the glyph pixels (those that differ from the box's background), not the
    # whole box: a black fill over white-on-black text leaves the background as it was.
    glyph = np.abs(a - np.median(a)) > max(20, 0.25 * (int(a.max()) - int(a.min()))) if a.size else np.zeros((0,), bool)
    # A word's pixels count as changed when either its glyphs or its box changed:
    # a black fill over black-on-white text leaves the glyph pixels black.
    diff = np.abs(a - b) > 10
    whole = float(diff.mean()) if a.size else 1.0
    changed = max(whole, float(diff[glyph].mean()) if glyph.any() else whole)
    pad = max(4, (y1 - y0) // 2)
    crop = Image.fromarray(out[max(0, y0 - pad) : y1 + pad, max(0, x0 - pad) : x1 + pad])
    crop = crop.resize((crop.width * 3, crop.height * 3))
    text = norm(pytesseract.image_to_string(crop, config="--psm 7"))
    target = norm(word["text"])
    readable = bool(target) and (target in text or difflib.SequenceMatcher(None, target, text).ratio() >= 0.8)
    return changed, readable


def grey(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L"))


def score(items: list[dict], outputs: dict[str, Path | None]) -> dict:
    phi_total = phi_leaks = non_total = non_kept = 0
    blocked = clean_blocked = clean_total = 0
    for it in items:
        src = grey(Path(it["file"]))
        outp = outputs.get(it["file"])
        if it.get("clean"):
            clean_total += 1
            clean_blocked += outp is None
        if outp is None:
            blocked += 1
            phi_total += sum(w["phi"] for w in it["words"])
            continue
        out = grey(outp)
        if out.shape != src.shape:
            out = np.asarray(Image.fromarray(out).resize(src.shape[::-1]))
        for w in it["words"]:
            changed, readable = leaked(src, out, w)
            if w["phi"]:
                phi_total += 1
                leak = (changed < 0.5) or readable
                phi_leaks += leak
                if leak and os.environ.get("BENCH_VERBOSE"):
                    print(f"  leak {Path(it['file']).name} {w['text']!r} changed={changed:.2f} readable={readable}")
            else:
                non_total += 1
                non_kept += changed < 0.05
    return {
        "phi_words": phi_total, "phi_leaked": phi_leaks, "recall": round(1 - phi_leaks / max(phi_total, 1), 4),
        "non_phi_words": non_total, "non_phi_kept": round(non_kept / max(non_total, 1), 4),
        "images": len(items), "blocked": blocked, "clean_images": clean_total, "clean_blocked": clean_blocked,
    }


def run_phi_guard(items: list[dict], out_dir: Path, output_format: str = "PNG", screener=None) -> tuple[dict, dict]:
    """Screen every item with one Screener (a new one unless given); outputs named
    <stem>.png (or the input's name for DICOM); a blocked item maps to None."""
    from phi_guard import Screener

    out_dir.mkdir(parents=True, exist_ok=True)
    screener = screener or Screener(threads=1)
    from phi_guard.errors import PhiGuardError

    outputs, secs, verdicts = {}, [], {}
    for it in items:
        t = time.perf_counter()
        try:
            r = screener.screen(it["file"], output_format=output_format)
        except PhiGuardError as exc:  # refused (bad input): nothing shared, like a block
            secs.append(time.perf_counter() - t)
            outputs[it["file"]], verdicts[it["file"]] = None, f"ERROR {type(exc).__name__}"
            continue
        secs.append(time.perf_counter() - t)
        verdicts[it["file"]] = str(getattr(r.verdict, "value", r.verdict))
        if r.safe_bytes is None:
            outputs[it["file"]] = None
        else:
            name = Path(it["file"]).name if output_format == "DICOM" else Path(it["file"]).stem + ".png"
            p = out_dir / name
            p.write_bytes(r.safe_bytes)
            outputs[it["file"]] = p
    return outputs, {"mean_s": round(statistics.mean(secs), 3), "median_s": round(statistics.median(secs), 3), "screener": screener,
                     "per_file_s": dict(zip((it["file"] for it in items), secs)), "verdicts": verdicts}


def run_peer(items: list[dict], out_dir: Path) -> tuple[dict, dict]:
    files = [it["file"] for it in items]
    subprocess.run([str(PEER_PY), str(ROOT / "bench" / "peer_redact.py"), str(out_dir)] + files, check=True,
                   env={**os.environ, "OMP_THREAD_LIMIT": "1"})
    timings = json.loads((out_dir / "timings.json").read_text())
    per = [v for k, v in timings.items() if k != "init"]
    return {f: out_dir / (Path(f).stem + ".png") for f in files}, {"mean_s": round(statistics.mean(per), 3), "median_s": round(statistics.median(per), 3)}


def speed(screener) -> dict:
    from make_labelled_set import xray_background

    im = xray_background(1024, 1024, seed=3).convert("RGB")
    from PIL import ImageDraw

    ImageDraw.Draw(im).text((10, 10), "DOE^JANE 03/14/2024  MRN: 00482913", fill=(240, 240, 240), font=__import__("PIL.ImageFont").ImageFont.load_default(size=20))
    p = OUT / "speed_1024.png"
    im.save(p)
    screener.screen(p)  # warm-up
    runs = []
    for _ in range(5):
        t = time.perf_counter()
        r = screener.screen(p)
        runs.append(time.perf_counter() - t)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "phi_guard.cli", "--version"], check=True, capture_output=True)
    cli_version = time.perf_counter() - t
    from run_cold_start import cold_runs  # one cold-start measurement, here a single run

    cli_check = cold_runs(ROOT / "sample_images" / "clean_xray.png", 1)["median_s"]
    return {"warm_screen_1024_median_s": round(statistics.median(runs), 3), "warm_stage_timings": r.report["timings_s"],
            "cli_version_s": round(cli_version, 2), "cli_check_small_image_cold_s": round(cli_check, 2),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def rescore() -> None:
    """Score the outputs already in bench/out again (after a metric change)."""
    import json as _j

    synth_dir = OUT / "synth"
    synth = _j.loads((synth_dir / "ground_truth.json").read_text())
    for it in synth:
        it["file"] = str(synth_dir / it["file"])
    for name, items in {"synthetic": synth, "presidio": presidio_set()}.items():
        for tool in ("phi_guard", "peer"):
            d = OUT / f"{tool}_{name}"
            outs = {it["file"]: (d / (Path(it["file"]).stem + ".png")) if (d / (Path(it["file"]).stem + ".png")).exists() else None for it in items}
            print(name, tool, score(items, outs))


def main() -> None:
    if sys.argv[1:2] == ["--rescore"]:
        return rescore()
    if sys.argv[1:2] == ["--speed"]:
        # Speed and memory alone, in a fresh process (run it on an idle machine).
        from phi_guard import Screener

        OUT.mkdir(parents=True, exist_ok=True)
        result = speed(Screener(threads=1))
        print(json.dumps(result, indent=1))
        (OUT / "speed_results.json").write_text(json.dumps(result, indent=1))
        return None
    from make_labelled_set import make

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 24
    synth_dir = OUT / "synth"
    synth = make(n, synth_dir)
    for it in synth:
        it["file"] = str(synth_dir / it["file"])
        it["set"] = "synthetic"
    sets = {"synthetic": synth, "presidio": presidio_set()}
    results: dict = {}
    for name, items in sets.items():
        pg_out, pg_t = run_phi_guard(items, OUT / f"phi_guard_{name}")
        screener = pg_t.pop("screener")
        pg_t.pop("per_file_s"), pg_t.pop("verdicts")
        peer_out, peer_t = run_peer(items, OUT / f"peer_{name}")
        results[name] = {"phi_guard": {**score(items, pg_out), **pg_t}, "presidio_image_redactor": {**score(items, peer_out), **peer_t}}
        print(name, json.dumps(results[name], indent=1), flush=True)
    results["speed"] = speed(screener)
    print(json.dumps(results["speed"], indent=1))
    (OUT / "core_results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
