"""Cold start: wall time of `phi-guard check` in a fresh process, from launch to exit,
repeated (the machine's noise is a few tenths of a second), on the 800x800 sample x-ray
and on the 1024x1024 speed image. phi_guard's modules are byte-compiled first, as a
regular install has them (an editable install under PYTHONDONTWRITEBYTECODE=1 would
otherwise compile every module from source at every start, about 0.3 s).
Usage: python bench/run_cold_start.py [RUNS]"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
CLI = Path(sys.executable).with_name("phi-guard")


def cold_runs(image: Path, runs: int) -> dict:
    secs = []
    for _ in range(runs):
        t = time.perf_counter()
        proc = subprocess.run([str(CLI), "check", str(image), "-o", str(OUT / "cold_start_out.png")], capture_output=True)
        secs.append(time.perf_counter() - t)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"phi-guard check failed on {image.name}: {proc.stderr.decode()[-300:]}")
    return {"runs": runs, "median_s": round(statistics.median(secs), 2), "min_s": round(min(secs), 2), "max_s": round(max(secs), 2)}


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    OUT.mkdir(parents=True, exist_ok=True)
    speed_image = OUT / "speed_1024.png"
    if not speed_image.exists():
        raise SystemExit("run bench/run_core_bench.py --speed first (it writes the 1024x1024 speed image)")
    import compileall

    import phi_guard

    compileall.compile_dir(str(Path(phi_guard.__file__).parent), quiet=1)
    results = {
        "clean_xray_800": cold_runs(ROOT / "sample_images" / "clean_xray.png", runs),
        "overlay_1024": cold_runs(speed_image, runs),
    }
    print(json.dumps(results, indent=1))
    (OUT / "cold_start_results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
