"""Batch throughput: phi-guard scan with 1 and 2 workers on a few hundred mixed images
(photos, synthetic overlays, DICOM), and presidio-image-redactor in a one-process loop
over the same non-DICOM images, in the same run. Peak memory per worker from the
workers' own getrusage. Usage: python bench/run_batch_bench.py [COPIES]
(needs bench/out/synth and bench/out/dicom from the other benchmarks)."""
from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "batch"
PEER_PY = ROOT / "bench" / ".venv-peer" / "bin" / "python"


def build_set(copies: int) -> Path:
    src = OUT / "in"
    if src.exists():
        shutil.rmtree(src)
    files = sorted((ROOT / "bench" / "out" / "synth").glob("*.[pj][np]g")) + sorted((ROOT / "sample_images").glob("*.[pj][np]g"))
    files += sorted((ROOT / "bench" / "out" / "dicom").glob("gen_*.dcm"))
    for c in range(copies):
        d = src / f"copy{c}"
        d.mkdir(parents=True)
        for f in files:
            shutil.copy(f, d / f.name)
    return src


def run_scan(src: Path, workers: int) -> dict:
    out = OUT / f"out_{workers}"
    if out.exists():
        shutil.rmtree(out)
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "phi_guard.cli", "scan", str(src), "-o", str(out), "--workers", str(workers)],
                       capture_output=True, text=True)
    secs = time.perf_counter() - t
    n = sum(1 for p in src.rglob("*") if p.is_file())
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"workers": workers, "files": n, "seconds": round(secs, 1), "images_per_s": round(n / secs, 3),
            "exit_code": r.returncode, "peak_rss_any_child_mib": round(child, 1), "summary": r.stdout.splitlines()[:1]}


def run_peer(src: Path) -> dict:
    files = [str(p) for p in sorted(src.rglob("*")) if p.suffix in (".png", ".jpg")]
    out = OUT / "peer"
    t = time.perf_counter()
    subprocess.run([str(PEER_PY), str(ROOT / "bench" / "peer_redact.py"), str(out)] + files, check=True, capture_output=True)
    secs = time.perf_counter() - t
    return {"files": len(files), "seconds": round(secs, 1), "images_per_s": round(len(files) / secs, 3), "note": "photos/PNGs only (the peer's ImageRedactorEngine does not read DICOM)"}


def main() -> None:
    copies = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    src = build_set(copies)
    one = run_scan(src, 1)
    print("1 worker", one, flush=True)
    two = run_scan(src, 2)
    print("2 workers", two, flush=True)
    peer = run_peer(src)
    res = {"one_worker": one, "two_workers": two, "speedup_2_vs_1": round(two["images_per_s"] / one["images_per_s"], 2),
           "presidio_image_redactor_loop": peer}
    print(json.dumps(res, indent=1))
    (OUT.parent / "batch_results.json").write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
