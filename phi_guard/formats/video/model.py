"""What a video is (VideoInfo), the limits it must stay within, and one decoded frame."""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple

import numpy as np

from ...types import MetadataItem


@dataclass(frozen=True)
class VideoLimits:
    """Past any of these a clip is refused with one line (MediaLimitError).

    Defaults: two minutes covers cine loops, fluoroscopy runs and phone clips of a
    finding; 7200 frames is two minutes at 60 fps; 3840 px admits 4K phone video."""

    max_seconds: float = 120.0
    max_frames: int = 7200
    max_width: int = 3840
    max_height: int = 3840


@dataclass(frozen=True)
class VideoInfo:
    """A probed video. Sizes are as displayed (the container's rotation applied)."""

    container: str  # MP4, MOV, WEBM, MKV, AVI
    codec: str  # FFmpeg decoder name: h264, hevc, vp8, vp9, av1, mjpeg, ...
    width: int
    height: int
    fps: Fraction  # average frame rate
    time_base: Fraction  # of the video stream: frame pts count in these units
    duration_s: float
    frame_count: int  # from the container's index, or estimated from duration x fps
    frame_count_exact: bool  # False when the container has no index (WebM): estimated
    rotation: int  # degrees counter-clockwise applied to the decoded pixels (0, 90, 180, -90)
    audio_codecs: tuple[str, ...]  # one per audio stream
    other_streams: tuple[str, ...]  # subtitles, data (GPS tracks), attachments, cover art
    metadata: tuple[MetadataItem, ...]  # container, stream and box-level tags, values masked

    @property
    def has_audio(self) -> bool:
        return bool(self.audio_codecs)

    @property
    def output_container(self) -> str:
        """WebM stays WebM (VP9); everything else becomes MP4 (H.264)."""
        return "WEBM" if self.container in ("WEBM", "MKV") and self.codec in ("vp8", "vp9", "av1", "libdav1d") else "MP4"


class DecodedFrame(NamedTuple):
    # The field shadows tuple.index (a method); callers read frame.index as the position.
    index: int  # type: ignore[assignment]  # 0-based position in presentation order
    pts: int  # presentation time in VideoInfo.time_base units, from 0
    pixels: np.ndarray  # (H, W, 3) uint8 RGB as displayed
