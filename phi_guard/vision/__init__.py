"""Faces and printed codes in photos (wristbands, labels, badges): detectors, and what
they mean for a document under the policy's ``[faces]`` and ``[codes]`` tables. Each
detector loads its engine on first use, once per process."""
from ..policy import CodePolicy, FacePolicy
from .codes import Code, CodeDetector, CodeSearch
from .faces import Face, FaceDetector, FaceSearch
from .screen import PictureDetectors, PictureFindings, find_in_pictures, read_beside_codes, residual_picture_findings

__all__ = [
    "Code", "CodeDetector", "CodePolicy", "CodeSearch", "Face", "FaceDetector", "FacePolicy", "FaceSearch",
    "PictureDetectors", "PictureFindings", "find_in_pictures", "read_beside_codes", "residual_picture_findings",
]
