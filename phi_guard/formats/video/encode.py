"""Encode screened frames into a fresh container with no metadata, and check that it has none.

Output codecs (docs/video.md says why):
- MP4/MOV/AVI/MKV input -> H.264 (libx264, 8-bit 4:2:0, CRF 16) in MP4: plays in every
  browser and phone; 4:2:0 because 4:4:4 H.264 does not play in browsers.
- WebM input -> VP9 (libvpx-vp9, CRF 24) in WebM: stays in the open format it came in.
Timing is kept frame for frame (the input's timestamps, variable rate included).
Audio is dropped unless ``keep_audio``; then it is decoded and re-encoded (AAC in
MP4, Opus in WebM), so nothing but the sound passes. The muxers run with
``+bitexact`` (no encoder version string, no muxing date), no tags are set, and
the H.264 SEI message in which x264 writes its version and settings is removed.
"""
from __future__ import annotations

import io
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

import av
import numpy as np
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.bitstream import BitStreamFilterContext
from av.container import OutputContainer
from av.packet import Packet
from av.video.stream import VideoStream

from ...errors import OutputError
from .boxes import OUTPUT_BOXES, faststart, header_time, walk_boxes
from .model import DecodedFrame, VideoInfo
from .probe import open_container

# CRF 16 (H.264) / 24 (VP9) keep fine print and flat masks close to the source at a
# moderate size. "superfast" halves veryfast's encoding time on busy content (an echo
# sector's speckle) for ~20% larger files (bench/run_video_bench.py).
H264_OPTIONS = {"crf": "16", "preset": "superfast", "profile": "high"}
VP9_OPTIONS = {"crf": "24", "b": "0", "deadline": "realtime", "cpu-used": "8", "row-mt": "1"}
_MUXER_OPTIONS = {"fflags": "+bitexact"}


def output_size(info: VideoInfo) -> tuple[int, int]:
    """(width, height) of the output: 4:2:0 needs even sizes, so an odd edge gains one
    copied row/column (nothing is cropped)."""
    return info.width + (info.width & 1), info.height + (info.height & 1)


def encode(frames: Iterable[DecodedFrame], info: VideoInfo, keep_audio: bool = False, *,
           source: bytes | None = None, threads: int = 1, codec_options: dict[str, str] | None = None) -> bytes:
    """The frames, in order, in a new MP4 (H.264) or WebM (VP9) with no metadata.

    ``frames`` may be a generator (each frame is encoded as it arrives). With
    ``keep_audio`` the audio of ``source`` (the input's bytes) is re-encoded into it.
    ``codec_options`` override the encoder's (e.g. ``{"preset": "faster"}``)."""
    if keep_audio and source is None:
        raise OutputError("keeping the audio needs the source video")
    kind = info.output_container
    buf = io.BytesIO()
    out = av.open(buf, mode="w", format="mp4" if kind == "MP4" else "webm",
                  options=_MUXER_OPTIONS)
    try:
        video = _video_stream(out, info, kind, threads, codec_options or {})
        audio = _audio_stream(out, source or b"", kind) if keep_audio and info.has_audio else None
        # Only the codec is named (not the stream): a stream as in/out would copy the
        # filter's not-yet-known parameters (size) back into the encoder.
        sei_filter = av.bitstream.BitStreamFilterContext("filter_units=remove_types=6", "h264") if kind == "MP4" else None
        width, height = output_size(info)
        count = 0
        for frame in frames:
            picture = av.VideoFrame.from_ndarray(_even(frame.pixels, width, height), format="rgb24")
            picture.pts = frame.pts
            picture.time_base = info.time_base
            _mux(out, video.encode(picture), sei_filter)
            count += 1
        if not count:
            raise OutputError("no frame to encode")
        _mux(out, video.encode(None), sei_filter)
        if sei_filter is not None:
            _mux(out, sei_filter.filter(None), None)
        if audio is not None:
            _encode_audio(out, audio, source or b"")
    except av.error.FFmpegError as exc:
        raise OutputError(f"the video could not be encoded ({exc})") from None
    finally:
        out.close()
    return faststart(buf.getvalue()) if kind == "MP4" else buf.getvalue()


