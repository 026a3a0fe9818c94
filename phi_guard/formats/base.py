"""What every format adapter takes and gives: the one interface between the pipeline
and a container family (photo, DICOM, animated images, video).

The pipeline never asks which format it holds: it opens a :class:`Document` with the
input's adapter, checks the requested output format with it before any OCR, reads
``doc.renderings``, strips metadata into a :class:`MetadataStep`, and has the output
format's adapter encode (:class:`Encoded`) and check (:class:`OutputCheck`) the result.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from ..policy import Policy
from ..types import Box, Finding, MetadataItem, Rendering, Where

Pixels = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Document:
    """A decoded input: its displayed pixels and what is needed to inventory its metadata.

    ``frames`` hold 8-bit pixels, ``(H, W)`` grey or ``(H, W, 3)`` RGB, exactly as
    the image is displayed (EXIF orientation applied, alpha flattened, ICC
    converted to sRGB when the policy says so). These are the pixels that are
    screened and written; nothing else of the input reaches the output.
    ``renderings`` are what the OCR engines read (each names the frame it shows, and
    the regions of it that changed when not all of it needs reading): a tuple, or for
    a clip too long to hold (video) an iterable that decodes frame by frame, read once.
    A streamed format keeps only its first frame in ``frames`` (size and overlays are
    known from it) and decodes the rest again when it encodes. ``state`` is the
    adapter's own description of the input (an animation's timing, a video's probe),
    handed back to it when it writes.
    """

    data: bytes = field(repr=False)
    sha256: str
    format: str  # JPEG, PNG, TIFF, WEBP, BMP, GIF, HEIF, AVIF, MPO, DICOM
    frames: tuple[Pixels, ...] = field(repr=False)
    source_name: str = ""  # file name only, for messages (never a full path in reports)
    notes: tuple[str, ...] = ()  # what loading changed (orientation applied, frames dropped, ...)
    frame_count_in_file: int = 1
    renderings: Iterable[Rendering] = field(default=(), repr=False)
    state: object = field(default=None, repr=False)
    # The frames are photographs or screen captures, where faces can show: searched for
    # faces (printed codes are searched in every image). An adapter says False for
    # medical image renderings (a grey x-ray, CT or MR), where there is only anatomy.
    photographic: bool = True
    # A clip's frames to search for faces and codes (its frames are not held): a spread
    # of them, decoded again when called. None: the held renderings' frames are searched.
    picture_sample: Callable[[], Iterator[tuple[int, Pixels]]] | None = field(default=None, repr=False)

    @property
    def held_renderings(self) -> Sequence[Rendering]:
        """The renderings held in memory: all of a still's or an animation's; none of a
        clip's, whose frames stream through the read stage once and are not kept."""
        return self.renderings if isinstance(self.renderings, Sequence) else ()

    @property
    def has_pixels(self) -> bool:
        """True when there is at least one frame to screen."""
        return bool(self.frames)

    @property
    def width(self) -> int:
        """Width of the frames in pixels (0 without pixels)."""
        return int(self.frames[0].shape[1]) if self.frames else 0

    @property
    def height(self) -> int:
        """Height of the frames in pixels (0 without pixels)."""
        return int(self.frames[0].shape[0]) if self.frames else 0


def digest(data: bytes) -> str:
    """The SHA-256 of ``data`` in hex (reports name inputs and outputs by it)."""
    return hashlib.sha256(data).hexdigest()


# Finds identifiers in free text: (text, terms) -> [(start, end, kind)]. The detector's
# ``find_in_text`` with the policy bound; a format uses it to clean header free text.
TextFinder = Callable[[str, tuple[str, ...]], list[tuple[int, int, str]]]


