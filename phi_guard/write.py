"""Output files: the extension of each writable format, and atomic writes (a crash
never leaves a half-written file under the final name)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import UsageError

# Each writable format and the file extensions it is written with (the first is its default).
FORMAT_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "JPEG": (".jpg", ".jpeg", ".jpe"), "PNG": (".png",), "TIFF": (".tif", ".tiff"), "WEBP": (".webp",),
    "BMP": (".bmp",), "GIF": (".gif",), "HEIF": (".heic", ".heif"), "AVIF": (".avif",), "DICOM": (".dcm",),
    "MPO": (".mpo",), "MP4": (".mp4", ".m4v"), "WEBM": (".webm",),
}
# Input video containers (read, and written again as MP4 or WebM).
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi")
# Image extensions (a DICOM file's .dcm aside), for naming outputs after their input.
EXTENSION_FORMATS = {ext: fmt for fmt, exts in FORMAT_EXTENSIONS.items() if fmt != "DICOM" for ext in exts}


def format_for_path(path: str | Path) -> str:
    """The format an output path asks for, by its extension. Raises UsageError for an
    extension that no writable format uses."""
    ext = Path(path).suffix.lower()
    for fmt, exts in FORMAT_EXTENSIONS.items():
        if ext in exts:
            return fmt
    raise UsageError(f"cannot write '{ext or 'no extension'}': use .dcm, .jpg, .png, .tif, .webp, .bmp, .heic, .gif, .mp4 or .webm")


def default_extension(fmt: str) -> str:
    """The usual file extension of format ``fmt`` (an MPO is written as a JPEG; .png when unknown)."""
    return FORMAT_EXTENSIONS.get("JPEG" if fmt == "MPO" else fmt, (".png",))[0]


def atomic_write(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path`` and rename it into place, so a
    crash never leaves a half-written file under the final name. Returns the path;
    raises OSError when the folder cannot be written."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".phi_guard-", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return target