def _video_stream(out: OutputContainer, info: VideoInfo, kind: str, threads: int, overrides: dict[str, str]) -> VideoStream:
    width, height = output_size(info)
    rate = info.fps if info.fps else Fraction(30)
    if kind == "MP4":
        stream = out.add_stream("libx264", rate=rate, options={**H264_OPTIONS, **overrides})
    else:
        stream = out.add_stream("libvpx-vp9", rate=rate, options={**VP9_OPTIONS, **overrides})
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.codec_context.time_base = info.time_base
    stream.time_base = info.time_base
    stream.codec_context.thread_count = max(threads, 1)
    stream.codec_context.gop_size = max(int(round(float(rate) * 2)), 1)  # a key frame every 2 s, for seeking
    return stream


def _even(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
    h, w = pixels.shape[:2]
    if (w, h) != (width, height):
        pixels = np.pad(pixels, ((0, height - h), (0, width - w), (0, 0)), mode="edge")
    return np.ascontiguousarray(pixels)


def _mux(out: OutputContainer, packets: Iterable[Packet[Any]], sei_filter: BitStreamFilterContext | None) -> None:
    for packet in packets:
        for filtered in sei_filter.filter(packet) if sei_filter is not None else (packet,):
            out.mux(filtered)


def _audio_stream(out: OutputContainer, source: bytes, kind: str) -> AudioStream:
    """The output's audio stream (AAC / Opus), added before anything is written."""
    with open_container(source, "source") as container:
        layout = container.streams.audio[0].layout
        rate = container.streams.audio[0].rate or 48000
    audio = out.add_stream("aac" if kind == "MP4" else "libopus", rate=rate if kind == "MP4" else 48000)
    audio.layout = "stereo" if layout is not None and layout.nb_channels > 1 else "mono"
    return audio


def _encode_audio(out: OutputContainer, audio: AudioStream, source: bytes) -> None:
    """Decode the first audio stream of ``source`` and encode it afresh."""
    rate = audio.rate
    resampler = av.AudioResampler(format=audio.format.name, layout=audio.layout.name, rate=rate)
    samples = 0

    def timed(frames: list[AudioFrame]) -> list[AudioFrame]:
        nonlocal samples
        for frame in frames:
            frame.pts, frame.time_base = samples, Fraction(1, rate)
            samples += frame.samples
        return frames

    with open_container(source, "source") as container:
        for frame in container.decode(container.streams.audio[0]):
            for resampled in timed(resampler.resample(frame)):
                out.mux(audio.encode(resampled))
    for resampled in timed(resampler.resample(None)):
        out.mux(audio.encode(resampled))
    out.mux(audio.encode(None))


def check_output(encoded: bytes, expected_frames: int | None = None) -> list[str]:
    """Problems with an encoded video: tags, descriptive boxes, header times, extra streams."""
    problems: list[str] = []
    try:
        with open_container(encoded, "output") as container:
            tags = {k: v for k, v in container.metadata.items() if k.lower() not in ("major_brand", "minor_version", "compatible_brands", "encoder")}
            # With +bitexact the muxer writes "Lavf" with no version as the encoder: not identifying.
            encoder = {k.lower(): v for k, v in container.metadata.items()}.get("encoder", "Lavf")
            if encoder != "Lavf":
                tags["encoder"] = encoder
            for s in container.streams:
                tags.update({f"{s.type}.{k}": v for k, v in s.metadata.items()
                             if k.lower() not in ("language", "handler_name", "vendor_id", "encoder", "duration")})
                if s.type not in ("video", "audio"):
                    problems.append(f"the output has a {s.type} stream")
            if tags:
                problems.append("the output carries tags: " + ", ".join(sorted(tags)))
            video = container.streams.video
            if not video:
                problems.append("the output has no video stream")
            elif expected_frames is not None and video[0].frames and video[0].frames != expected_frames:
                problems.append(f"the output has {video[0].frames} frames, not {expected_frames}")
    except Exception as exc:  # noqa: BLE001 - anything unreadable fails the check
        return [f"the output cannot be read back ({type(exc).__name__})"]
    if encoded[4:8] == b"ftyp":
        try:
            for box in walk_boxes(encoded):
                if box.type not in OUTPUT_BOXES:
                    problems.append(f"the output has a '{box.type.decode('latin-1')}' box")
                elif header_time(box):
                    problems.append(f"the output's {box.type.decode()} header has a creation time")
        except ValueError:
            problems.append("the output's box structure is damaged")
    return sorted(set(problems))
