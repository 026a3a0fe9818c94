"""The decoded animation: every frame as displayed, and its timing."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Containers that can hold more than one frame, by the names sniff_format gives them
# (an APNG is a PNG; an MPO sniffs as a JPEG and Pillow tells it apart).
ANIMATED_FORMATS = ("GIF", "PNG", "WEBP", "TIFF", "MPO")


@dataclass(frozen=True)
class Animation:
    """All frames of a multi-frame image, composited as a viewer shows them.

    ``frames`` are 8-bit, all grey ``(H, W)`` or all RGB ``(H, W, 3)``: GIF, APNG and
    WebP frames are the full canvas after disposal and blending; TIFF pages and MPO
    images are independent pictures and may differ in size. Transparency is
    flattened onto white (hidden pixels must not reappear in an output without
    alpha). ``durations_ms`` has one entry per frame (0 for TIFF and MPO, which
    have no timing); ``loop`` is the container's loop count (0 = forever) or None
    when the file plays once / has no loop setting.
    """

    format: str  # GIF, PNG (APNG), WEBP, TIFF, MPO
    frames: tuple[np.ndarray, ...] = field(repr=False)
    durations_ms: tuple[float, ...]
    loop: int | None
    # APNG only: the first frame is the "default image" that viewers without APNG
    # support show and that is not part of the animation. It is screened and written
    # back in the same role.
    default_image_hidden: bool = False
    notes: tuple[str, ...] = ()

    @property
    def frame_count(self) -> int:
        return len(self.frames)

    def with_frames(self, frames: tuple[np.ndarray, ...]) -> Animation:
        """The same animation (timing, loop) with new pixels, e.g. after masking."""
        if len(frames) != len(self.frames):
            raise ValueError(f"expected {len(self.frames)} frames, got {len(frames)}")
        return Animation(self.format, tuple(frames), self.durations_ms, self.loop, self.default_image_hidden, self.notes)
