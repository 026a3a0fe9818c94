"""MPO (CIPA DC-007): every image written back, with an MP index and nothing else.

Pillow's MPO writer records wrong image sizes from the third image on (the file
then fails to open), so the container is assembled here: each image is a baseline
JPEG encoded by Pillow without EXIF or ICC; the first carries an APP2 "MPF"
segment whose index holds only the version, the image count and each image's
size and offset.
"""
from __future__ import annotations

import struct

import numpy as np

from ..photo.encode import jpeg_bytes

_PRIMARY = 0x030000  # baseline MP primary image
_UNDEFINED = 0x000000


def _mpf_segment(sizes: list[int]) -> bytes:
    count = len(sizes)
    entries_offset = 8 + 2 + 3 * 12 + 4  # TIFF header, entry count, 3 entries, next-IFD offset
    ifd = struct.pack("<2sHI", b"II", 42, 8) + struct.pack("<H", 3)
    ifd += struct.pack("<HHI4s", 0xB000, 7, 4, b"0100")
    ifd += struct.pack("<HHII", 0xB001, 4, 1, count)
    ifd += struct.pack("<HHII", 0xB002, 7, 16 * count, entries_offset) + struct.pack("<I", 0)
    offset = 0
    for i, size in enumerate(sizes):
        # Offsets count from the MPF TIFF header: 10 bytes into the file (SOI, APP2
        # marker and length, "MPF\0"), as the segment follows the first SOI directly.
        ifd += struct.pack("<IIIHH", _PRIMARY if i == 0 else _UNDEFINED, size, 0 if i == 0 else max(offset - 10, 0), 0, 0)
        offset += size
    body = b"MPF\x00" + ifd
    return b"\xff\xe2" + struct.pack(">H", len(body) + 2) + body


def write_mpo(frames: tuple[np.ndarray, ...], quality: int) -> bytes:
    images = [jpeg_bytes(f, quality) for f in frames]
    placeholder = _mpf_segment([0] * len(images))
    sizes = [len(images[0]) + len(placeholder)] + [len(im) for im in images[1:]]
    first = images[0][:2] + _mpf_segment(sizes) + images[0][2:]
    return first + b"".join(images[1:])
