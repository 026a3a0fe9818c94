"""The animated adapter: every frame of a GIF, APNG, WebP, multi-page TIFF or MPO.

The first frame is read whole, later frames only where they changed; what is found
in any frame is masked in all of them, and the frames go back into the same kind of
container with their timing and loop count and nothing else."""
from __future__ import annotations

import dataclasses

import numpy as np

from ...errors import PhiGuardError, UsageError
from ...policy import Policy
from ...redact import redact
from ...types import Box, MetadataItem
from ..base import Document, Encoded, MetadataStep, OutputCheck, TextFinder, digest, metadata_findings
from ..frame_changes import ReadingStats, changed_renderings
from ..photo.decode import scaled_to
from ..photo.metadata import classify
from .decode import decode, frame_count
from .encode import encode
from .inventory import check_output, inventory
from .model import Animation

# The containers it writes (a still format would drop all but one frame).
_WRITES = ("GIF", "PNG", "WEBP", "TIFF", "MPO")
_EXTENSIONS = ".gif, .png (APNG), .webp, .tif or .mpo"


class AnimatedAdapter:
    """Opens, strips, encodes and checks multi-frame images."""

    # An MPO sniffs as a JPEG (Pillow tells it apart by its MP index).
    formats: tuple[str, ...] = (*_WRITES, "JPEG")

    def accepts(self, data: bytes, fmt: str) -> bool:
        """More than one frame (a still GIF or PNG stays with the photo adapter)."""
        return frame_count(data) > 1

    def open(self, data: bytes, name: str, policy: Policy) -> Document:
        """Decode every frame as displayed, and plan what to read of each."""
        anim = decode(data, policy, max_frames=policy.video.max_frames, max_total_pixels=policy.video.max_total_pixels,
                      name=name)
        anim = _scaled(anim, policy.output.max_side)
        stats = ReadingStats()
        renderings = tuple(changed_renderings(enumerate(anim.frames), stats, policy.video.moving_every))
        return Document(data=data, sha256=digest(data), format=anim.format, frames=anim.frames, source_name=name,
                        notes=anim.notes, frame_count_in_file=anim.frame_count, renderings=renderings,
                        state=_Opened(anim, stats))

    def output_format(self, doc: Document, requested: str | None) -> str:
        """The input's container (an MPO asked for as .jpg stays an MPO); never a still format."""
        wanted = requested or doc.format
        if wanted == "JPEG" and doc.format == "MPO":
            return "MPO"
        if wanted not in _WRITES:
            raise UsageError(f"{doc.source_name}: has {doc.frame_count_in_file} frames; "
                             f"write it as {_EXTENSIONS} (a {wanted} file would keep one frame)")
        return wanted

    def strip_metadata(self, doc: Document, policy: Policy, find_in_text: TextFinder) -> MetadataStep:
        """Inventory every frame's carriers (comments, XMP, application extensions); none is kept."""
        opened = _opened(doc)
        items = tuple(inventory(doc.data, doc.format))
        anim = opened.animation
        section = {"animation": {"frames": anim.frame_count, "loop": anim.loop,
                                 "duration_ms": round(sum(anim.durations_ms))},
                   "reading": opened.stats.as_dict()}
        return MetadataStep(items=items, findings=metadata_findings(items, _classify), report_sections=section)

    def encode(self, doc: Document, metadata: MetadataStep, masks: list[Box], policy: Policy, out_fmt: str) -> Encoded:
        """Mask every frame (a fixed overlay found in one frame is masked in all) and write them back."""
        anim = _opened(doc).animation
        frames = tuple(redact(f, masks, policy.redact) if masks else f for f in anim.frames)
        data = encode(anim.with_frames(frames), out_fmt, jpeg_quality=policy.output.jpeg_quality)
        return Encoded(data, out_fmt, f"all {anim.frame_count} frames written with their timing")

    def check_output(self, encoded: Encoded, doc: Document, metadata: MetadataStep, masks: list[Box],
                     policy: Policy) -> OutputCheck:
        """The container carries frames and timing only; the same frames, sizes, durations
        and loop come back; masks are solid. Re-reads the first and last frame, a spread
        (by time), and every page of a TIFF or MPO (independent pictures)."""
        anim = _opened(doc).animation
        problems = list(check_output(encoded.data, encoded.format))
        try:
            out = decode(encoded.data, policy, max_frames=policy.video.max_frames,
                         max_total_pixels=policy.video.max_total_pixels, name="output")
        except PhiGuardError as exc:
            return OutputCheck(tuple(problems) + (f"the output does not decode ({exc.code})",))
        problems += _timing_problems(anim, out)
        if policy.redact.style == "fill" and masks and not all(_solid(f, masks, encoded.format) for f in out.frames):
            problems.append("a filled mask is not solid in the output")
        return OutputCheck(tuple(problems), tuple(enumerate(out.frames)), _sample(anim, policy.video.verify_per_second))


