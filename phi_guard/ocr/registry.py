from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable

import numpy as np

from ..errors import EngineError
from ..types import Box, Rendering, TextRegion, Where, Word, coverage, iou
from .base import READ_COVERAGE, SCREEN_SETTINGS, OcrEngine, OcrReading, ReadSettings, ReadsNewText, neighbourhoods, read_fraction

# A word read at least this sure counts as read where other readings of its frame are
# concerned (the default of ocr.min_confidence).
_CONFIDENT = 0.5
# Engines whose text detector shrinks large inputs: read those in tiles.
_TILED = {"rapidocr"}


def build_engine(name: str, min_confidence: float = 0.5, threads: int = 0, settings: ReadSettings = SCREEN_SETTINGS,
                 built: list[OcrEngine] | None = None, int8_detector: bool = False) -> OcrEngine:
    """Build an engine by name (rapidocr, tesseract) with ``settings``. ``built``: engines
    already built for the same (single-threaded) caller, whose loaded models the new one
    may share. ``int8_detector``: RapidOCR runs the int8 copy of its text detector where
    ``make setup`` made one. Raises EngineError for an unknown name or an engine that cannot load."""
    if name == "rapidocr":
        from .rapid import RapidOcrEngine

        return RapidOcrEngine(threads=threads, min_confidence=min_confidence, det_max_side=settings.det_max_side,
                              int8_detector=int8_detector)
    if name == "tesseract":
        from .tesseract import TesseractEngine

        sibling = next((e for e in built or () if isinstance(e, TesseractEngine)), None)
        if settings.tesseract_passes is not None:
            return TesseractEngine(passes=settings.tesseract_passes, min_confidence=min_confidence, share_api_with=sibling,
                                   report_unreadable=settings.tesseract_unreadable)
        return TesseractEngine(min_confidence=min_confidence, share_api_with=sibling, report_unreadable=settings.tesseract_unreadable)
    raise EngineError(f"unknown OCR engine '{name}'")


# The default policy's ocr.tile_size and ocr.tile_overlap, for callers without a policy.
TILE_SIZE = 1600
TILE_OVERLAP = 256


