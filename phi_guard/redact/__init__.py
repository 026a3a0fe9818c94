"""Redact stage: mask boxes in the pixels."""
from .styles import mask_boxes, pad_boxes, redact

__all__ = ["mask_boxes", "pad_boxes", "redact"]
