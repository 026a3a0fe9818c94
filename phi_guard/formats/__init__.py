"""Format adapters, one per container family, behind one interface (:mod:`.base`).

The pipeline picks an adapter by format name (sniffed from the input's content, or
the requested output format) and never branches on formats itself."""
from __future__ import annotations

from ..errors import OutputError
from .animated.adapter import AnimatedAdapter
from .base import Document, Encoded, FormatAdapter, MetadataStep, OutputCheck
from .dicom import DicomAdapter
from .photo import PhotoAdapter
from .video.adapter import VideoAdapter

# Writers of one still image come first: a DICOM written as PNG is one picture.
ADAPTERS: tuple[FormatAdapter, ...] = (PhotoAdapter(), DicomAdapter(), AnimatedAdapter(), VideoAdapter())
# Inputs go to the most specific adapter that accepts them: a GIF with more than one
# frame is an animation, a still one a photo.
INPUT_ORDER: tuple[FormatAdapter, ...] = (ADAPTERS[2], ADAPTERS[3], ADAPTERS[1], ADAPTERS[0])


def adapter_for(fmt: str) -> FormatAdapter:
    """The adapter that writes format ``fmt`` (JPEG, PNG, ..., DICOM, MP4) when the input's
    own adapter does not. Raises OutputError for a format no adapter writes."""
    for adapter in ADAPTERS:
        if fmt in adapter.formats:
            return adapter
    raise OutputError(f"cannot encode {fmt}")


def opening_adapter(data: bytes, fmt: str) -> FormatAdapter | None:
    """The adapter that opens ``data`` sniffed as ``fmt``, or None."""
    for adapter in INPUT_ORDER:
        if fmt in adapter.formats and adapter.accepts(data, fmt):
            return adapter
    return None


__all__ = ["ADAPTERS", "INPUT_ORDER", "opening_adapter", "Document", "Encoded", "FormatAdapter", "MetadataStep", "OutputCheck", "adapter_for"]
