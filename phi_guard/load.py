"""Load stage: read the input's bytes (never modifying it), sniff the format from the
content, and have that format's adapter decode it into a :class:`Document`."""
from __future__ import annotations

from pathlib import Path

from .errors import DecompressionBombError, EmptyInputError, InputError, UnsupportedFormatError
from .formats import FormatAdapter, opening_adapter
from .formats.base import Document
from .formats.sniff import sniff_format
from .formats.video.sniff import sniff_video
from .policy import Policy


def read_input(source: str | Path | bytes, max_bytes: int) -> tuple[bytes, str]:
    """Read ``source`` (a path or the bytes themselves) and return its bytes with a display
    name (the file name only). Raises InputError for a missing, unreadable, empty or
    oversized input."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, name = bytes(source), "<bytes>"
    else:
        path = Path(source)
        name = path.name
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise InputError(f"{name}: file not found") from None
        if path.is_dir():
            raise InputError(f"{name}: is a folder, not an image file")
        if size > max_bytes:
            raise DecompressionBombError(f"{name}: file is {size} bytes, over the {max_bytes}-byte limit")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    if not data:
        raise EmptyInputError(f"{name}: the file is empty (0 bytes)")
    if len(data) > max_bytes:
        raise DecompressionBombError(f"{name}: input is {len(data)} bytes, over the {max_bytes}-byte limit")
    return data, name


def input_adapter(data: bytes, name: str = "<bytes>") -> FormatAdapter:
    """The adapter for ``data``'s format, known by its content. Raises UnsupportedFormatError."""
    fmt = sniff_format(data) or sniff_video(data)
    adapter = opening_adapter(data, fmt) if fmt else None
    if adapter is None:
        raise UnsupportedFormatError(
            f"{name}: not a supported image or video (expected JPEG, PNG, TIFF, WebP, BMP, GIF, HEIC/HEIF, AVIF, DICOM, "
            "MP4/MOV, WebM/MKV or AVI)"
        )
    return adapter


def load_document(data: bytes, policy: Policy, name: str = "<bytes>") -> Document:
    """Decode ``data`` with its format's adapter. Raises an InputError subclass for input
    that cannot be screened (unknown format, corrupt, over the policy's limits)."""
    return input_adapter(data, name).open(data, name, policy)


__all__ = ["Document", "input_adapter", "load_document", "read_input", "sniff_format"]