@dataclass(frozen=True)
class MetadataStep:
    """What stripping the metadata found and did.

    ``items``: every entry of the input container (values masked); ``findings``: the
    identifiers among them; ``terms``: identifying values the container states (a DICOM
    header's patient name, ID, dates), which detection looks for in the pixels;
    ``report_sections``: the format's own part of the report (e.g. ``{"dicom": ...}``);
    ``cleaned``: the adapter's de-identified container state, handed back to its encoder."""

    items: tuple[MetadataItem, ...] = ()
    findings: tuple[Finding, ...] = ()
    terms: tuple[str, ...] = ()
    report_sections: dict[str, Any] = field(default_factory=dict)
    cleaned: object = field(default=None, repr=False)


@dataclass(frozen=True)
class Encoded:
    """An encoded output, not yet verified: its bytes, format and a note for the report."""

    data: bytes = field(repr=False)
    format: str
    note: str = ""


@dataclass(frozen=True)
class OutputCheck:
    """An adapter's check of an encoded output: container ``problems`` (each one
    blocks), and the decoded output frames, ``(index, 8-bit pixels)``, to re-read:
    a tuple, or an iterable decoding a long output frame by frame. With ``sample``,
    only those frames (and frames where screening found something) are re-read of
    the ones given; the rest are decoded (a damaged frame still fails) but not read.
    ``readings``: further renderings of those frames (supplementary, like the input's:
    a DICOM's value bands), re-read after them.

    What the adapter proved by comparing the output with the screened input (what lets
    verification re-read only where something can have changed, docs/design.md):
    ``masks_solid``, every mask is one opaque colour in the output; ``changed``, the
    regions outside the masks where the output's pixels differ from the input's
    (beyond codec noise for a lossy format), in every frame's coordinates: ``()`` when
    the output is the input outside the masks, None when not compared or too much
    changed (then every frame is re-read in full)."""

    problems: tuple[str, ...] = ()
    frames: Iterable[tuple[int, Pixels]] = ()
    sample: frozenset[int] | None = None
    readings: tuple[Rendering, ...] = ()
    masks_solid: bool = False
    changed: tuple[Box, ...] | None = None


class FormatAdapter(Protocol):
    """One container family: opens its inputs, strips their metadata, writes and checks outputs."""

    formats: tuple[str, ...]  # the format names it opens (as sniffed) and writes

    def accepts(self, data: bytes, fmt: str) -> bool:
        """True when this adapter opens ``data`` sniffed as ``fmt`` (several adapters may
        know one format name: an animated GIF is not opened as a still one)."""
        ...

    def open(self, data: bytes, name: str, policy: Policy) -> Document:
        """Decode ``data``; raises an InputError subclass for what cannot be screened."""
        ...

    def output_format(self, doc: Document, requested: str | None) -> str:
        """The format to write ``doc`` as (``requested`` or the default); raises UsageError."""
        ...

    def strip_metadata(self, doc: Document, policy: Policy, find_in_text: TextFinder) -> MetadataStep:
        """Inventory the container and de-identify what is carried to the output."""
        ...

    def encode(self, doc: Document, metadata: MetadataStep, masks: list[Box], policy: Policy, out_fmt: str) -> Encoded:
        """Redact ``masks`` and encode a fresh ``out_fmt`` container; raises OutputError."""
        ...

    def check_output(self, encoded: Encoded, doc: Document, metadata: MetadataStep, masks: list[Box],
                     policy: Policy) -> OutputCheck:
        """Decode an output of this adapter again and inspect its container."""
        ...


