"""Animated WebP: write all frames with their timing, assembled chunk by chunk.

libwebp's animation encoder (what Pillow uses) folds a frame identical to the one
before into that frame's duration, so the frame count would change. Each frame is
encoded by Pillow as a lossless still and its bitstream is wrapped in an ANMF
chunk: VP8X (animation flag only), ANIM (white background, loop count), one ANMF
per frame. No EXIF, XMP or ICC chunk is written.
"""
from __future__ import annotations

import io
import struct

import numpy as np
from PIL import Image

_BITSTREAM_CHUNKS = (b"ALPH", b"VP8 ", b"VP8L")


def riff_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(fourcc, body) of the top-level chunks of a WebP file."""
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("not a WebP file")
    chunks, pos = [], 12
    while pos + 8 <= len(data):
        fourcc, size = struct.unpack("<4sI", data[pos : pos + 8])
        chunks.append((fourcc, data[pos + 8 : pos + 8 + size]))
        pos += 8 + size + (size & 1)
    return chunks


def _chunk(fourcc: bytes, body: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) & 1 else b"")


def _u24(value: int) -> bytes:
    return struct.pack("<I", value)[:3]


def _frame_bitstream(pixels: np.ndarray) -> bytes:
    """The ALPH/VP8L chunks of one frame encoded losslessly by Pillow."""
    im = Image.fromarray(np.ascontiguousarray(pixels))
    if im.mode != "RGB":
        im = im.convert("RGB")
    buf = io.BytesIO()
    im.save(buf, "WEBP", lossless=True, quality=80, method=3, exif=b"", xmp=b"", icc_profile=None)
    return b"".join(_chunk(fourcc, body) for fourcc, body in riff_chunks(buf.getvalue()) if fourcc in _BITSTREAM_CHUNKS)


def write_webp(frames: tuple[np.ndarray, ...], durations_ms: tuple[float, ...], loop: int | None) -> bytes:
    height, width = frames[0].shape[:2]
    body = bytearray(b"WEBP")
    body += _chunk(b"VP8X", struct.pack("<B3x", 0x02) + _u24(width - 1) + _u24(height - 1))
    body += _chunk(b"ANIM", struct.pack("<4BH", 255, 255, 255, 255, min(max(int(loop or 0), 0), 0xFFFF)))
    for pixels, duration in zip(frames, durations_ms):
        header = _u24(0) + _u24(0) + _u24(width - 1) + _u24(height - 1)
        header += _u24(min(max(round(duration), 0), 0xFFFFFF)) + b"\x02"  # no blending, no disposal
        body += _chunk(b"ANMF", header + _frame_bitstream(pixels))
    return b"RIFF" + struct.pack("<I", len(body)) + bytes(body)
