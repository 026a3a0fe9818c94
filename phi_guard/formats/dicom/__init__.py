"""Everything DICOM: decoding and rendering (:mod:`.decode`), the Annex E header
profile (:mod:`.profile`), writing the cleaned file (:mod:`.encode`), and the adapter
the pipeline calls (:mod:`.adapter`). pydicom is imported on first use."""
from .adapter import DicomAdapter

__all__ = ["DicomAdapter"]
