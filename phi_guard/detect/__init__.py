"""Detection stage: Presidio plus medical recognizers over the OCR words."""
from .analyzer import Detector, merge_findings

__all__ = ["Detector", "merge_findings"]