def distinct_frames(frames: Iterable[Pixels] | np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """(index, frame) for each frame whose pixels differ from every earlier one.

    Screening (over the rendered display frames) and DICOM verification (over the
    stored frames, before rendering) both skip repeated frames: a cine loop repeats
    the same overlay. Both use a digest of every byte; a sample of the bytes could
    call two different frames equal and leave one unread."""
    seen: set[bytes] = set()
    for i, frame in enumerate(frames):
        key = hashlib.blake2b(np.ascontiguousarray(frame).tobytes(), digest_size=20).digest()
        if key not in seen:
            seen.add(key)
            yield i, frame


def frame_renderings(frames: tuple[Pixels, ...]) -> tuple[Rendering, ...]:
    """One rendering per distinct frame: the first read by every engine, the rest by the first."""
    return tuple(Rendering(frame, i, all_engines=n == 0) for n, (i, frame) in enumerate(distinct_frames(frames)))


def metadata_findings(items: Iterable[MetadataItem], classify: Callable[[MetadataItem], str | None]) -> tuple[Finding, ...]:
    """Findings for the metadata items ``classify`` names a kind for (None: not an identifier)."""
    out = []
    for it in items:
        kind = classify(it) if it.phi_risk else None
        if kind:
            out.append(Finding(kind=kind, masked_value=it.masked_value, boxes=(), score=1.0,
                               rule=f"metadata:{it.carrier}:{it.key}", where=Where.METADATA))
    return tuple(out)


# Cells in which an output is compared with its input, and the share of a frame that
# may differ before verification re-reads all of it instead of the changed cells.
_CELL = 32
_MAX_CHANGED_SHARE = 0.3


def pixel_difference(output: np.ndarray, reference: np.ndarray) -> np.ndarray | None:
    """The largest absolute difference at each position of two frames, ``(H, W)`` or
    ``(H, W, C)`` in any integer dtype (a grey output against an RGB input whose
    channels are equal, as grey images are written); None when they cannot be compared."""
    out, ref = _comparable(output), _comparable(reference)
    if out is None or ref is None or out.shape != ref.shape:
        return None
    if out.dtype == ref.dtype and out.dtype in (np.uint8, np.uint16) and (out.ndim == 2 or out.shape[2] <= 4):
        # OpenCV's exact absolute difference in the pixels' own type: a 12 MP photo took
        # 2.9 s and two 290 MB copies in int64, and takes a few milliseconds this way.
        diff = cv2.absdiff(np.ascontiguousarray(out), np.ascontiguousarray(ref))
    else:
        diff = np.abs(out.astype(np.int64) - ref.astype(np.int64))
    if diff.ndim == 2:
        return diff
    largest = diff[..., 0]
    for c in range(1, diff.shape[2]):
        largest = np.maximum(largest, diff[..., c])
    return largest


def _comparable(a: np.ndarray) -> np.ndarray | None:
    if not np.issubdtype(a.dtype, np.integer):
        return None
    if a.ndim == 3 and a.shape[2] == 1:
        return a[..., 0]
    if a.ndim == 3 and a.shape[2] == 3 and (a[..., 0] == a[..., 1]).all() and (a[..., 0] == a[..., 2]).all():
        return a[..., 0]
    return a if a.ndim in (2, 3) else None


def changed_outside_masks(diff: np.ndarray | None, masks: Sequence[Box], noise: int = 0) -> tuple[Box, ...] | None:
    """The regions outside ``masks`` where a :func:`pixel_difference` exceeds ``noise``
    (0 for a lossless output; a lossy codec moves every value a little): the 32 px
    cells holding such a pixel and their neighbour cells, as boxes. ``()``: nothing
    changed. None when not compared or more than 30 % of the frame changed (read it all)."""
    if diff is None:
        return None
    h, w = diff.shape
    differs = diff > noise
    for x0, y0, x1, y1 in masks:
        differs[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)] = False
    if not differs.any():
        return ()
    gh, gw = -(-h // _CELL), -(-w // _CELL)
    padded = np.zeros((gh * _CELL, gw * _CELL), bool)
    padded[:h, :w] = differs
    cells: np.ndarray = np.asarray(padded.reshape(gh, _CELL, gw, _CELL).any(axis=(1, 3)), np.uint8)
    # A cell's neighbours too: a word that changed at a cell's edge runs on into the next.
    grown = cv2.dilate(cells, np.ones((3, 3), np.uint8))
    if float(grown.mean()) > _MAX_CHANGED_SHARE:
        return None
    n, _, stats, _ = cv2.connectedComponentsWithStats(grown, connectivity=8)
    return tuple((int(x) * _CELL, int(y) * _CELL, min(int(x + cw) * _CELL, w), min(int(y + ch) * _CELL, h))
                 for x, y, cw, ch, _a in stats[1:n])
