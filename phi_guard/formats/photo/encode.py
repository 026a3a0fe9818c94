"""Encode pixels into a fresh photo container.

The encoder is given a brand-new image built from the pixel array alone, with
explicit save options: no EXIF, XMP, ICC, comments, text chunks or thumbnails
can ride along from the input (plain Pillow re-saving of the opened image
carries some of them over)."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

from ...errors import OutputError
from ...policy import Policy
from ..base import Pixels

# The formats this encoder writes.
WRITABLE = ("JPEG", "MPO", "PNG", "TIFF", "WEBP", "BMP", "GIF", "HEIF", "AVIF")


def encode_image(pixels: Pixels, fmt: str, policy: Policy) -> bytes:
    """Encode 8-bit grey or RGB ``pixels`` into a fresh ``fmt`` container with no ancillary
    data; returns its bytes. Raises OutputError for a format it cannot write."""
    if fmt in _GREY_CAPABLE and _is_grey_rgb(pixels):
        # An x-ray stored as RGB: one channel holds the same picture, encodes 2-3x
        # faster and makes a smaller file.
        pixels = pixels[:, :, 0]
    if fmt in ("JPEG", "MPO"):
        return jpeg_bytes(pixels, policy.output.jpeg_quality)
    fresh = Image.fromarray(np.ascontiguousarray(pixels))
    buf = io.BytesIO()
    if fmt == "PNG":
        fresh.save(buf, "PNG", optimize=False, compress_level=3)
    elif fmt == "TIFF":
        fresh.save(buf, "TIFF", compression="tiff_adobe_deflate")
    elif fmt == "WEBP":
        fresh.save(buf, "WEBP", lossless=True, exif=b"", icc_profile=None, xmp=b"")
    elif fmt == "BMP":
        fresh.save(buf, "BMP")
    elif fmt == "GIF":
        fresh.save(buf, "GIF")
    elif fmt == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
        fresh.save(buf, fmt, quality=-1, exif=None, xmp=None, icc_profile=None)
    elif fmt == "AVIF":
        # Pillow's own AVIF encoder (quality 0-100, no lossless mode): near-lossless,
        # full chroma, so a filled mask stays solid.
        fresh.save(buf, "AVIF", quality=95, subsampling="4:4:4", exif=None, xmp=None, icc_profile=None)
    else:
        raise OutputError(f"cannot encode {fmt}")
    return buf.getvalue()


def jpeg_bytes(pixels: Pixels, quality: int) -> bytes:
    """A bare JPEG of ``pixels`` (no EXIF, no ICC) with full-resolution colour (4:4:4): a
    clinical photo's colour is clinical (a rash, a wound), and with colour at half
    resolution a filled mask's edge takes on the colour beside it (measured: up to 64
    grey levels, and verification blocks)."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buf, "JPEG", quality=quality, optimize=True, subsampling=0,
                                                       exif=b"", icc_profile=None)
    return buf.getvalue()


# Containers that store one 8-bit grey channel as such (WebP and HEIF would expand it).
_GREY_CAPABLE = {"JPEG", "MPO", "PNG", "TIFF", "BMP"}


def _is_grey_rgb(pixels: Pixels) -> bool:
    return (pixels.ndim == 3 and pixels.shape[2] == 3 and np.array_equal(pixels[:, :, 0], pixels[:, :, 1])
            and np.array_equal(pixels[:, :, 0], pixels[:, :, 2]))
