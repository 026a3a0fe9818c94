"""presidio-image-redactor's DicomImageRedactorEngine, built offline, over DICOM files
(bench-only venv). Usage: peer_dicom_redact.py OUT_DIR IN.dcm..."""
import json
import sys
import time
from pathlib import Path

import pydicom


def build():
    from presidio_image_redactor import DicomImageRedactorEngine

    from peer_common import image_analyzer_engine

    return DicomImageRedactorEngine(image_analyzer_engine=image_analyzer_engine())


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    engine = build()
    timings = {}
    for p in sys.argv[2:]:
        ds = pydicom.dcmread(p)
        t = time.perf_counter()
        try:
            red = engine.redact(ds, fill="contrast", use_metadata=True)
            red.save_as(out / Path(p).name)
        except Exception as exc:  # the peer fails on some inputs; count as not redacted
            print("peer failed on", Path(p).name, type(exc).__name__, exc, file=sys.stderr)
            ds.save_as(out / Path(p).name)
        timings[Path(p).name] = time.perf_counter() - t
    (out / "timings.json").write_text(json.dumps(timings))


if __name__ == "__main__":
    main()
