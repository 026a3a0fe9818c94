"""Which parts of which frames need reading: the first frame whole, then what changed.

A cine loop carries the same overlay (name, date, institution) on all of its 300
frames; reading every frame would read that overlay 300 times. Each frame is
compared with the pixels *as they were last read*, on a grid of cells; only cells
that changed are returned, grown by one cell and merged into boxes, and the
reference is updated inside those boxes only (so slow drift still adds up to a
change, and an area is never taken as read unless it was handed out).

A cell changed when at least ``min_pixels`` of its pixel values (any channel) moved by more
than ``threshold`` (of 255): a glyph swapped for another with the same amount of
ink (6 -> 9) changes many pixels though it keeps the cell's mean, red text on
black changes the red channel only, and video compression noise moves few
pixels by that much. The comparison is on full-resolution pixels (a one-pixel
stroke counts), done by OpenCV in a few ms per 720p frame.

Contract: the caller reads every box it is given (OCR on the crop, or the whole
frame when ``whole`` is set). Findings from any frame are masked in all frames
(a fixed overlay found once is masked everywhere), so a box that is not re-read
because it did not change is still masked.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from ..types import Box, Rendering


@dataclass(frozen=True)
class FrameChange:
    index: int
    boxes: tuple[Box, ...]  # regions to read; the whole frame for the first frame
    changed_fraction: float  # of the frame's area, before growing
    whole: bool  # read the whole frame (first frame, size change, or most of it changed)

    @property
    def needs_reading(self) -> bool:
        return bool(self.boxes)


class ChangeTracker:
    """Feed frames in order with :meth:`observe`; each answer says what to read.

    ``moving_every`` (default 1: off) thins out re-reading of *moving* cells, those
    that keep differing from their last reading (an echo sector, an endoscope's view:
    a decaying count of recent changes reaches ``moving_after``, about three changes
    in the last few frames, so speckle that stays under the threshold now and then
    still counts as moving): they are handed out on every ``moving_every``-th frame
    instead of on every frame. Text that stays on screen
    for at least ``moving_every`` frames is still read; shorter flashes inside
    moving areas may not be. Cells that change and then hold still are read on
    the next frame as always."""

    def __init__(self, cell: int = 16, threshold: int = 40, min_pixels: int = 4, whole_above: float = 0.5,
                 moving_every: int = 1, moving_after: float = 2.0) -> None:
        self.cell, self.threshold, self.min_pixels, self.whole_above = cell, threshold, min_pixels, whole_above
        self.moving_every, self.moving_after = max(int(moving_every), 1), moving_after
        self._reference: np.ndarray | None = None
        # Per cell: recent changes against its reference, each frame's weight 3/4 of
        # the next one's (not reset by a reading: a moving cell differs again next frame).
        self._activity: np.ndarray | None = None

    def observe(self, index: int, frame: np.ndarray) -> FrameChange:
        h, w = frame.shape[:2]
        if self._reference is None or self._reference.shape != frame.shape:
            return self._read_whole(index, frame, 1.0)
        changed = self._changed_cells(frame)
        assert self._activity is not None
        self._activity = self._activity * 0.75 + changed
        if self.moving_every > 1:
            moving = self._activity >= self.moving_after
            # All moving cells on the same frames (every N-th), so the other frames
            # need no reading at all there; any N frames in a row hold one such frame.
            changed &= ~moving | (index % self.moving_every == 0)
        fraction = float(changed.mean()) if changed.size else 0.0
        if not changed.any():
            return FrameChange(index, (), 0.0, False)
        if fraction > self.whole_above:
            return self._read_whole(index, frame, fraction)
        boxes = self._boxes(changed, w, h)
        for x0, y0, x1, y1 in boxes:
            self._reference[y0:y1, x0:x1] = frame[y0:y1, x0:x1]
        return FrameChange(index, boxes, fraction, False)

    def _read_whole(self, index: int, frame: np.ndarray, fraction: float) -> FrameChange:
        h, w = frame.shape[:2]
        grid = (-(-h // self.cell), -(-w // self.cell))
        self._reference = frame.copy()
        if self._activity is None or self._activity.shape != grid:  # kept otherwise: reading does not stop motion
            self._activity = np.zeros(grid, dtype=np.float32)
        return FrameChange(index, ((0, 0, w, h),), fraction, True)

    def _changed_cells(self, frame: np.ndarray) -> np.ndarray:
        assert self._reference is not None
        diff = cv2.absdiff(np.ascontiguousarray(frame), self._reference)
        _, moved = cv2.threshold(diff, self.threshold, 1, cv2.THRESH_BINARY)
        h, w = frame.shape[:2]
        channels = frame.shape[2] if frame.ndim == 3 else 1
        c = self.cell
        rows, cols = -(-h // c), -(-w // c)
        moved = moved.reshape(h, w * channels)  # a cell is c rows by c pixels x channels
        if (rows * c, cols * c) != (h, w):
            padded = np.zeros((rows * c, cols * c * channels), dtype=np.uint8)
            padded[:h, : w * channels] = moved
            moved = padded
        # Sum each run of c pixels in a row (OpenCV), then each c rows of those sums.
        runs = cv2.reduce(moved.reshape(-1, c * channels), 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S)
        counts = runs.reshape(rows, c, cols).sum(axis=1)
        changed: np.ndarray = counts >= self.min_pixels
        return changed

    def _boxes(self, changed: np.ndarray, width: int, height: int) -> tuple[Box, ...]:
        grown = cv2.dilate(changed.astype(np.uint8), np.ones((3, 3), np.uint8))  # one cell of margin
        count, _, stats, _ = cv2.connectedComponentsWithStats(grown, connectivity=8)
        c = self.cell
        boxes = []
        for x, y, w, h, _area in stats[1:count]:
            boxes.append((int(x * c), int(y * c), int(min((x + w) * c, width)), int(min((y + h) * c, height))))
        return tuple(sorted(boxes, key=lambda b: (b[1], b[0])))


def changing_regions(frames: Iterable[np.ndarray], **settings: int | float) -> Iterator[FrameChange]:
    """One FrameChange per frame, in order (see the module docstring for the contract)."""
    tracker = ChangeTracker(**settings)  # type: ignore[arg-type]
    for index, frame in enumerate(frames):
        yield tracker.observe(index, frame)


@dataclass
class ReadingStats:
    """What reading a multi-frame input did, for the report (updated as frames stream by)."""

    frames_decoded: int = 0
    frames_read: int = 0  # frames of which any part was read
    frames_read_whole: int = 0
    pixels_read: int = 0
    pixels_decoded: int = 0

    def as_dict(self) -> dict[str, int | float]:
        """The report's ``reading`` section."""
        share = self.pixels_read / self.pixels_decoded if self.pixels_decoded else 0.0
        return {"frames_decoded": self.frames_decoded, "frames_read": self.frames_read,
                "frames_read_whole": self.frames_read_whole, "share_of_pixels_read": round(share, 4)}


