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
        t = time.perf_counter()
        try:
            im = Image.open(p).convert("RGB")
            red = engine.redact(im, fill=(0, 0, 0))
            red.save(out / (Path(p).stem + ".png"))
        except Exception as exc:  # a file the peer cannot read: timed, counted, not redacted
            print("peer failed on", Path(p).name, type(exc).__name__, file=sys.stderr)
        timings[Path(p).name] = time.perf_counter() - t
    (out / "timings.json").write_text(json.dumps(timings))


if __name__ == "__main__":
    main()
