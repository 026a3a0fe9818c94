"""One tool over a list of files in ONE single-threaded process, timed in CPU seconds
(user + system time of every thread of the process and of the child processes it
waited for, start-up included: the peer runs Tesseract as a child process per image). Runs in either
virtualenv: ``phi_guard`` in the project's, ``peer`` (presidio-image-redactor's
ImageRedactorEngine, or DicomImageRedactorEngine for .dcm) in bench/.venv-peer.
Usage: cpu_run.py phi_guard|peer OUT_DIR FILE...  -> OUT_DIR/cpu.json

CPU seconds are what one idle core would take: on a shared, busy machine wall time
says more about the neighbours than about the tool."""
import os

for var in ("OMP_NUM_THREADS", "OMP_THREAD_LIMIT", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402


def cpu() -> float:
    """CPU seconds so far: this process (all threads) and its waited-for children."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def phi_guard_runner(out: Path):
    from phi_guard import Screener
    from phi_guard.errors import PhiGuardError

    screener = Screener(threads=1)

    def run(path: Path) -> str:
        fmt = "DICOM" if path.suffix == ".dcm" else "PNG"
        try:
            result = screener.screen(path, output_format=fmt)
        except PhiGuardError as exc:
            return f"error {exc.code}"
        if result.safe_bytes is not None:
            (out / (path.name if fmt == "DICOM" else path.stem + ".png")).write_bytes(result.safe_bytes)
        return result.verdict.value

    return run


def peer_runner(out: Path):
    import pydicom
    from peer_common import image_analyzer_engine
    from PIL import Image
    from presidio_image_redactor import DicomImageRedactorEngine, ImageRedactorEngine

    analyzer = image_analyzer_engine()
    images, dicoms = ImageRedactorEngine(image_analyzer_engine=analyzer), DicomImageRedactorEngine(image_analyzer_engine=analyzer)

    def run(path: Path) -> str:
        try:
            if path.suffix == ".dcm":
                ds = pydicom.dcmread(path)
                try:
                    dicoms.redact(ds, fill="contrast", use_metadata=True).save_as(out / path.name)
                except Exception:  # the peer fails on some files: written unredacted, counted as leaks
                    ds.save_as(out / path.name)
                    return "failed"
            else:
                images.redact(Image.open(path).convert("RGB"), fill=(0, 0, 0)).save(out / (path.stem + ".png"))
        except Exception as exc:  # noqa: BLE001
            return f"failed {type(exc).__name__}"
        return "done"

    return run


def main() -> None:
    tool, out = sys.argv[1], Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    files = [Path(p) for p in sys.argv[3:]]
    run = phi_guard_runner(out) if tool == "phi_guard" else peer_runner(out)
    startup = cpu()
    per_file, outcome = {}, {}
    for p in files:
        t = cpu()
        outcome[p.name] = run(p)
        per_file[p.name] = round(cpu() - t, 3)
    total = cpu()
    (out / "cpu.json").write_text(json.dumps({"tool": tool, "files": len(files), "startup_cpu_s": round(startup, 2),
                                              "total_cpu_s": round(total, 2), "per_file_cpu_s": per_file,
                                              "outcome": outcome}, indent=1))


if __name__ == "__main__":
    main()
