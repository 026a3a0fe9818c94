"""Run presidio-image-redactor's ImageRedactorEngine, built offline, over images.
Runs in the bench-only venv (bench/.venv-peer): it pins opencv-python<5, which
clashes with the runtime's headless OpenCV. Usage: peer_redact.py OUT_DIR IN..."""
import json
import sys
import time
from pathlib import Path

from PIL import Image


def build():
    from presidio_image_redactor import ImageRedactorEngine

    from peer_common import image_analyzer_engine

    return ImageRedactorEngine(image_analyzer_engine=image_analyzer_engine())


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    engine = build()
    timings = {"init": time.perf_counter() - t0}
    for p in sys.argv[2:]:
        im = Image.open(p).convert("RGB")
        t = time.perf_counter()
        red = engine.redact(im, fill=(0, 0, 0))
        timings[Path(p).name] = time.perf_counter() - t
        red.save(out / (Path(p).stem + ".png"))
    (out / "timings.json").write_text(json.dumps(timings))


if __name__ == "__main__":
    main()
