"""Encode an animation back into the same kind of container, with its timing and nothing else.

GIF, APNG, WebP and MPO are assembled here from frames compressed one by one (see
gif.py, apng.py, webp.py, mpo.py: the library writers merge identical frames or
miscount MPO offsets). TIFF pages are written by Pillow from fresh images built
from the pixels alone, so nothing of the input container can ride along.
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

from ...errors import OutputError
from .apng import write_apng
from .gif import write_gif
from .model import Animation
from .mpo import write_mpo
from .webp import write_webp


def encode(animation: Animation, fmt: str | None = None, *, jpeg_quality: int = 95) -> bytes:
    """All frames of ``animation`` in ``fmt`` (default: the container it came from)."""
    fmt = fmt or animation.format
    frames = tuple(np.ascontiguousarray(f) for f in animation.frames)
    if not frames:
        raise OutputError("an animation needs at least one frame")
    if fmt in ("GIF", "PNG", "WEBP") and len({f.shape for f in frames}) != 1:
        raise OutputError(f"{fmt} frames must all have one size")
    if fmt == "GIF":
        return write_gif(frames, animation.durations_ms, animation.loop)
    if fmt == "PNG":
        return write_apng(frames, animation.durations_ms, animation.loop, animation.default_image_hidden)
    if fmt == "WEBP":
        return write_webp(frames, animation.durations_ms, animation.loop)
    if fmt == "MPO":
        return write_mpo(frames, jpeg_quality)
    images = [Image.fromarray(f) for f in frames]
    buf = io.BytesIO()
    if fmt == "TIFF":
        images[0].save(buf, "TIFF", save_all=True, append_images=images[1:], compression="tiff_adobe_deflate")
    else:
        raise OutputError(f"cannot write an animation as {fmt}")
    return buf.getvalue()


def extension(fmt: str) -> str:
    """File extension of an animated output (a still GIF is written as PNG; an animated one stays GIF)."""
    return {"GIF": ".gif", "PNG": ".png", "WEBP": ".webp", "TIFF": ".tif", "MPO": ".mpo"}[fmt]
