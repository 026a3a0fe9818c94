"""Decode photos and screenshots (JPEG, PNG, TIFF, WebP, BMP, GIF, HEIF/AVIF) with Pillow.

Decoding happens under a pixel limit (decompression-bomb guard) and turns any
decoder failure into a typed, one-line :class:`~phi_guard.errors.InputError`.
"""
from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from ...errors import DecodeError, DecompressionBombError, InputError, UnsupportedFormatError, short_reason
from ...policy import Policy
from ...quiet import quiet_native_stderr
from ..base import Document, Pixels, digest, frame_renderings
from ..sniff import sniff_format

_heif_registered = False


def _register_heif() -> None:
    global _heif_registered
    if not _heif_registered:
        import pillow_heif

        pillow_heif.register_heif_opener()
        _heif_registered = True


def load_photo(data: bytes, policy: Policy, name: str = "<bytes>") -> Document:
    """Decode a photo or screenshot into its displayed pixels.

    Raises UnsupportedFormatError when ``data`` is no photo format, DecodeError or
    DecompressionBombError for what cannot be decoded within the policy's limits."""
    fmt = sniff_format(data)
    if fmt is None or fmt == "DICOM":
        raise UnsupportedFormatError(f"{name}: not a supported image")
    if fmt in ("HEIF", "AVIF"):
        _register_heif()
    # Decoders of hostile files print C-level warnings (libtiff, OpenJPEG): keep them
    # off the terminal; what matters becomes a typed error with one clear line.
    with quiet_native_stderr():
        return _load_photo(data, fmt, policy, name)


def open_checked(data: bytes, policy: Policy, name: str) -> Image.Image:
    limit = policy.limits.max_pixels
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        old = Image.MAX_IMAGE_PIXELS
        try:
            # Pillow raises for more than 2x this; the warning (made an error) covers 1x-2x.
            Image.MAX_IMAGE_PIXELS = limit
            im = Image.open(io.BytesIO(data))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise DecompressionBombError(
                f"{name}: image declares more pixels than the {limit:,}-pixel limit (possible decompression bomb)"
            ) from None
        except UnidentifiedImageError:
            raise DecodeError(f"{name}: the image data is corrupt or truncated and cannot be decoded") from None
        except Exception as exc:  # noqa: BLE001 - decoders raise anything on hostile input; fail closed
            raise DecodeError(f"{name}: the image data is corrupt and cannot be decoded ({short_reason(exc)})") from None
        finally:
            Image.MAX_IMAGE_PIXELS = old
    w, h = im.size
    if w <= 0 or h <= 0:
        raise DecodeError(f"{name}: image has no pixels ({w}x{h})")
    if w * h > limit:
        raise DecompressionBombError(
            f"{name}: {w}x{h} is more than the {limit:,}-pixel limit (possible decompression bomb)"
        )
    return im


def _load_photo(data: bytes, fmt: str, policy: Policy, name: str) -> Document:
    notes: list[str] = []
    im = open_checked(data, policy, name)
    try:
        n_frames = int(getattr(im, "n_frames", 1) or 1)
    except Exception as exc:  # noqa: BLE001 - a corrupt frame table
        raise DecodeError(f"{name}: the image data is corrupt and cannot be decoded ({short_reason(exc)})") from None
    real_format = im.format or fmt
    if real_format == "MPO":
        fmt = "MPO"
    try:
        im.seek(0)
        im.load()
        exif = im.getexif()
        orientation = exif.get(0x0112, 1) if exif else 1
        icc = im.info.get("icc_profile")
        # Orientation first: everything downstream sees the image as it is displayed.
        if orientation not in (1, None):
            im = ImageOps.exif_transpose(im)
            notes.append(f"EXIF orientation {orientation} applied to the pixels")
        pixels = to_display_pixels(im, icc, policy, notes)
    except (DecompressionBombError, InputError):
        raise
    except Image.DecompressionBombError:
        raise DecompressionBombError(f"{name}: image exceeds the pixel limit (possible decompression bomb)") from None
    except Exception as exc:  # noqa: BLE001 - any decoder failure: fail closed with a clear message
        raise DecodeError(f"{name}: the image data is corrupt or truncated ({short_reason(exc)})") from None
    if n_frames > 1:
        notes.append(f"{n_frames - 1} further frame(s)/page(s) in the file are not carried to the output")
    return Document(
        data=data,
        sha256=digest(data),
        format=fmt,
        frames=(pixels,),
        source_name=name,
        notes=tuple(notes),
        frame_count_in_file=n_frames,
        renderings=frame_renderings((pixels,)),
    )


def scaled_to(pixels: Pixels, max_side: int, notes: list[str]) -> Pixels:
    """``pixels`` scaled down (area averaging) so the long side is ``max_side``, when it
    is longer and ``max_side`` is set: the picture that will be shared is the one read."""
    h, w = pixels.shape[:2]
    if not max_side or max(h, w) <= max_side:
        return pixels
    import cv2

    f = max_side / max(h, w)
    size = (max(1, round(w * f)), max(1, round(h * f)))
    notes.append(f"scaled down from {w}x{h} to {size[0]}x{size[1]} (output.max_side = {max_side})")
    return np.ascontiguousarray(cv2.resize(pixels, size, interpolation=cv2.INTER_AREA))


def to_display_pixels(im: Image.Image, icc: bytes | None, policy: Policy, notes: list[str]) -> Pixels:
    """8-bit grey or RGB pixels as displayed: palette expanded, alpha flattened, ICC to sRGB."""
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        if hi > 255 or lo < 0:
            # High-bit-depth grey (16-bit PNG/TIFF): stretch to 8 bits for reading and output.
            arr = (arr - lo) * (255.0 / max(hi - lo, 1.0))
            notes.append(f"{mode} pixels rescaled to 8 bits")
        return np.ascontiguousarray(np.clip(arr, 0, 255).astype(np.uint8))
    if mode in ("1", "L"):
        return np.ascontiguousarray(np.asarray(im.convert("L"), dtype=np.uint8))
    if "A" in mode or mode == "P" and "transparency" in im.info or mode == "PA":
        # Flatten transparency onto white: pixels hidden by alpha must not reappear
        # in an output that drops the alpha channel.
        rgba = im.convert("RGBA")
        base = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(base, rgba).convert("RGB")
        notes.append("transparency flattened onto white")
    elif mode == "LA":
        im = im.convert("L")
        return np.ascontiguousarray(np.asarray(im, dtype=np.uint8))
    if icc and policy.output.convert_icc_to_srgb and im.mode in ("RGB", "CMYK"):
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(im, src, ImageCms.createProfile("sRGB"), outputMode="RGB")
            if converted is not None:
                im = converted
            notes.append("colours converted from the embedded ICC profile to sRGB")
        except (ImageCms.PyCMSError, OSError, ValueError):
            notes.append("embedded ICC profile unreadable; dropped without conversion")
    if im.mode != "RGB":
        im = im.convert("RGB")
    return np.ascontiguousarray(np.asarray(im, dtype=np.uint8))
