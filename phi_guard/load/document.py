from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Document:
    """A decoded input: its displayed pixels and what is needed to inventory its metadata.

    ``frames`` hold 8-bit pixels, ``(H, W)`` grey or ``(H, W, 3)`` RGB, exactly as
    the image is displayed (EXIF orientation applied, alpha flattened, ICC
    converted to sRGB when the policy says so). These are the pixels that are
    screened and written; nothing else of the input reaches the output.
    """

    data: bytes = field(repr=False)
    sha256: str
    format: str  # JPEG, PNG, TIFF, WEBP, BMP, GIF, HEIF, AVIF, MPO
    frames: tuple[np.ndarray, ...] = field(repr=False)
    source_name: str = ""  # file name only, for messages (never a full path in reports)
    notes: tuple[str, ...] = ()  # what loading changed (orientation applied, frames dropped, ...)
    pil_info_keys: tuple[str, ...] = ()  # keys Pillow exposed in Image.info, for the inventory
    frame_count_in_file: int = 1
    # DICOM only: the parsed dataset and the stored pixel values (all frames, as an
    # (N, H, W[, 3]) array in their native dtype). Redaction writes into a copy of
    # ``native_pixels`` so a DICOM output keeps its bit depth.
    dataset: Any = field(default=None, repr=False)
    native_pixels: np.ndarray | None = field(default=None, repr=False)
    # DICOM only: 8-bit renderings of each overlay plane (60xx), screened like frames.
    overlays: tuple[tuple[int, np.ndarray], ...] = field(default=(), repr=False)

    @property
    def has_pixels(self) -> bool:
        return bool(self.frames)

    @property
    def width(self) -> int:
        return int(self.frames[0].shape[1]) if self.frames else 0

    @property
    def height(self) -> int:
        return int(self.frames[0].shape[0]) if self.frames else 0


def distinct_frames(frames: Iterable[np.ndarray]) -> Iterator[tuple[int, np.ndarray]]:
    """(index, frame) for each frame whose pixels differ from every earlier one.

    Screening (over the rendered display frames) and DICOM verification (over the
    stored frames, before rendering) both skip repeated frames: a cine loop repeats
    the same overlay. Both use a digest of every byte; a sample of the bytes could
    call two different frames equal and leave one unread."""
    seen: set[bytes] = set()
    for i, frame in enumerate(frames):
        digest = hashlib.blake2b(np.ascontiguousarray(frame).tobytes(), digest_size=20).digest()
        if digest not in seen:
            seen.add(digest)
            yield i, frame
