"""Load stage: sniff the format from the bytes, decode the pixels, keep the raw bytes
for the metadata inventory. Returns a :class:`Document`."""
from .document import Document, distinct_frames
from .sniff import sniff_format
from .images import load_document, read_input

__all__ = ["Document", "distinct_frames", "load_document", "read_input", "sniff_format"]
