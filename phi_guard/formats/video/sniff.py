"""Recognise a video container by its first bytes (never by extension)."""
from __future__ import annotations

_IMAGE_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"}
_QUICKTIME_FIRST_BOXES = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}


def sniff_video(data: bytes) -> str | None:
    """MP4, MOV, WEBM, MKV or AVI; None for anything else (HEIF/AVIF stills included)."""
    head = data[:64]
    if head[4:8] == b"ftyp":
        brands = {head[8:12]} | {head[i : i + 4] for i in range(16, min(len(head), 40), 4)}
        if brands & _IMAGE_BRANDS:
            return None
        return "MOV" if head[8:12] == b"qt  " else "MP4"
    if head[4:8] in _QUICKTIME_FIRST_BOXES and int.from_bytes(head[:4], "big") >= 8:
        return "MOV"  # QuickTime files from before ftyp existed
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML
        return "WEBM" if b"webm" in data[:64] else "MKV"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "AVI"
    return None