def _tiles(h: int, w: int, size: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """Tiles of at most ``size`` px a side, overlapping by at least ``overlap``: as few
    per axis as that allows, of equal length. (Tiles of exactly ``size`` px placed from
    the edges overlapped by up to a whole tile: a 2140x1760 DICOM was read as four
    1600 px tiles, 2.7x its pixels; equal tiles read it as 1.1x.)"""
    if max(h, w) <= size:
        return [(0, 0, w, h)]
    return [(x0, y0, x1, y1) for y0, y1 in _spans(h, size, overlap) for x0, x1 in _spans(w, size, overlap)]


def _spans(length: int, size: int, overlap: int) -> list[tuple[int, int]]:
    """(start, end) of the fewest equal spans of at most ``size`` covering ``length``,
    neighbours overlapping by at least ``overlap``."""
    if length <= size:
        return [(0, length)]
    n = -(-(length - overlap) // (size - overlap))
    span = min(size, -(-(length + (n - 1) * overlap) // n))
    starts = [round(i * (length - span) / (n - 1)) for i in range(n)]
    return [(s, s + span) for s in starts]


def _shift(box: tuple[int, int, int, int], dx: int, dy: int) -> tuple[int, int, int, int]:
    return box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy


def read_regions(
    engines: list[OcrEngine], image: np.ndarray, regions: list[tuple[int, int, int, int]], frame: int = 0
) -> OcrReading:
    """Read only the given regions of a frame (boxes shifted back to frame coordinates)."""
    total = OcrReading()
    for engine in engines:
        for r, (x0, y0, x1, y1) in enumerate(regions):
            reading = engine.read(image[y0:y1, x0:x1], tag=f"f{frame}r{r}")
            total = total + OcrReading(
                tuple(dataclasses.replace(w, box=_shift(w.box, x0, y0), frame=frame) for w in reading.words),
                tuple(dataclasses.replace(g, box=_shift(g.box, x0, y0), frame=frame) for g in reading.unreadable),
            )
    return total


def read_frame(
    engines: list[OcrEngine], image: np.ndarray, frame: int = 0, tile_size: int = TILE_SIZE, tile_overlap: int = TILE_OVERLAP,
    around_first: bool = False,
) -> OcrReading:
    """Every engine's reading of one frame, large frames in overlapping tiles. With
    ``around_first``, the engines after the first read only around the text the first
    one detected (its words and the lines it could not read, each grown to hold the
    rest of its line): where its detector saw no text, they read nothing."""
    total = OcrReading()
    for n, engine in enumerate(engines):
        if n and around_first:
            h, w = image.shape[:2]
            regions = neighbourhoods([wd.box for wd in total.words] + [rg.box for rg in total.unreadable], w, h)
            total = total + (read_regions([engine], image, regions, frame) if regions else OcrReading())
        else:
            total = total + _read_tiled(engine, image, frame, tile_size, tile_overlap, None)
    return total


def read_new_text(engine: OcrEngine, image: np.ndarray, frame: int, already: OcrReading, tile_size: int = TILE_SIZE,
                  tile_overlap: int = TILE_OVERLAP) -> OcrReading:
    """A further rendering of a frame read by ``engine``'s text detector: only the text
    lines not already read in ``already`` (the frame's earlier readings) are recognised.
    An engine without a separate detector reads the whole rendering."""
    unread = [rg.box for rg in already.unreadable]
    # Words read with confidence, not inside text seen but not read (that is tried again).
    read = [wd.box for wd in already.words
            if wd.confidence >= _CONFIDENT and not any(coverage(wd.box, u) > 0.5 for u in unread)]
    return _read_tiled(engine, image, frame, tile_size, tile_overlap, read)


def _is_read(line: Box, words: list[Box]) -> bool:
    """True when words of about the line's height cover at least half of a detected line's box."""
    x0, y0, x1, y1 = line
    h, w = max(y1 - y0, 1), max(x1 - x0, 1)
    cover = np.zeros((h, w), bool)
    for b in words:
        if b[3] - b[1] > 2 * h + 4 or b[2] <= x0 or b[0] >= x1 or b[3] <= y0 or b[1] >= y1:
            continue  # a word box much taller than the line is not a reading of it
        g = max((b[3] - b[1]) // 3, 2)  # a detector's line box reaches beyond the glyphs
        cover[max(b[1] - g - y0, 0):max(b[3] + g - y0, 0), max(b[0] - g - x0, 0):max(b[2] + g - x0, 0)] = True
    return float(cover.mean()) >= 0.5


def _read_tiled(engine: OcrEngine, image: np.ndarray, frame: int, tile_size: int, tile_overlap: int,
                read: list[Box] | None) -> OcrReading:
    """One engine's reading of a frame, tiled if the engine needs it; ``read``: the boxes
    of words already read (lines they cover are not recognised again), or None."""
    h, w = image.shape[:2]
    tiles = _tiles(h, w, tile_size, tile_overlap) if engine.name in _TILED else [(0, 0, w, h)]
    words: list[Word] = []
    regions: list[TextRegion] = []
    for t, (x0, y0, x1, y1) in enumerate(tiles):
        crop = image[y0:y1, x0:x1]
        if read is not None and isinstance(engine, ReadsNewText):
            reading = engine.read_new(crop, functools.partial(_is_read, words=[_shift(b, -x0, -y0) for b in read]),
                                      tag=f"f{frame}t{t}s")
        else:
            reading = engine.read(crop, tag=f"f{frame}t{t}")
        for wd in reading.words:
            moved = dataclasses.replace(wd, box=_shift(wd.box, x0, y0), frame=frame)
            # Tiles overlap: drop a word the previous tile already read at the same place.
            if not any(o.text == moved.text and iou(o.box, moved.box) > 0.5 for o in words):
                words.append(moved)
        for rg in reading.unreadable:
            regions.append(dataclasses.replace(rg, box=_shift(rg.box, x0, y0), frame=frame))
    return OcrReading(tuple(words), tuple(regions))


def read_renderings(engines: list[OcrEngine], renderings: Iterable[Rendering], tile_size: int = TILE_SIZE,
                    tile_overlap: int = TILE_OVERLAP, region_engines: list[OcrEngine] | None = None,
                    around_first: bool = False) -> list[tuple[Rendering, OcrReading]]:
    """Read each rendering (with every engine, or the first one only where the rendering
    says so; only its changed regions where it names them; a supplementary rendering with
    the first engine's detector, recognising only text its frame's earlier renderings did
    not read). Returns (rendering, reading) pairs in order, the renderings without their
    pixels: ``renderings`` may be a stream of a clip's frames, decoded one at a time, and
    none of them is kept. Changed regions are read by ``region_engines`` when given (set
    up for crops, :data:`REGION_SETTINGS`). ``around_first``: see :func:`read_frame`."""
    out = []
    by_frame: dict[int, OcrReading] = {}
    for r in renderings:
        chosen = engines if r.all_engines else engines[:1]
        if r.supplementary:
            reading = read_new_text(engines[0], r.pixels, r.frame, by_frame.get(r.frame, OcrReading()), tile_size, tile_overlap)
        elif r.regions is None:
            reading = read_frame(chosen, r.pixels, r.frame, tile_size, tile_overlap, around_first)
        else:
            reading = read_regions(region_engines or chosen, r.pixels, list(r.regions), r.frame)
        if not r.supplementary and not r.all_engines and reading.unreadable and len(engines) > 1:
            # Text the first engine saw but could not read (a later cine frame is read by
            # it alone) is tried by the other engines before it counts as unreadable.
            h, w = r.pixels.shape[:2]
            reading = reading + read_regions(engines[1:], r.pixels, neighbourhoods([u.box for u in reading.unreadable], w, h),
                                             r.frame)
        if r.where is Where.PIXELS:
            by_frame[r.frame] = by_frame.get(r.frame, OcrReading()) + reading
        out.append((r.without_pixels(), reading))
    return _without_regions_read_elsewhere(out)


def _without_regions_read_elsewhere(pairs: list[tuple[Rendering, OcrReading]]) -> list[tuple[Rendering, OcrReading]]:
    """Text one rendering of a frame shows unsure (a "5 cm" at low contrast in the min-max
    reading) is not unreadable where another rendering of the frame read it with
    confidence: those words are screened like any other."""
    confident: dict[int, list[Box]] = {}
    for r, reading in pairs:
        if r.where is Where.PIXELS:
            confident.setdefault(r.frame, []).extend(w.box for w in reading.words if w.confidence >= _CONFIDENT)
    out = []
    for r, reading in pairs:
        words = confident.get(r.frame, [])
        if r.where is Where.PIXELS and reading.unreadable and words:
            kept = tuple(u for u in reading.unreadable if read_fraction(u.box, words) < READ_COVERAGE)
            reading = OcrReading(reading.words, kept)
        out.append((r, reading))
    return out
