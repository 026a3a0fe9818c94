"""HTTP API load: requests per second and p50/p95 latency of POST /v1/screen with 1 and
4 concurrent clients on a 1024x1024 image with a burned-in overlay, against a local
`phi-guard serve` (workers = CPU count). Traffic stays on 127.0.0.1; the loop is bounded.
Usage: python bench/run_web_bench.py [REQUESTS_PER_LEVEL]"""
from __future__ import annotations

import io
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT / "bench"))


def image_bytes() -> bytes:
    from make_labelled_set import xray_background
    from PIL import ImageDraw, ImageFont

    im = xray_background(1024, 1024, seed=5).convert("RGB")
    ImageDraw.Draw(im).text((12, 12), "DOE^JANE  03/14/2024  MRN: 00482913", fill=(240, 240, 240), font=ImageFont.load_default(size=20))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 16
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "phi_guard.cli", "serve", "--port", str(port)], stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    for _ in range(360):
        try:
            urllib.request.urlopen(url + "/healthz", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    data = image_bytes()
    results = {"image": "1024x1024 PNG, burned-in overlay", "server_workers": os.cpu_count()}
    try:
        with httpx.Client(timeout=300) as c:  # warm-up
            c.post(url + "/v1/screen", files={"file": ("w.png", data)}, data={"include_image": "false"})
        for clients in (1, 4):
            latencies: list[float] = []
            lock = threading.Lock()
            per_client = max(1, n // clients)

            def run() -> None:
                with httpx.Client(timeout=300) as c:
                    for _ in range(per_client):
                        t = time.perf_counter()
                        r = c.post(url + "/v1/screen", files={"file": ("x.png", data)}, data={"include_image": "false"})
                        r.raise_for_status()
                        with lock:
                            latencies.append(time.perf_counter() - t)

            t0 = time.perf_counter()
            threads = [threading.Thread(target=run) for _ in range(clients)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            wall = time.perf_counter() - t0
            lat = sorted(latencies)
            results[f"clients_{clients}"] = {
                "requests": len(lat), "requests_per_s": round(len(lat) / wall, 3),
                "p50_s": round(statistics.median(lat), 3), "p95_s": round(lat[min(len(lat) - 1, int(0.95 * len(lat)))], 3),
            }
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(json.dumps(results, indent=1))
    (OUT / "web_results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
