"""OCR stage: read burned-in text with word boxes.

Engines implement the small :class:`OcrEngine` protocol; :func:`build_engine`
makes one by name. :func:`read_frame` runs a list of engines over a frame,
tiling large images, and returns every engine's words: detection screens each
reading, so a word that any engine reads can be masked.
"""
from .base import REGION_SETTINGS, SCREEN_SETTINGS, OcrEngine, OcrReading, ReadSettings, merged_boxes, neighbourhoods
from .registry import build_engine, read_frame, read_new_text, read_regions, read_renderings

__all__ = ["REGION_SETTINGS", "SCREEN_SETTINGS", "OcrEngine", "OcrReading", "ReadSettings",
           "merged_boxes", "neighbourhoods", "build_engine", "read_frame", "read_new_text", "read_regions", "read_renderings"]
