"""Detection stage: Presidio plus medical recognizers over the OCR words.

``Detector`` imports Presidio and spaCy (about 2 s), so it is imported on first
use: ``import phi_guard.detect`` stays light."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .merge import merge_findings
from .pixels import PixelDetector, find_in_readings

if TYPE_CHECKING:  # pragma: no cover
    from .analyzer import Detector

__all__ = ["Detector", "PixelDetector", "find_in_readings", "merge_findings"]


def __getattr__(name: str) -> Any:
    if name == "Detector":
        from .analyzer import Detector

        return Detector
    raise AttributeError(f"module 'phi_guard.detect' has no attribute {name!r}")
