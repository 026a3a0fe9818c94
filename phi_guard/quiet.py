"""Keep C libraries' own messages off the user's terminal.

Leptonica (inside Tesseract) prints "Error in boxClipToRectangle ..." on harmless edge
cases, and libtiff prints "_tiffReadProc: Invalid Read ..." before Pillow raises on a
corrupt TIFF. They write to file descriptor 2 from C, past Python's ``sys.stderr``. A
clinician should see one clear line per problem (ours), not library internals.
"""
from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

_lock = threading.Lock()


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for the duration (one user at a time)."""
    with _lock:
        try:
            saved = os.dup(2)
        except OSError:
            yield
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
