"""phi_guard: screen medical images for protected health information before they are shared.

    from phi_guard import screen
    result = screen("xray.jpg")
    if result.verdict != "BLOCKED":
        result.save("xray.safe.jpg")

The first import is light: OCR engines and Presidio load on first use.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Policy", "Result", "Screener", "Verdict", "scan_folder", "screen", "__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from .batch import scan_folder
    from .pipeline import Result, Screener, screen
    from .policy import Policy
    from .types import Verdict


def __getattr__(name: str) -> Any:
    if name in ("screen", "Screener", "Result"):
        from . import pipeline

        return getattr(pipeline, name)
    if name == "Policy":
        from .policy import Policy

        return Policy
    if name == "scan_folder":
        from .batch import scan_folder

        return scan_folder
    if name == "Verdict":
        from .types import Verdict

        return Verdict
    raise AttributeError(f"module 'phi_guard' has no attribute {name!r}")
