"""Format adapters, one per container family, behind one interface (:mod:`.base`).

The pipeline picks an adapter by format name (sniffed from the input's content, or
the requested output format) and never branches on formats itself. Video and
animated images will be added as ``formats/video`` and ``formats/animated``."""
from __future__ import annotations

from ..errors import OutputError
from .base import Document, Encoded, FormatAdapter, MetadataStep, OutputCheck
from .dicom import DicomAdapter
from .photo import PhotoAdapter

ADAPTERS: tuple[FormatAdapter, ...] = (PhotoAdapter(), DicomAdapter())


def adapter_for(fmt: str) -> FormatAdapter:
    """The adapter that opens and writes format ``fmt`` (JPEG, PNG, ..., DICOM).
    Raises OutputError for a format no adapter writes."""
    for adapter in ADAPTERS:
        if fmt in adapter.formats:
            return adapter
    raise OutputError(f"cannot encode {fmt}")


__all__ = ["ADAPTERS", "Document", "Encoded", "FormatAdapter", "MetadataStep", "OutputCheck", "adapter_for"]
