"""The video adapter: MP4/MOV, WebM/MKV and AVI clips, streamed frame by frame.

A clip is too large to hold decoded (a 10 s 720p clip is 830 MB of pixels), so it is
decoded twice: once to read it (the first frame whole, later frames only where they
changed) and once to mask every frame and encode a fresh container, with no metadata
and no audio unless the policy keeps it. Verification decodes the output to the end
and re-reads its first and last frame, a spread, and every frame where something was
found."""
from __future__ import annotations

import functools
from collections.abc import Iterator

import numpy as np

from ...errors import OutputError, PhiGuardError, UsageError
from ...policy import Policy
from ...progress import report_frame
from ...redact import on_chroma_grid, redact
from ...types import Box, MetadataItem, Rendering
from ..base import Document, Encoded, MetadataStep, OutputCheck, Pixels, TextFinder, digest, metadata_findings
from ..frame_changes import ReadingStats, changed_renderings
from ..photo.metadata import classify
from .decode import iter_frames
from .encode import check_output, encode, output_size
from .model import DecodedFrame, VideoInfo, VideoLimits
from .probe import probe

_EXTENSION = {"MP4": ".mp4", "WEBM": ".webm"}


class VideoAdapter:
    """Opens, strips, encodes and checks video clips."""

    formats: tuple[str, ...] = ("MP4", "MOV", "WEBM", "MKV", "AVI")

    def accepts(self, data: bytes, fmt: str) -> bool:
        """Every clip sniffed as a video container."""
        return True

    def open(self, data: bytes, name: str, policy: Policy) -> Document:
        """Probe the clip (limits, codec, metadata) and decode its first frame; the rest
        stream through ``renderings`` when they are read."""
        limits = _limits(policy)
        info = probe(data, limits, name)
        frames = iter_frames(data, info, limits, name)
        try:
            first = next(frames).pixels
        finally:
            frames.close()
        opened = _Opened(info, limits, ReadingStats())
        notes = [f"rotation {info.rotation} applied to the pixels"] if info.rotation else []
        if output_size(info) != (info.width, info.height):
            notes.append("odd frame size: one edge row/column repeated (H.264 needs even sizes)")
        return Document(data=data, sha256=digest(data), format=info.container, frames=(first,), source_name=name,
                        notes=tuple(notes), frame_count_in_file=info.frame_count,
                        renderings=_ClipRenderings(data, name, opened, policy.video.moving_every), state=opened,
                        picture_sample=functools.partial(_picture_sample, data, name, opened, policy.video.pictures_per_second))

    def output_format(self, doc: Document, requested: str | None) -> str:
        """MP4 (H.264), or WebM (VP9) for a WebM input; nothing else."""
        default = _opened(doc).info.output_container
        if requested not in (None, default):
            raise UsageError(f"{doc.source_name}: this video can only be written as {_EXTENSION[default]}")
        return default

    def strip_metadata(self, doc: Document, policy: Policy, find_in_text: TextFinder) -> MetadataStep:
        """Inventory the container's tags and descriptive boxes, extra streams and audio; none is kept
        (the audio only when the policy says so, re-encoded)."""
        opened = _opened(doc)
        info = opened.info
        items = list(info.metadata) + [MetadataItem("stream", s, "<stream>") for s in info.other_streams]
        keep = policy.video.keep_audio and info.has_audio
        items += [MetadataItem("audio", f"audio stream ({codec})", "<sound>", action="kept" if keep else "removed")
                  for codec in info.audio_codecs]
        section = {"video": {"container": info.container, "codec": info.codec, "width": info.width, "height": info.height,
                             "fps": round(float(info.fps), 3), "duration_s": round(info.duration_s, 3),
                             "frames_in_file": info.frame_count, "frame_count_exact": info.frame_count_exact,
                             "audio": _audio_note(info, policy)},
                   # The pipeline strips metadata after reading: the counts are final.
                   "reading": opened.stats.as_dict()}
        return MetadataStep(items=tuple(items), findings=metadata_findings(items, _classify), report_sections=section)

    def encode(self, doc: Document, metadata: MetadataStep, masks: list[Box], policy: Policy, out_fmt: str) -> Encoded:
        """Decode the clip again, mask every frame, and encode a fresh container."""
        opened = _opened(doc)
        even = [on_chroma_grid(b) for b in masks]

        def masked() -> Iterator[DecodedFrame]:
            for frame in iter_frames(doc.data, opened.info, opened.limits, doc.source_name):
                yield frame._replace(pixels=redact(frame.pixels, even, policy.redact)) if even else frame

        data = encode(masked(), opened.info, policy.video.keep_audio, source=doc.data)
        return Encoded(data, out_fmt, _audio_note(opened.info, policy))

    def check_output(self, encoded: Encoded, doc: Document, metadata: MetadataStep, masks: list[Box],
                     policy: Policy) -> OutputCheck:
        """No tags, boxes or streams beyond the media; the same size, frame count and
        timing; no audio unless kept. The frames stream to verification (cropped back
        to the input size); a spread of them is re-read."""
        opened = _opened(doc)
        info = opened.info
        expected = opened.stats.frames_decoded
        problems = check_output(encoded.data, expected)
        try:
            out = probe(encoded.data, opened.limits, "output")
        except PhiGuardError as exc:
            return OutputCheck(tuple(problems) + (f"the output does not decode ({exc.code})",))
        if (out.width, out.height) != output_size(info):
            problems.append("the output's frame size differs from the input's")
        if abs(out.duration_s - info.duration_s) > max(2.0 / float(info.fps or 1), 0.1) and info.duration_s:
            problems.append("the output's duration differs from the input's")
        if out.has_audio and not policy.video.keep_audio:
            problems.append("the output carries audio")
        frames = _output_frames(encoded.data, out, opened.limits, info, expected, masks, policy)
        return OutputCheck(tuple(problems), frames, _sample(expected, float(info.fps), policy.video.verify_per_second))


