"""The side-by-side speed table of issue 13 (`make bench` runs it): phi_guard and
presidio-image-redactor in the same run, each in one single-threaded process, timed in
CPU seconds (user + system of the process and its waited-for children, start-up
included; see cpu_run.py). The machine this project runs on is shared: CPU seconds say
what one idle core takes; wall times (the cold start, the worker speed-up) are noisy.

Rows: a mixed photo/screenshot batch (the generated overlay set: x-ray-like and flat
backgrounds, phone photos of a monitor as JPEG, clean images), with PHI recall; the
DICOM set of run_dicom_bench.py against DicomImageRedactorEngine, with recall; warm
screen() of a 1024x1024 image with an overlay and of one with no text; the cold
`phi-guard check` of the sample x-ray; `phi-guard scan` with 2 workers against 1, and
the peak memory of a worker.
Usage: python bench/run_speed_table.py [N_GENERATED] [--skip-scan]  (-> bench/out/speed_table.json)"""
from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OMP_THREAD_LIMIT", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = "1"
ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "speed_table"
sys.path.insert(0, str(ROOT / "bench"))
import run_core_bench as core  # noqa: E402
import run_dicom_bench as dicom_bench  # noqa: E402


def cpu_run(tool: str, files: list[str], out: Path) -> dict:
    if out.exists():
        shutil.rmtree(out)
    python = str(core.PEER_PY) if tool == "peer" else sys.executable
    env = {**os.environ, "PYTHONPATH": str(ROOT / "bench") + (":" + str(ROOT) if tool == "phi_guard" else "")}
    subprocess.run([python, str(ROOT / "bench" / "cpu_run.py"), tool, str(out), *files], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.loads((out / "cpu.json").read_text())


def outputs_of(items: list[dict], out: Path, dicom: bool = False) -> dict:
    found = {}
    for it in items:
        p = out / (Path(it["file"]).name if dicom else Path(it["file"]).stem + ".png")
        found[it["file"]] = p if p.exists() else None
    return found


def mixed_batch(n: int) -> dict:
    from make_labelled_set import make

    synth_dir = OUT / "synth"
    items = make(n, synth_dir)
    for it in items:
        it["file"] = str(synth_dir / Path(it["file"]).name)
    files = [it["file"] for it in items]
    row = {"files": len(files), "formats": sorted({Path(f).suffix for f in files})}
    for tool in ("phi_guard", "peer"):
        t = cpu_run(tool, files, OUT / f"mixed_{tool}")
        row[tool] = {"cpu_s": t["total_cpu_s"], "startup_cpu_s": t["startup_cpu_s"],
                     **core.score(items, outputs_of(items, OUT / f"mixed_{tool}"))}
    row["ratio"] = round(row["phi_guard"]["cpu_s"] / row["peer"]["cpu_s"], 2)
    return row


def dicom_set() -> dict:
    items = dicom_bench.presidio_items() + dicom_bench.generated_items()
    files = [it["file"] for it in items]
    row = {"files": len(files)}
    for tool in ("phi_guard", "peer"):
        t = cpu_run(tool, files, OUT / f"dicom_{tool}")
        per = list(t["per_file_cpu_s"].values())
        row[tool] = {"cpu_s_per_file": round(statistics.mean(per), 3), "cpu_s_total": t["total_cpu_s"],
                     **dicom_bench.score(items, outputs_of(items, OUT / f"dicom_{tool}", dicom=True))}
    return row


def warm_screens() -> dict:
    from PIL import Image, ImageDraw, ImageFont
    from make_labelled_set import xray_background

    from phi_guard import Screener

    OUT.mkdir(parents=True, exist_ok=True)
    overlay = xray_background(1024, 1024, seed=3).convert("RGB")
    ImageDraw.Draw(overlay).text((10, 10), "DOE^JANE 03/14/2024  MRN: 00482913", fill=(240, 240, 240),
                                 font=ImageFont.load_default(size=20))
    overlay.save(OUT / "overlay_1024.png")
    xray_background(1024, 1024, seed=5).convert("RGB").save(OUT / "no_text_1024.png")
    Image.new("RGB", (1024, 1024), (128, 128, 128)).save(OUT / "flat_1024.png")
    screener = Screener(threads=1)
    row = {}
    for name in ("overlay_1024.png", "no_text_1024.png", "flat_1024.png"):
        screener.screen(OUT / name)  # warm-up
        runs = []
        for _ in range(3):
            t = time.thread_time()
            result = screener.screen(OUT / name)
            runs.append(time.thread_time() - t)
        row[name] = {"cpu_s_median": round(statistics.median(runs), 3), "verdict": result.verdict.value,
                     "stages_wall_s": result.report["timings_s"]}
    return row


def cold_check(name: str = "clean_xray.png", runs: int = 5) -> dict:
    """``phi-guard check`` of the sample x-ray, launched ``runs`` times, as ``name``: its
    own name needs no detector; a name with a date (``scan_2026-11-28.png``) loads it."""
    import compileall

    import phi_guard

    compileall.compile_dir(str(Path(phi_guard.__file__).parent), quiet=1)
    cli = Path(sys.executable).with_name("phi-guard")
    src = OUT / name
    shutil.copy(ROOT / "sample_images" / "clean_xray.png", src)
    wall, cpu = [], []
    for _ in range(runs):
        before = os.times()
        t = time.perf_counter()
        subprocess.run([str(cli), "check", str(src), "-o", str(OUT / "cold.png")], capture_output=True)
        wall.append(time.perf_counter() - t)
        after = os.times()
        cpu.append(after.children_user + after.children_system - before.children_user - before.children_system)
    return {"runs": runs, "wall_s_median": round(statistics.median(wall), 2), "wall_s_min": round(min(wall), 2),
            "cpu_s_median": round(statistics.median(cpu), 2)}


def scan_speedup() -> dict:
    src = OUT / "synth"
    row = {}
    for workers in (1, 2):
        out = OUT / f"scan_{workers}"
        if out.exists():
            shutil.rmtree(out)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "phi_guard.cli", "scan", str(src), "-o", str(out), "--workers", str(workers)],
                       capture_output=True)
        row[f"workers_{workers}_wall_s"] = round(time.perf_counter() - t, 1)
    row["speedup"] = round(row["workers_1_wall_s"] / row["workers_2_wall_s"], 2)
    row["peak_rss_any_worker_mib"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    return row


def table(res: dict) -> str:
    m, d, w, c = res["mixed"], res["dicom"], res["warm"], res["cold"]
    lines = [
        "| measure | phi_guard | presidio-image-redactor | ratio / target |",
        "|---|---:|---:|---|",
        f"| mixed batch, {m['files']} images ({', '.join(m['formats'])}), one process, CPU s incl. start-up "
        f"| {m['phi_guard']['cpu_s']} | {m['peer']['cpu_s']} | {m['ratio']}x (target <= 0.6x) |",
        f"| same batch, PHI recall | {m['phi_guard']['recall']} | {m['peer']['recall']} | not lower than before |",
        f"| DICOM set, {d['files']} files, CPU s per file | {d['phi_guard']['cpu_s_per_file']} | {d['peer']['cpu_s_per_file']} "
        f"| target <= peer |",
        f"| DICOM set, PHI recall | {d['phi_guard']['recall']} | {d['peer']['recall']} | |",
        f"| warm screen(), 1024x1024 with overlay, CPU s | {w['overlay_1024.png']['cpu_s_median']} | | target <= 0.35 |",
        f"| warm screen(), 1024x1024 x-ray, no text, CPU s | {w['no_text_1024.png']['cpu_s_median']} | | target <= 0.15 |",
        f"| warm screen(), 1024x1024 flat grey, CPU s | {w['flat_1024.png']['cpu_s_median']} | | |",
        f"| cold `phi-guard check` sample x-ray, wall s launch to exit (median of {c['runs']}) | {c['wall_s_median']} "
        f"(CPU {c['cpu_s_median']}) | | target <= 1.5 |",
    ]
    if "cold_dated_name" in res:
        c = res["cold_dated_name"]
        lines.append(f"| the same, named with a date (the detector loads for the name), wall s (median of {c['runs']}) "
                     f"| {c['wall_s_median']} (CPU {c['cpu_s_median']}) | | |")
    if "scan" in res:
        s = res["scan"]
        lines.append(f"| `scan --workers 2` vs 1, wall speed-up | {s['speedup']}x ({s['workers_1_wall_s']} s -> "
                     f"{s['workers_2_wall_s']} s) | | target >= 1.8x |")
        lines.append(f"| peak memory of a worker | {s['peak_rss_any_worker_mib']} MiB | | target < 1024 MiB |")
    return "\n".join(lines)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 30
    OUT.mkdir(parents=True, exist_ok=True)
    res = {"mixed": mixed_batch(n)}
    print("mixed", json.dumps(res["mixed"]), flush=True)
    res["dicom"] = dicom_set()
    print("dicom", json.dumps(res["dicom"]), flush=True)
    res["warm"] = warm_screens()
    res["cold"] = cold_check()
    res["cold_dated_name"] = cold_check("scan_2026-11-28.png")
    if "--skip-scan" not in sys.argv:
        res["scan"] = scan_speedup()
    (OUT.parent / "speed_table.json").write_text(json.dumps(res, indent=1))
    print(table(res))


if __name__ == "__main__":
    main()
