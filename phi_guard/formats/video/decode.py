"""Stream the frames of a video, one at a time, as displayed RGB pixels.

Frames are yielded as they are decoded (a 10 s 720p clip is 300 frames of 2.7 MB:
they are never all held). Damage fails closed: a frame the decoder marks corrupt,
a decoding error, or fewer frames than the container's index lists (a truncated
file) raises DecodeError, because a frame that is not read cannot be screened.
"""
from __future__ import annotations

from collections.abc import Generator

import av
import numpy as np

from ...errors import DecodeError, MediaLimitError
from .model import DecodedFrame, VideoInfo, VideoLimits
from .probe import _reason, open_container, probe


def iter_frames(data: bytes, info: VideoInfo | None = None, limits: VideoLimits | None = None,
                name: str = "<bytes>", threads: int = 1) -> Generator[DecodedFrame, None, None]:
    """(index, pts, pixels) for every frame in presentation order.

    ``threads`` > 1 lets FFmpeg decode on several cores (1 keeps to the one core a
    batch worker has). pts start at 0 and strictly increase, in ``info.time_base``."""
    limits = limits or VideoLimits()
    info = info or probe(data, limits, name)
    with open_container(data, name) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO" if threads > 1 else "SLICE"
        stream.codec_context.thread_count = max(threads, 1)
        first_pts: int | None = None
        last_pts = -1
        index = -1
        try:
            for frame in container.decode(stream):
                index += 1
                if index >= limits.max_frames:
                    raise MediaLimitError(f"{name}: the clip has more than the {limits.max_frames}-frame limit")
                if frame.is_corrupt:
                    raise DecodeError(f"{name}: frame {index + 1} of the video is damaged and cannot be screened")
                pts = _pts(frame, index, info)
                first_pts = pts if first_pts is None else first_pts
                pts = max(pts - first_pts, last_pts + 1)  # players and encoders need strictly rising times
                last_pts = pts
                yield DecodedFrame(index, pts, _display_pixels(frame, info.rotation))
        except av.error.FFmpegError as exc:
            raise DecodeError(f"{name}: the video data is corrupt at frame {index + 2} ({_reason(exc)})") from None
    decoded = index + 1
    if decoded == 0:
        raise DecodeError(f"{name}: no frame of the video could be decoded")
    if info.frame_count_exact and decoded < info.frame_count:
        raise DecodeError(f"{name}: the video is truncated: {decoded} of {info.frame_count} frames could be decoded")


def _pts(frame: av.VideoFrame, index: int, info: VideoInfo) -> int:
    if frame.pts is not None:
        return int(frame.pts)
    # No timestamp (some AVI files): place the frame by its index at the average rate.
    return int(round(index / info.fps / info.time_base)) if info.fps else index


def _display_pixels(frame: av.VideoFrame, rotation: int) -> np.ndarray:
    pixels: np.ndarray = frame.to_ndarray(format="rgb24")
    if rotation:
        pixels = np.ascontiguousarray(np.rot90(pixels, k=rotation // 90))
    return pixels