class _Opened:
    """The probe, the limits and what reading did, kept on the Document."""

    def __init__(self, info: VideoInfo, limits: VideoLimits, stats: ReadingStats) -> None:
        self.info, self.limits, self.stats = info, limits, stats


class _ClipRenderings:
    """The clip's frames as renderings, decoded as they are read (once)."""

    def __init__(self, data: bytes, name: str, opened: _Opened, moving_every: int) -> None:
        self._data, self._name, self._opened, self._moving_every = data, name, opened, moving_every

    def __iter__(self) -> Iterator[Rendering]:
        info, total = self._opened.info, self._opened.info.frame_count

        def decoded() -> Iterator[tuple[int, np.ndarray]]:
            for frame in iter_frames(self._data, info, self._opened.limits, self._name):
                report_frame(frame.index + 1, max(total, frame.index + 1))
                yield frame.index, frame.pixels

        return changed_renderings(decoded(), self._opened.stats, self._moving_every)


def _picture_sample(data: bytes, name: str, opened: _Opened, per_second: float) -> Iterator[tuple[int, Pixels]]:
    """The first and last frame of the clip and ``per_second`` more per second, evenly
    spread, decoded again (after reading, the number of frames is known)."""
    count = opened.stats.frames_decoded or opened.info.frame_count
    wanted = _sample(count, float(opened.info.fps), per_second)
    for frame in iter_frames(data, opened.info, opened.limits, name):
        if frame.index in wanted:
            yield frame.index, frame.pixels


def _opened(doc: Document) -> _Opened:
    if not isinstance(doc.state, _Opened):  # pragma: no cover - a Document from another adapter
        raise UsageError(f"{doc.source_name}: was not opened as a video")
    return doc.state


def _limits(policy: Policy) -> VideoLimits:
    v = policy.video
    return VideoLimits(max_seconds=v.max_seconds, max_frames=v.max_frames, max_width=v.max_width, max_height=v.max_height)


def _audio_note(info: VideoInfo, policy: Policy) -> str:
    if not info.has_audio:
        return "no audio in the input"
    return "audio kept (re-encoded, not screened)" if policy.video.keep_audio else "audio dropped"


def _classify(item: MetadataItem) -> str | None:
    if item.carrier == "audio":
        return "AUDIO"  # speech can identify a patient
    if item.carrier == "cover-art":
        return "EMBEDDED_IMAGE"
    return classify(item)


def _output_frames(data: bytes, out: VideoInfo, limits: VideoLimits, source: VideoInfo, expected: int,
                   masks: list[Box], policy: Policy) -> Iterator[tuple[int, Pixels]]:
    """Every output frame cropped to the input's size; raises (and so blocks) when the
    output has a different number of frames or a filled mask is not solid."""
    count = 0
    for frame in iter_frames(data, out, limits, "output"):
        pixels = frame.pixels[: source.height, : source.width]
        if policy.redact.style == "fill" and not _solid(pixels, masks):
            raise OutputError(f"output frame {frame.index + 1}: a filled mask is not solid")
        count += 1
        yield frame.index, pixels
    if count != expected:
        raise OutputError(f"the output has {count} frames, not {expected}")


def _solid(pixels: np.ndarray, masks: list[Box]) -> bool:
    """Solid inside, allowing codec noise (a few grey levels) 2 px in from the edge."""
    for x0, y0, x1, y1 in masks:
        region = pixels[y0 + 2 : y1 - 2, x0 + 2 : x1 - 2].astype(np.int16)
        if region.size and int(region.max()) - int(region.min()) > 24:
            return False
    return True


def _sample(frames: int, fps: float, per_second: float) -> frozenset[int]:
    """First, last, and ``per_second`` evenly spread frames per second of the clip."""
    step = max(int(round((fps or 1.0) / per_second)), 1)
    return frozenset(range(0, frames, step)) | {max(frames - 1, 0)}
