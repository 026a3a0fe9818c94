"""Open a video with PyAV (FFmpeg), describe it, inventory its metadata, enforce the limits.

Every FFmpeg failure becomes a typed one-line InputError: damaged or truncated
data -> DecodeError, a container or codec FFmpeg cannot decode ->
UnsupportedFormatError, too long / too many frames / too large -> MediaLimitError.
The first frame is decoded here, so a clip whose codec is not decodable is refused
before any screening starts (and its display rotation is known).
"""
from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from fractions import Fraction

import av
from av.container import InputContainer
from av.video.stream import VideoStream

from ...errors import DecodeError, MediaLimitError, UnsupportedFormatError
from ...mask import mask_value
from ...types import MetadataItem
from .boxes import metadata_boxes
from .model import VideoInfo, VideoLimits
from .sniff import sniff_video

# Tags that describe the container layout and identify nobody.
_STRUCTURAL_TAGS = {"major_brand", "minor_version", "compatible_brands", "handler_name", "vendor_id", "language",
                    "duration", "encoder", "doctype", "doctype_version", "_statistics_tags", "_statistics_writing_app",
                    "_statistics_writing_date_utc", "bps", "number_of_frames", "number_of_bytes"}
_DEVICE_TAGS = ("make", "model", "software", "encoder", "com.apple.quicktime.software")


@contextlib.contextmanager
def open_container(data: bytes, name: str) -> Iterator[av.container.InputContainer]:
    """The input as a PyAV container; FFmpeg's errors as one typed line.

    FFmpeg's own log stays off (PyAV's default log level is None), so nothing needs
    silencing here; the phi_guard.quiet guard must not be held across a ``yield``
    anyway: it takes a process-wide lock that OCR between two frames also takes."""
    try:
        container = av.open(io.BytesIO(data), mode="r", metadata_errors="replace")
    except av.error.FFmpegError as exc:
        raise DecodeError(f"{name}: the video is corrupt or truncated and cannot be opened ({_reason(exc)})") from None
    try:
        yield container
    finally:
        container.close()


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(text).splitlines()[0][:100]


def probe(data: bytes, limits: VideoLimits | None = None, name: str = "<bytes>") -> VideoInfo:
    """Describe the video in ``data`` and check it against ``limits`` (the defaults when None)."""
    limits = limits or VideoLimits()
    kind = sniff_video(data)
    if kind is None:
        raise UnsupportedFormatError(f"{name}: not a supported video (expected MP4, MOV, WebM or AVI)")
    with open_container(data, name) as container:
        if not container.streams.video:
            raise UnsupportedFormatError(f"{name}: the file holds no video stream")
        stream = container.streams.video[0]
        info = _describe(container, stream, kind, data, name)
    check_limits(info, limits, name)
    return info


def _describe(container: InputContainer, stream: VideoStream, kind: str, data: bytes, name: str) -> VideoInfo:
    codec = stream.codec_context.name
    first = _first_frame(container, stream, name)
    rotation = int(round(first.rotation / 90)) * 90 if first.rotation else 0
    width, height = (first.height, first.width) if rotation in (90, -90, 270, -270) else (first.width, first.height)
    fps = Fraction(stream.average_rate or stream.guessed_rate or 0)
    time_base = Fraction(stream.time_base or Fraction(1, 90000))
    if stream.duration:
        duration = float(stream.duration * time_base)
    elif container.duration:
        duration = container.duration / av.time_base
    else:
        duration = 0.0
    exact = bool(stream.frames)
    frames = int(stream.frames) if exact else int(round(duration * float(fps))) if fps else 0
    audio = tuple(s.codec_context.name for s in container.streams.audio)
    others = []
    for s in container.streams:
        if s.type == "video" and s.index != stream.index:
            attached = bool(s.disposition & av.stream.Disposition.attached_pic)
            others.append("cover image" if attached else f"further video stream ({s.codec_context.name})")
        elif s.type not in ("video", "audio"):
            others.append(f"{s.type} stream")
    return VideoInfo(
        container=kind, codec=codec, width=width, height=height, fps=fps, time_base=time_base, duration_s=duration,
        frame_count=frames, frame_count_exact=exact, rotation=rotation, audio_codecs=audio, other_streams=tuple(others),
        metadata=tuple(inventory(container, kind, data)),
    )


def _first_frame(container: InputContainer, stream: VideoStream, name: str) -> av.VideoFrame:
    try:
        for frame in container.decode(stream):
            return frame
    except (av.error.FFmpegError, ValueError) as exc:
        raise DecodeError(f"{name}: the video data is corrupt and cannot be decoded ({_reason(exc)})") from None
    raise UnsupportedFormatError(f"{name}: no frame of the {stream.codec_context.name} video could be decoded")


def check_limits(info: VideoInfo, limits: VideoLimits, name: str) -> None:
    if info.duration_s > limits.max_seconds:
        raise MediaLimitError(f"{name}: the clip is {info.duration_s:.0f} s long, over the {limits.max_seconds:g} s limit")
    if info.frame_count > limits.max_frames:
        raise MediaLimitError(f"{name}: the clip has {info.frame_count} frames, over the {limits.max_frames}-frame limit")
    if info.width > limits.max_width or info.height > limits.max_height:
        raise MediaLimitError(
            f"{name}: frames are {info.width}x{info.height}, over the {limits.max_width}x{limits.max_height} limit")


def inventory(container: InputContainer, kind: str, data: bytes) -> list[MetadataItem]:
    """Container tags, stream tags, attached pictures and descriptive MP4 boxes (values masked).

    For MP4/MOV the boxes themselves are listed (every udta, keys/ilst and uuid entry,
    header times): FFmpeg's tags are read from those same boxes, so listing both would
    name each item twice, and the walk also finds boxes FFmpeg has no tag for."""
    mp4 = kind in ("MP4", "MOV")
    items = [] if mp4 else [_tag_item("container", key, value) for key, value in container.metadata.items()]
    for s in container.streams:
        if not mp4:
            items.extend(_tag_item(f"{s.type} stream {s.index}", key, value) for key, value in s.metadata.items())
        if s.type == "video" and s.disposition & av.stream.Disposition.attached_pic:
            items.append(MetadataItem("cover-art", f"attached picture (stream {s.index})", "<image>"))
        elif s.type in ("subtitle", "data", "attachment"):
            items.append(MetadataItem(f"{s.type}-stream", f"{s.type} stream {s.index}", "<stream>"))
    if mp4:
        try:
            items.extend(MetadataItem(carrier, key, mask_value(value)) for carrier, key, value in metadata_boxes(data))
        except ValueError:
            items.append(MetadataItem("MP4-box", "unparseable box structure", "<damaged>"))
    return items


def _tag_item(where: str, key: str, value: str) -> MetadataItem:
    lowered = key.lower()
    if "location" in lowered or "gps" in lowered or lowered.endswith("xyz"):
        carrier = "GPS"
    elif "creation_time" in lowered or "date" in lowered:
        carrier = "video-time"
    elif any(tag in lowered for tag in _DEVICE_TAGS):
        carrier = "device"
    else:
        carrier = "video-tag"
    risk = lowered not in _STRUCTURAL_TAGS
    return MetadataItem(carrier, f"{where}: {key}", mask_value(value), phi_risk=risk)
