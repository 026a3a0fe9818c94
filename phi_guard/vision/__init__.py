"""Faces and printed codes in photos (wristbands, labels, badges): detectors and
their policy. Each detector loads its engine on first use, once per process."""
from .codes import Code, CodeDetector, CodeSearch
from .faces import Face, FaceDetector, FaceSearch
from .screen import PhotoScreen, residual_photo_findings, screen_photo
from .settings import CodePolicy, FacePolicy

__all__ = [
    "Code", "CodeDetector", "CodePolicy", "CodeSearch", "Face", "FaceDetector", "FacePolicy", "FaceSearch",
    "PhotoScreen", "residual_photo_findings", "screen_photo",
]
