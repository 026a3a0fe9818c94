"""DICOM input. Full support (header de-identification by PS3.15 Annex E, every
pixel carrier) is tracked separately; until then DICOM is refused, never passed."""
from __future__ import annotations

from ..errors import UnsupportedFormatError
from ..policy import Policy
from .document import Document


def load_dicom(data: bytes, policy: Policy, name: str) -> Document:
    raise UnsupportedFormatError(f"{name}: DICOM files are not supported by this version; export a PNG or JPEG from the viewer")
