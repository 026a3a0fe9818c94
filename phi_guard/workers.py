"""Worker processes for the batch scan and the web server: one screening process per
core, each kept to one thread and ended with its parent."""
from __future__ import annotations

import os
import sys
from concurrent.futures import ProcessPoolExecutor


def single_threaded_env() -> None:
    """One worker per core: keep every library in a worker to one thread (Tesseract's
    OpenMP, OpenBLAS under spaCy and numpy, OpenCV), or workers fight over cores."""
    for var in ("OMP_THREAD_LIMIT", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:  # pragma: no cover
        pass


def die_with_parent() -> None:
    """Linux: end this worker when the process that started it dies, so a killed
    scan or server never leaves orphaned workers burning CPU."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal as _signal

        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, _signal.SIGTERM)  # PR_SET_PDEATHSIG
        except OSError:  # pragma: no cover
            pass


def init_worker() -> None:
    """Set up a freshly started worker process (the pool's initializer)."""
    single_threaded_env()
    die_with_parent()
    import signal

    # Ctrl-C goes to the parent, which stops cleanly; workers finish or are ended.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` screening processes, started fresh (forkserver on Linux,
    spawn elsewhere: no copy of the parent's threads or loaded engines)."""
    import multiprocessing as mp

    # Worker processes read these variables when their libraries load, which may be
    # before the initializer runs: set them here, to be inherited.
    single_threaded_env()
    ctx = mp.get_context("forkserver" if sys.platform.startswith("linux") else "spawn")
    return ProcessPoolExecutor(max_workers=max(1, workers), mp_context=ctx, initializer=init_worker)
