"""Redact stage: fit masks to what was found (text to its ink, faces and codes whole),
and mask them in the pixels."""
from .ink import fit_masks, mask_boxes
from .styles import on_chroma_grid, pad_boxes, redact

__all__ = ["fit_masks", "mask_boxes", "on_chroma_grid", "pad_boxes", "redact"]
