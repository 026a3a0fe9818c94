from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np

from ..errors import EngineError
from ..types import Rendering, TextRegion, Word, iou
from .base import SCREEN_SETTINGS, OcrEngine, OcrReading, ReadSettings

# Engines whose text detector shrinks large inputs: read those in tiles.
_TILED = {"rapidocr"}


def build_engine(name: str, min_confidence: float = 0.5, threads: int = 0, settings: ReadSettings = SCREEN_SETTINGS,
                 built: list[OcrEngine] | None = None) -> OcrEngine:
    """Build an engine by name (rapidocr, tesseract) with ``settings``. ``built``: engines
    already built for the same (single-threaded) caller, whose loaded models the new one
    may share. Raises EngineError for an unknown name or an engine that cannot load."""
    if name == "rapidocr":
        from .rapid import RapidOcrEngine

        return RapidOcrEngine(threads=threads, min_confidence=min_confidence, det_max_side=settings.det_max_side)
    if name == "tesseract":
        from .tesseract import TesseractEngine

        sibling = next((e for e in built or () if isinstance(e, TesseractEngine)), None)
        if settings.tesseract_passes is not None:
            return TesseractEngine(passes=settings.tesseract_passes, min_confidence=min_confidence, share_api_with=sibling,
                                   report_unreadable=settings.tesseract_unreadable)
        return TesseractEngine(min_confidence=min_confidence, share_api_with=sibling, report_unreadable=settings.tesseract_unreadable)
    raise EngineError(f"unknown OCR engine '{name}'")


def _tiles(h: int, w: int, size: int, overlap: int) -> list[tuple[int, int, int, int]]:
    if max(h, w) <= size:
        return [(0, 0, w, h)]
    step = max(size - overlap, 1)
    xs = list(range(0, max(w - size, 0) + 1, step)) or [0]
    ys = list(range(0, max(h - size, 0) + 1, step)) or [0]
    if xs[-1] + size < w:
        xs.append(w - size)
    if ys[-1] + size < h:
        ys.append(h - size)
    return [(x, y, min(x + size, w), min(y + size, h)) for y in ys for x in xs]


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
    engines: list[OcrEngine], image: np.ndarray, frame: int = 0, tile_size: int = 1600, tile_overlap: int = 96
) -> OcrReading:
    """Every engine's reading of one frame, large frames in overlapping tiles."""
    h, w = image.shape[:2]
    total = OcrReading()
    for engine in engines:
        tiles = _tiles(h, w, tile_size, tile_overlap) if engine.name in _TILED else [(0, 0, w, h)]
        words: list[Word] = []
        regions: list[TextRegion] = []
        for t, (x0, y0, x1, y1) in enumerate(tiles):
            reading = engine.read(image[y0:y1, x0:x1], tag=f"f{frame}t{t}")
            for wd in reading.words:
                moved = dataclasses.replace(wd, box=_shift(wd.box, x0, y0), frame=frame)
                # Tiles overlap: drop a word the previous tile already read at the same place.
                if not any(o.text == moved.text and iou(o.box, moved.box) > 0.5 for o in words):
                    words.append(moved)
            for rg in reading.unreadable:
                regions.append(dataclasses.replace(rg, box=_shift(rg.box, x0, y0), frame=frame))
        total = total + OcrReading(tuple(words), tuple(regions))
    return total


def read_renderings(engines: list[OcrEngine], renderings: Iterable[Rendering], tile_size: int = 1600,
                    tile_overlap: int = 96, region_engines: list[OcrEngine] | None = None) -> list[tuple[Rendering, OcrReading]]:
    """Read each rendering (with every engine, or the first one only where the rendering
    says so; only its changed regions where it names them). Returns (rendering, reading)
    pairs in order, the renderings without their pixels: ``renderings`` may be a stream
    of a clip's frames, decoded one at a time, and none of them is kept. Changed regions
    are read by ``region_engines`` when given (set up for crops, :data:`REGION_SETTINGS`)."""
    out = []
    for r in renderings:
        chosen = engines if r.all_engines else engines[:1]
        if r.regions is None:
            reading = read_frame(chosen, r.pixels, r.frame, tile_size, tile_overlap)
        else:
            reading = read_regions(region_engines or chosen, r.pixels, list(r.regions), r.frame)
        out.append((r.without_pixels(), reading))
    return out
