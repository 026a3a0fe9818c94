"""Identify a file by its content (magic bytes), never by its extension."""
from __future__ import annotations

_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}


def sniff_format(data: bytes) -> str | None:
    """Return JPEG, PNG, TIFF, WEBP, BMP, GIF, HEIF, AVIF, DICOM, or None if unknown."""
    head = data[:64]
    # DICOM first: its 128-byte preamble may legally hold a TIFF header
    # ("dual-personality" files), which must not be mistaken for a TIFF.
    if len(data) >= 132 and data[128:132] == b"DICM":
        return "DICOM"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:2] == b"BM" and len(data) > 26:
        return "BMP"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[4:8] == b"ftyp":
        brands = {head[8:12]} | {head[i : i + 4] for i in range(16, min(len(head), 40), 4)}
        if brands & _AVIF_BRANDS:
            return "AVIF"
        if brands & _HEIF_BRANDS:
            return "HEIF"
    if _looks_like_raw_dicom(data):
        return "DICOM"
    return None


def _looks_like_raw_dicom(data: bytes) -> bool:
    """DICOM without the 128-byte preamble: starts with a group 0002 or 0008 element."""
    if len(data) < 8:
        return False
    group = int.from_bytes(data[0:2], "little")
    element = int.from_bytes(data[2:4], "little")
    if group not in (0x0002, 0x0008):
        return False
    vr = data[4:6]
    explicit_ok = vr.isalpha() and vr.isupper()
    return element < 0x0100 and (explicit_ok or int.from_bytes(data[4:8], "little") < 0x10000)
