"""ISO-BMFF (MP4/MOV) box walk: metadata boxes FFmpeg does not surface as tags.

Phone videos keep identifying data in places a tag dictionary may not show: udta
children (``©xyz`` GPS, ``©mak``/``©mod`` device, vendor boxes such as Samsung
``smta`` or GoPro ``GPMF``), ``meta``/``keys``/``ilst`` (Apple's
``com.apple.quicktime.location.ISO6709``, cover art ``covr``), XMP in ``uuid``
boxes, and creation times in the movie, track and media headers. The walk lists
those for the report and lets the output check prove a written file has none.
"""
from __future__ import annotations

import datetime
import struct
from collections.abc import Iterator
from dataclasses import dataclass

# Boxes whose payload is a list of boxes (``meta`` is a full box in ISO files but not
# always in QuickTime ones: see _children_start).
_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf", b"udta", b"meta", b"ilst",
               b"mvex", b"moof", b"traf", b"tref"}
_HEADERS_WITH_TIMES = {b"mvhd", b"tkhd", b"mdhd"}
_XMP_UUID = bytes.fromhex("BE7ACFCB97A942E89C71999491E3AFAC")
# What a written MP4 may hold: the media and its index, nothing descriptive.
OUTPUT_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"mvhd", b"trak", b"tkhd", b"edts", b"elst", b"mdia", b"mdhd",
                b"hdlr", b"minf", b"vmhd", b"smhd", b"dinf", b"dref", b"stbl", b"stsd", b"stts", b"ctts", b"stss",
                b"stsc", b"stsz", b"stco", b"co64", b"sgpd", b"sbgp", b"sdtp", b"iods"}


@dataclass(frozen=True)
class Box:
    path: tuple[bytes, ...]  # types of the enclosing boxes, outermost first
    type: bytes
    payload: bytes  # empty for mdat (the media data is never copied)
    start: int  # offset of the box in the file
    body_start: int  # offset of its payload


def walk_boxes(data: bytes, start: int = 0, end: int | None = None, path: tuple[bytes, ...] = (),
               descend: bool = True) -> Iterator[Box]:
    """Every box, depth first (top-level ones only without ``descend``). Raises
    ValueError on a box that runs past its parent."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, btype = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", data[pos + 8 : pos + 16])[0], 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise ValueError(f"box {btype!r} runs past the end of its container")
        body_start, body_end = pos + header, pos + size
        yield Box(path, btype, data[body_start:body_end] if btype != b"mdat" else b"", pos, body_start)
        if descend and btype in _CONTAINERS:
            yield from walk_boxes(data, _children_start(data, btype, body_start, body_end), body_end, path + (btype,))
        pos += size


def _children_start(data: bytes, btype: bytes, start: int, end: int) -> int:
    if btype == b"meta" and end - start >= 12 and data[start : start + 4] == b"\x00\x00\x00\x00":
        return start + 4  # ISO full box: version and flags before the children
    return start


def header_time(box: Box) -> int:
    """The creation time (seconds since 1904) in a movie/track/media header, 0 if unset."""
    if box.type not in _HEADERS_WITH_TIMES or len(box.payload) < 12:
        return 0
    if box.payload[0] == 1:
        return int(struct.unpack(">Q", box.payload[4:12])[0])
    return int(struct.unpack(">I", box.payload[4:8])[0])


def metadata_boxes(data: bytes) -> Iterator[tuple[str, str, str | bytes]]:
    """(carrier, key, value) for each descriptive box: udta children, ilst entries
    (named through the ``keys`` box when there is one), uuid boxes, header times."""
    keys: list[str] = []
    for box in walk_boxes(data):
        parent = box.path[-1] if box.path else b""
        if box.type == b"keys":
            keys = _key_names(box.payload)
        elif box.type in _HEADERS_WITH_TIMES and header_time(box):
            when = datetime.datetime(1904, 1, 1) + datetime.timedelta(seconds=header_time(box))
            yield "MP4-time", f"{box.type.decode()} creation time", when.isoformat(sep=" ")
        elif box.type == b"uuid":
            kind = "XMP" if box.payload[:16] == _XMP_UUID else "MP4-uuid"
            yield kind, "uuid box " + box.payload[:16].hex(), box.payload[16:]
        elif parent == b"ilst":
            index = struct.unpack(">I", box.type)[0]
            name: str = keys[index - 1] if keys and 0 < index <= len(keys) else box.type.decode("latin-1")
            yield _carrier(name), name, _text_or_bytes(_ilst_value(box.payload))
        elif parent == b"udta" and box.type != b"meta":
            name = box.type.decode("latin-1")
            # QuickTime text atoms (©xyz, ©mak, ...): 2-byte length, 2-byte language, text.
            value = box.payload[4:] if name.startswith("\xa9") else box.payload
            yield _carrier(name), name, _text_or_bytes(value)
        elif not box.path and box.type not in (b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"uuid"):
            yield "MP4-box", "top-level box " + box.type.decode("latin-1"), box.payload


def _carrier(name: str) -> str:
    lowered = name.lower()
    if "location" in lowered or "xyz" in lowered or lowered in ("loci", "gps ", "gpmf"):
        return "GPS"
    if name == "covr" or "artwork" in lowered:
        return "cover-art"
    return "MP4-meta"


def _key_names(payload: bytes) -> list[str]:
    names, pos = [], 8  # version/flags, entry count
    while pos + 8 <= len(payload):
        size = struct.unpack(">I", payload[pos : pos + 4])[0]
        if size < 8:
            break
        names.append(payload[pos + 8 : pos + size].decode("utf-8", "replace"))
        pos += size
    return names


def _text_or_bytes(value: bytes) -> str | bytes:
    """Readable text is masked character by character (its shape shows in the report);
    anything else is described by its size only."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return value
    return text if text and all(ch.isprintable() for ch in text) else value


