"""Redact stage: mask boxes in the pixels."""
from .styles import pad_boxes, redact

__all__ = ["pad_boxes", "redact"]
