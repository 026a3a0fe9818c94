"""Write stage: encode pixels into a fresh container, and write files atomically.

The encoder is given a brand-new image built from the pixel array alone, with
explicit save options: no EXIF, XMP, ICC, comments, text chunks or thumbnails
can ride along from the input (plain Pillow re-saving of the opened image
carries some of them over)."""
from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import OutputError, UsageError
from .policy import Policy

EXTENSION_FORMATS = {
    ".jpg": "JPEG", ".jpeg": "JPEG", ".jpe": "JPEG", ".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF",
    ".webp": "WEBP", ".bmp": "BMP", ".gif": "GIF", ".heic": "HEIF", ".heif": "HEIF", ".avif": "AVIF",
}
_DEFAULT_EXT = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "TIFF": ".tif", "WEBP": ".webp", "BMP": ".bmp",
                "GIF": ".png", "HEIF": ".heic", "AVIF": ".avif", "DICOM": ".dcm"}


def format_for_path(path: str | Path) -> str:
    ext = Path(path).suffix.lower()
    if ext == ".dcm":
        return "DICOM"
    try:
        return EXTENSION_FORMATS[ext]
    except KeyError:
        raise UsageError(f"cannot write '{ext or 'no extension'}': use .dcm, .jpg, .png, .tif, .webp, .bmp or .heic") from None


def default_extension(fmt: str) -> str:
    return _DEFAULT_EXT.get(fmt, ".png")


def encode_image(pixels: np.ndarray, fmt: str, policy: Policy) -> bytes:
    """Encode 8-bit grey or RGB pixels into ``fmt`` with no ancillary data."""
    if fmt in _GREY_CAPABLE and _is_grey_rgb(pixels):
        # An x-ray stored as RGB: one channel holds the same picture, encodes 2-3x
        # faster and makes a smaller file.
        pixels = pixels[:, :, 0]
    fresh = Image.fromarray(np.ascontiguousarray(pixels))
    buf = io.BytesIO()
    if fmt in ("JPEG", "MPO"):
        fresh.save(buf, "JPEG", quality=policy.output.jpeg_quality, optimize=True, exif=b"", icc_profile=None)
    elif fmt == "PNG":
        fresh.save(buf, "PNG", optimize=False, compress_level=3)
    elif fmt == "TIFF":
        fresh.save(buf, "TIFF", compression="tiff_adobe_deflate")
    elif fmt == "WEBP":
        fresh.save(buf, "WEBP", lossless=True, exif=b"", icc_profile=None, xmp=b"")
    elif fmt == "BMP":
        fresh.save(buf, "BMP")
    elif fmt == "GIF":
        fresh.save(buf, "GIF")
    elif fmt in ("HEIF", "AVIF"):
        import pillow_heif

        pillow_heif.register_heif_opener()
        fresh.save(buf, fmt, quality=-1, exif=None, xmp=None, icc_profile=None)
    else:
        raise OutputError(f"cannot encode {fmt}")
    return buf.getvalue()


# Containers that store one 8-bit grey channel as such (WebP and HEIF would expand it).
_GREY_CAPABLE = {"JPEG", "MPO", "PNG", "TIFF", "BMP"}


def _is_grey_rgb(pixels: np.ndarray) -> bool:
    return (pixels.ndim == 3 and pixels.shape[2] == 3 and np.array_equal(pixels[:, :, 0], pixels[:, :, 1])
            and np.array_equal(pixels[:, :, 0], pixels[:, :, 2]))


def atomic_write(path: str | Path, data: bytes) -> Path:
    """Write to a temporary file beside ``path`` and rename it into place, so a
    crash never leaves a half-written file under the final name."""
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