def faststart(data: bytes) -> bytes:
    """Put the ``moov`` index in front of the media data, as ``movflags=+faststart``
    does (that flag needs a named file to rewrite; the output is built in memory), so
    a browser can start playing before the whole file has arrived; and drop the empty
    ``udta/meta/ilst`` FFmpeg's muxer writes even when there is no tag. Chunk offsets
    in ``stco``/``co64`` move by the new index's size."""
    top = list(walk_boxes(data, descend=False))
    types = [b.type for b in top]
    if b"moov" not in types or b"mdat" not in types or types.index(b"moov") < types.index(b"mdat"):
        return data
    moov = next(b for b in top if b.type == b"moov")
    children = [b for b in walk_boxes(moov.payload, descend=False) if b.type != b"udta"]
    body = b"".join(_box_bytes(moov.payload, b) for b in children)
    moov_bytes = bytearray(struct.pack(">I4s", 8 + len(body), b"moov") + body)
    shift = len(moov_bytes)
    for box in walk_boxes(bytes(moov_bytes)):
        if box.type not in (b"stco", b"co64"):
            continue
        count = struct.unpack(">I", box.payload[4:8])[0]
        width, fmt = (4, ">I") if box.type == b"stco" else (8, ">Q")
        for i in range(count):
            at = box.body_start + 8 + i * width
            value = struct.unpack(fmt, moov_bytes[at : at + width])[0] + shift
            if value >= 1 << (8 * width):
                return data  # would overflow a 32-bit offset: leave the file as it is
            moov_bytes[at : at + width] = struct.pack(fmt, value)
    first_media = next(b for b in top if b.type == b"mdat").start
    moov_end = moov.body_start + len(moov.payload)
    return data[:first_media] + bytes(moov_bytes) + data[first_media : moov.start] + data[moov_end:]


def _box_bytes(data: bytes, box: Box) -> bytes:
    return data[box.start : box.body_start + len(box.payload)]


def _ilst_value(payload: bytes) -> bytes:
    """The value inside an ilst entry's ``data`` box (type and locale skipped)."""
    if payload[4:8] == b"data" and len(payload) >= 16:
        return payload[16:]
    return payload