class _Opened:
    """The decoded animation and what reading it did, kept on the Document."""

    def __init__(self, animation: Animation, stats: ReadingStats) -> None:
        self.animation, self.stats = animation, stats


def _scaled(anim: Animation, max_side: int) -> Animation:
    """Every frame longer than ``max_side`` scaled down (a phone's MPO photo with its
    gain map or second image, a large GIF): read and written at the size shared."""
    notes: list[str] = []
    frames = tuple(scaled_to(f, max_side, notes) for f in anim.frames)
    if not notes:
        return anim
    shown = notes[0] + (f" ({len(notes)} frames)" if len(notes) > 1 else "")
    return dataclasses.replace(anim.with_frames(frames), notes=anim.notes + (shown,))


def _opened(doc: Document) -> _Opened:
    if not isinstance(doc.state, _Opened):  # pragma: no cover - a Document from another adapter
        raise UsageError(f"{doc.source_name}: was not opened as an animation")
    return doc.state


def _classify(item: MetadataItem) -> str | None:
    return classify(item) or ("FREE_TEXT" if item.phi_risk and item.carrier.startswith("GIF-") else None)


def _timing_problems(source: Animation, out: Animation) -> list[str]:
    if out.frame_count != source.frame_count:
        return [f"the output has {out.frame_count} frames, not {source.frame_count}"]
    problems = []
    if any(a.shape != b.shape for a, b in zip(source.frames, out.frames)):
        problems.append("an output frame's size differs from the screened frame")
    tolerance = 10 if out.format == "GIF" else 1  # GIF counts time in hundredths of a second
    if any(abs(a - b) >= tolerance for a, b in zip(source.durations_ms, out.durations_ms)):
        problems.append("the output's frame durations differ from the input's")
    if out.loop != source.loop:
        problems.append("the output's loop count differs from the input's")
    return problems


def _solid(frame: np.ndarray, masks: list[Box], fmt: str) -> bool:
    allowed = 0 if fmt in ("PNG", "TIFF") else 48  # palettes, lossy WebP/JPEG frames
    for x0, y0, x1, y1 in masks:
        region = frame[y0:y1, x0:x1].astype(np.int16)
        if region.size and int(region.max()) - int(region.min()) > allowed:
            return False
    return True


def _sample(anim: Animation, per_second: float) -> frozenset[int] | None:
    """Frames to re-read: first, last and ``per_second`` more per second of play time;
    None (all of them) for pages without timing."""
    total_ms = sum(anim.durations_ms)
    if total_ms <= 0:
        return None
    step_ms = 1000.0 / per_second
    picked, next_at, elapsed = {0, anim.frame_count - 1}, step_ms, 0.0
    for index, duration in enumerate(anim.durations_ms):
        if elapsed >= next_at:
            picked.add(index)
            next_at += step_ms
        elapsed += duration
    return frozenset(picked)
