"""APNG: write all frames with their timing, assembled chunk by chunk.

Pillow's APNG writer merges identical consecutive frames, so the output would have
fewer frames than the input. Each frame is compressed by Pillow as a plain PNG and
its image data is placed in the animation: IHDR, acTL, then fcTL + IDAT/fdAT per
frame, IEND. No text, time, EXIF, ICC or other ancillary chunk is written.
"""
from __future__ import annotations

import io
import struct
import zlib
from fractions import Fraction

import numpy as np
from PIL import Image

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body) & 0xFFFFFFFF)


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, body) of every chunk, in order."""
    if not data.startswith(_SIGNATURE):
        raise ValueError("not a PNG")
    chunks, pos = [], 8
    while pos + 8 <= len(data):
        length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        chunks.append((ctype, data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
        if ctype == b"IEND":
            break
    return chunks


def _frame_png(pixels: np.ndarray) -> tuple[bytes, bytes]:
    """(IHDR body, concatenated IDAT data) of one frame encoded by Pillow."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buf, "PNG", compress_level=3)
    chunks = png_chunks(buf.getvalue())
    return chunks[0][1], b"".join(body for ctype, body in chunks if ctype == b"IDAT")


def write_apng(
    frames: tuple[np.ndarray, ...], durations_ms: tuple[float, ...], loop: int | None, default_image_hidden: bool
) -> bytes:
    height, width = frames[0].shape[:2]
    animated = len(frames) - (1 if default_image_hidden else 0)
    out = bytearray(_SIGNATURE)
    sequence = 0
    for i, (pixels, duration) in enumerate(zip(frames, durations_ms)):
        ihdr, image_data = _frame_png(pixels)
        if i == 0:
            out += _chunk(b"IHDR", ihdr)
            out += _chunk(b"acTL", struct.pack(">II", animated, int(loop or 0)))
        if not (i == 0 and default_image_hidden):
            delay = Fraction(max(duration, 0) / 1000).limit_denominator(65535)
            num, den = min(delay.numerator, 0xFFFF), delay.denominator or 1000
            # dispose_op 0 (none), blend_op 0 (source): each frame is the full canvas.
            out += _chunk(b"fcTL", struct.pack(">IIIIIHHBB", sequence, width, height, 0, 0, num, den, 0, 0))
            sequence += 1
        if i == 0:
            out += _chunk(b"IDAT", image_data)
        else:
            out += _chunk(b"fdAT", struct.pack(">I", sequence) + image_data)
            sequence += 1
    out += _chunk(b"IEND", b"")
    return bytes(out)