def changed_renderings(frames: Iterable[tuple[int, np.ndarray]], stats: ReadingStats,
                       moving_every: int = 1) -> Iterator[Rendering]:
    """A rendering for each frame with something new to read: the first frame whole (by
    every engine), later ones only where they changed (by the first engine; the whole
    frame when most of it changed). Frames that did not change are not read: whatever
    was found in an earlier frame is masked in all of them."""
    tracker = ChangeTracker(moving_every=moving_every)
    for index, pixels in frames:
        change = tracker.observe(index, pixels)
        stats.frames_decoded += 1
        stats.pixels_decoded += pixels.shape[0] * pixels.shape[1]
        if not change.needs_reading:
            continue
        h, w = pixels.shape[:2]
        boxes = tuple(_at_least(b, MIN_REGION_SIDE, w, h) for b in change.boxes)
        stats.frames_read += 1
        stats.frames_read_whole += change.whole
        stats.pixels_read += sum((b[2] - b[0]) * (b[3] - b[1]) for b in boxes)
        yield Rendering(pixels, index, all_engines=index == 0, regions=None if change.whole else boxes)


# A changed region is read with some context around it: a one-line crop with its text
# at the edge can be split by the text detector into pieces ("Patient:", ": John",
# "Smith") that no longer read as a name. (Regions are read at their own scale,
# REGION_SETTINGS; 64 px keeps the 10 s 720p benchmark clip under 3x its duration.)
MIN_REGION_SIDE = 64


def _at_least(box: Box, side: int, width: int, height: int) -> Box:
    """``box`` grown evenly on each axis to at least ``side`` pixels (within the frame)."""
    x0, y0, x1, y1 = box
    x0, x1 = _widen(x0, x1, side, width)
    y0, y1 = _widen(y0, y1, side, height)
    return x0, y0, x1, y1


def _widen(lo: int, hi: int, side: int, limit: int) -> tuple[int, int]:
    if hi - lo >= side:
        return lo, hi
    if limit <= side:
        return 0, limit
    lo = min(max(0, lo - (side - (hi - lo)) // 2), limit - side)
    return lo, lo + side
