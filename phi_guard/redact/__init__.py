"""Redact stage: fit masks to the ink of what was found, and mask them in the pixels."""
from .ink import fit_masks
from .styles import pad_boxes, redact

__all__ = ["fit_masks", "pad_boxes", "redact"]
