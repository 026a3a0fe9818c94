"""Animated GIF: write all frames with their timing, and walk a file's blocks.

Pillow's GIF writer merges identical consecutive frames (adding their delays) and
writes changed rectangles only, so the frame count of the output would differ from
the input's. Here each frame is compressed on its own by Pillow (palette and LZW),
and the container is assembled from those pieces: a full-canvas frame with its own
colour table and delay per input frame, the NETSCAPE2.0 loop block when the input
had one, and nothing else (no comments, no other application extensions).
"""
from __future__ import annotations

import io
import struct
from dataclasses import dataclass

import numpy as np
from PIL import Image

_NETSCAPE = b"NETSCAPE2.0"


def write_gif(frames: tuple[np.ndarray, ...], durations_ms: tuple[float, ...], loop: int | None) -> bytes:
    height, width = frames[0].shape[:2]
    out = bytearray(b"GIF89a")
    out += struct.pack("<HHBBB", width, height, 0, 0, 0)  # no global colour table
    if loop is not None:
        out += b"\x21\xff\x0b" + _NETSCAPE + struct.pack("<BBH", 3, 1, min(max(int(loop), 0), 0xFFFF)) + b"\x00"
    for pixels, duration in zip(frames, durations_ms):
        table, image_data = _compress_frame(pixels)
        delay_cs = min(max(round(duration / 10), 0), 0xFFFF)
        # Graphic control: disposal 1 (leave in place), no transparency.
        out += b"\x21\xf9\x04" + struct.pack("<BHB", 1 << 2, delay_cs, 0) + b"\x00"
        size_bits = (len(table) // 3).bit_length() - 2  # table holds 2**(size_bits+1) entries
        out += b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0x80 | size_bits) + table + image_data
    out += b"\x3b"
    return bytes(out)


def _palette_image(pixels: np.ndarray) -> Image.Image:
    """The frame as a palette image, with exact colours where it has 256 or fewer
    (a GIF's own frames always do) and without dithering (a filled mask stays one colour)."""
    if pixels.ndim == 2:
        im = Image.frombytes("P", (pixels.shape[1], pixels.shape[0]), np.ascontiguousarray(pixels).tobytes())
        im.putpalette(bytes(np.repeat(np.arange(256, dtype=np.uint8), 3)))
        return im
    flat = np.ascontiguousarray(pixels).reshape(-1, 3)
    packed = (flat[:, 0].astype(np.uint32) << 16) | (flat[:, 1].astype(np.uint32) << 8) | flat[:, 2]
    colours, indices = np.unique(packed, return_inverse=True)
    if len(colours) <= 256:
        im = Image.frombytes("P", (pixels.shape[1], pixels.shape[0]), indices.astype(np.uint8).tobytes())
        palette = np.stack([(colours >> 16) & 255, (colours >> 8) & 255, colours & 255], axis=1).astype(np.uint8)
        im.putpalette(palette.tobytes())
        return im
    return Image.fromarray(pixels).quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)


def _compress_frame(pixels: np.ndarray) -> tuple[bytes, bytes]:
    """(colour table, LZW image data) of one frame, taken from Pillow's single-frame GIF."""
    buf = io.BytesIO()
    _palette_image(pixels).save(buf, "GIF", optimize=False, interlace=False)
    data = buf.getvalue()
    flags = data[10]
    table_len = 3 * (2 ** ((flags & 7) + 1)) if flags & 0x80 else 0
    table = data[13 : 13 + table_len]
    pos = 13 + table_len
    while data[pos] == 0x21:  # skip any extension Pillow wrote before the image
        pos = _skip_sub_blocks(data, pos + 2)
    descriptor_flags = data[pos + 9]
    pos += 10
    if descriptor_flags & 0x80:  # a local table instead of the global one
        table_len = 3 * (2 ** ((descriptor_flags & 7) + 1))
        table = data[pos : pos + table_len]
        pos += table_len
    start = pos
    end = _skip_sub_blocks(data, pos + 1)
    return table, data[start:end]


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    """Position after a chain of data sub-blocks starting at ``pos`` (ends with a 0 byte)."""
    while pos < len(data):
        size = data[pos]
        pos += 1 + size
        if size == 0:
            return pos
    raise ValueError("GIF data ends inside a block")


@dataclass(frozen=True)
class GifBlock:
    """One block of a GIF file: ``kind`` is image, graphic-control, comment,
    plain-text or application; ``label`` the application identifier."""

    kind: str
    label: str
    payload: bytes


def walk_gif(data: bytes) -> list[GifBlock]:
    """The blocks of a GIF, parsed in order (never a byte search: LZW data can hold any byte)."""
    if data[:6] not in (b"GIF87a", b"GIF89a") or len(data) < 13:
        raise ValueError("not a GIF")
    flags = data[10]
    pos = 13 + (3 * (2 ** ((flags & 7) + 1)) if flags & 0x80 else 0)
    blocks: list[GifBlock] = []
    while pos < len(data):
        introducer = data[pos]
        if introducer == 0x3B:
            break
        if introducer == 0x2C:
            descriptor_flags = data[pos + 9]
            pos += 10 + (3 * (2 ** ((descriptor_flags & 7) + 1)) if descriptor_flags & 0x80 else 0)
            pos = _skip_sub_blocks(data, pos + 1)
            blocks.append(GifBlock("image", "", b""))
            continue
        if introducer != 0x21:
            raise ValueError("unexpected byte between GIF blocks")
        label = data[pos + 1]
        end = _skip_sub_blocks(data, pos + 2)
        body = _join_sub_blocks(data, pos + 2, end)
        if label == 0xF9:
            blocks.append(GifBlock("graphic-control", "", body))
        elif label == 0xFE:
            blocks.append(GifBlock("comment", "", body))
        elif label == 0x01:
            blocks.append(GifBlock("plain-text", "", body[12:]))  # 12 bytes of text-grid geometry first
        elif label == 0xFF:
            app = body[:11]
            blocks.append(GifBlock("application", app.decode("latin-1", "replace"), body[11:]))
        else:
            blocks.append(GifBlock(f"extension 0x{label:02x}", "", body))
        pos = end
    return blocks


def _join_sub_blocks(data: bytes, pos: int, end: int) -> bytes:
    out = bytearray()
    while pos < end - 1:
        size = data[pos]
        out += data[pos + 1 : pos + 1 + size]
        pos += 1 + size
    return bytes(out)


def is_loop_block(block: GifBlock) -> bool:
    """The NETSCAPE2.0 block with sub-block id 1 holds only the loop count."""
    return block.kind == "application" and block.label == _NETSCAPE.decode() and block.payload[:1] == b"\x01" and len(block.payload) == 3
