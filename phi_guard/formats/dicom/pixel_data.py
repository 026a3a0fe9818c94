"""Pixel Data holding exactly the frames that were screened, and nothing else.

A writer can leave bytes in Pixel Data that no viewer shows: past the last frame of
native pixels, after the end of a compressed frame's codestream, in fragments beyond
the frames. phi_guard does not screen those bytes, so it never carries them: native
Pixel Data is cut to the frames' length, and an encapsulated one is rebuilt from each
frame's codestream, cut at its end marker. When a codestream's end cannot be found,
the caller writes the screened pixels afresh instead.

Bits above Bits Stored are not part of the picture either (the retired way of storing
overlays put text there): native Pixel Data has them cleared; a compressed frame whose
unused bits carry anything is written afresh from the screened pixels (which the
decoder returns with those bits cleared). :func:`pixel_data_problems` checks an
output the same way (verification).
"""
from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from pydicom.dataset import Dataset

_JPEG_FAMILY = {"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57",
                "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"}
_JPEG_2000 = {"1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.201",
              "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.203"}
_RLE = "1.2.840.10008.1.2.5"
_BIG_ENDIAN = "1.2.840.10008.1.2.2"


def _int(ds: Dataset, keyword: str, default: int) -> int:
    return int(getattr(ds, keyword, default) or default)


def frame_count(ds: Dataset) -> int:
    """Number of Frames (1 when absent)."""
    return max(_int(ds, "NumberOfFrames", 1), 1)


def native_length(ds: Dataset) -> int:
    """How many bytes native (uncompressed) Pixel Data of ``ds`` needs, without padding."""
    values = _int(ds, "Rows", 0) * _int(ds, "Columns", 0) * frame_count(ds) * _int(ds, "SamplesPerPixel", 1)
    bits = _int(ds, "BitsAllocated", 8)
    return (values * bits + 7) // 8


def is_encapsulated(ds: Dataset) -> bool:
    """True when the dataset's transfer syntax stores compressed fragments."""
    from pydicom.uid import UID

    return bool(UID(str(ds.file_meta.TransferSyntaxUID)).is_encapsulated)


_JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  "


def jp2_boxes_stall(ds: Dataset) -> bool:
    """True when an encapsulated frame is a JP2 file whose box chain does not advance to
    its codestream (a box length below 8: 0 "to the end" or 1 "extended"). pydicom walks
    that chain to find the codestream's parameters and loops forever on such a box, so a
    file like this is refused before any decoder sees it (found by fuzzing)."""
    from pydicom.encaps import generate_fragments

    try:
        fragments = list(generate_fragments(ds.PixelData))
    except Exception:  # noqa: BLE001 - a broken item structure is the decoder's to refuse
        return False
    for data in fragments:
        if not data.startswith(_JP2_SIGNATURE):
            continue
        offset = 12
        while offset < len(data):
            length = int.from_bytes(data[offset:offset + 4], "big")
            if data[offset + 4:offset + 8] == b"jp2c":
                break
            if length < 8:
                return True
            offset += length
    return False


def stored_values(ds: Dataset) -> np.ndarray:
    """The frames' stored values as written, bits above Bits Stored included, as an
    (N, H, W[, S]) array of unsigned integers. Raises what the decoder raises."""
    from pydicom.pixels.decoders.base import get_decoder

    options: dict[str, Any] = {"correct_unused_bits": False}
    arr, _ = get_decoder(str(ds.file_meta.TransferSyntaxUID)).as_array(ds, raw=True, **options)
    n = frame_count(ds)
    if n == 1 or arr.ndim == 2 or (arr.ndim == 3 and _int(ds, "SamplesPerPixel", 1) > 1):
        arr = arr[None]
    arr = arr[:n]
    return arr.view(f"u{arr.dtype.itemsize}") if arr.dtype.kind == "i" else arr


def unused_bits_carry_data(ds: Dataset) -> bool:
    """True when bits above Bits Stored hold anything but zeros or the sign extension
    of a signed value (overlay bits, text, noise)."""
    stored, allocated = _int(ds, "BitsStored", 8), _int(ds, "BitsAllocated", 8)
    if stored >= allocated or allocated not in (8, 16, 32):
        return False
    values = stored_values(ds)
    return bool(np.any(_normalised(values, stored, _int(ds, "PixelRepresentation", 0) == 1) != values))


def _normalised(values: np.ndarray, stored: int, signed: bool) -> np.ndarray:
    """Unsigned stored values with the bits above ``stored`` cleared, or, for signed
    values, set to the sign extension (what a writer is expected to leave there).
    Values whose high bits are zeros or the sign extension come back unchanged."""
    low: np.ndarray = values & values.dtype.type((1 << stored) - 1)
    if not signed:
        return low
    high_ones = values.dtype.type(~((1 << stored) - 1) & ((1 << (8 * values.dtype.itemsize)) - 1))
    negative = ((values >> (stored - 1)) & 1).astype(bool)
    extended = np.where(negative, low | high_ones, low)
    # A signed value with cleared high bits is valid DICOM too: keep it as it is.
    return np.where((values & high_ones) == 0, values, extended).astype(values.dtype)


def _native_values(raw: bytes, ds: Dataset) -> np.ndarray:
    order = ">" if str(ds.file_meta.TransferSyntaxUID) == _BIG_ENDIAN else "<"
    return np.frombuffer(raw, f"{order}u{_int(ds, 'BitsAllocated', 8) // 8}")


def _clear_unused_bits(raw: bytes, ds: Dataset) -> bytes:
    """Native stored values with nothing but zeros or the sign extension above Bits Stored."""
    stored, allocated = _int(ds, "BitsStored", 8), _int(ds, "BitsAllocated", 8)
    if stored >= allocated or allocated not in (8, 16, 32):
        return raw
    values = _native_values(raw, ds)
    return _normalised(values, stored, _int(ds, "PixelRepresentation", 0) == 1).astype(values.dtype).tobytes()


def exact_pixel_data(ds: Dataset) -> tuple[bytes, int] | None:
    """``ds``'s Pixel Data holding exactly its frames, and how many bytes were dropped;
    None when a compressed frame's end cannot be found (write the pixels afresh)."""
    try:
        return _exact_pixel_data(ds)
    except Exception:  # noqa: BLE001 - odd attribute values: write the screened pixels afresh
        return None


def _exact_pixel_data(ds: Dataset) -> tuple[bytes, int] | None:
    raw = bytes(ds.PixelData)
    if not is_encapsulated(ds):
        need = native_length(ds)
        if len(raw) < need:
            return None
        out = _clear_unused_bits(raw[:need], ds) + (b"\x00" if need % 2 else b"")
        return out, len(raw) - len(out)
    from pydicom.encaps import encapsulate, generate_frames

    ts = str(ds.file_meta.TransferSyntaxUID)
    try:
        if unused_bits_carry_data(ds):
            return None
        frames = list(generate_frames(raw, number_of_frames=frame_count(ds)))
    except Exception:  # noqa: BLE001 - fragments that do not split into the frames
        return None
    rows, cols = _int(ds, "Rows", 0), _int(ds, "Columns", 0)
    cut: list[bytes] = []
    for frame in frames:
        end = codestream_end(frame, ts, rows * cols)
        if end is None:
            return None
        cut.append(frame[:end])
    dropped = sum(len(f) for f in frames) - sum(len(c) + len(c) % 2 for c in cut)
    return encapsulate(cut, has_bot=len(cut) > 1), max(dropped, 0)


def pixel_data_problems(ds: Dataset) -> list[str]:
    """What in an output's Pixel Data lies outside its frames (for verification)."""
    try:
        return _pixel_data_problems(ds)
    except Exception as exc:  # noqa: BLE001 - what cannot be checked is not passed
        return [f"the output's Pixel Data cannot be checked ({type(exc).__name__})"]


def _pixel_data_problems(ds: Dataset) -> list[str]:
    if "PixelData" not in ds:
        return []
    raw = bytes(ds.PixelData)
    if not is_encapsulated(ds):
        need = native_length(ds)
        if len(raw) > need + need % 2:
            return [f"Pixel Data holds {len(raw) - need} byte(s) past the frames"]
        if _clear_unused_bits(raw[:need], ds) != raw[:need]:
            return ["Pixel Data holds bits above Bits Stored"]
        return []
    from pydicom.encaps import generate_fragments, generate_frames

    ts = str(ds.file_meta.TransferSyntaxUID)
    rows, cols = _int(ds, "Rows", 0), _int(ds, "Columns", 0)
    try:
        frames = list(generate_frames(raw, number_of_frames=frame_count(ds)))
        fragments = list(generate_fragments(raw))
    except Exception:  # noqa: BLE001
        return ["the Pixel Data fragments do not split into the frames"]
    if sum(len(f) for f in fragments[1:]) != sum(len(f) for f in frames):
        return ["Pixel Data holds fragments besides the frames"]
    try:
        if unused_bits_carry_data(ds):
            return ["Pixel Data holds bits above Bits Stored"]
    except Exception:  # noqa: BLE001 - the pixels' own decoding is checked next
        pass
    for frame in frames:
        end = codestream_end(frame, ts, rows * cols)
        if end is None or frame[end:].strip(b"\x00"):
            return ["Pixel Data holds bytes past the end of a frame's codestream"]
    return []


def codestream_end(frame: bytes, ts: str, plane_size: int) -> int | None:
    """Where one compressed frame's codestream ends (None when unknown or malformed)."""
    try:
        if ts in _JPEG_FAMILY:
            return _marker_stream_end(frame, 0xD8)
        if ts in _JPEG_2000:
            return _marker_stream_end(frame, 0x4F)
        if ts == _RLE:
            return _rle_end(frame, plane_size)
    except (IndexError, ValueError, struct.error):  # ran off the end: malformed
        return None
    return None


def _marker_stream_end(data: bytes, first_marker: int) -> int | None:
    """After the end marker (FF D9: JPEG's EOI, JPEG 2000's EOC) of a codestream of
    marker segments: segments are skipped by their lengths, a JPEG scan's entropy-coded
    data is scanned for the next marker, a JPEG 2000 tile-part skipped by its Psot (a
    tile-part of unknown length, Psot 0, gives None: the frame is written afresh)."""
    if data[:2] != bytes((0xFF, first_marker)):
        return None
    j2k = first_marker == 0x4F
    pos = 2
    while pos + 1 < len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xD9:
            return pos + 2
        if not j2k and marker == 0xFF:  # a fill byte before a marker
            pos += 1
        elif not j2k and (0xD0 <= marker <= 0xD7 or marker == 0x01):  # markers without a length
            pos += 2
        elif j2k and marker == 0x90:  # SOT: Psot is the tile-part's whole length
            psot = struct.unpack(">I", data[pos + 6 : pos + 10])[0]
            if psot == 0:
                return None
            pos += psot
        else:
            pos += 2 + struct.unpack(">H", data[pos + 2 : pos + 4])[0]
            if not j2k and marker == 0xDA:  # start of scan: entropy-coded data follows
                pos = _entropy_end(data, pos)
    return None


def _entropy_end(data: bytes, pos: int) -> int:
    """The position of the first marker after entropy-coded data starting at ``pos``
    (FF 00 and restart markers are data; JPEG-LS stuffs FF with a byte below 80)."""
    while True:
        pos = data.index(b"\xff", pos)
        nxt = data[pos + 1]
        if nxt >= 0xC0 and not 0xD0 <= nxt <= 0xD7 and nxt != 0xFF:
            return pos
        pos += 1


def _rle_end(data: bytes, plane_size: int) -> int | None:
    """After the last RLE segment, each segment decoded just far enough to produce one
    byte plane; None when segments overlap or hold bytes between them."""
    count = struct.unpack("<I", data[:4])[0]
    if not 1 <= count <= 15:
        return None
    offsets = list(struct.unpack("<15I", data[4:64]))[:count]
    end = 64
    for i, start in enumerate(offsets):
        if start != end:
            return None
        limit = offsets[i + 1] if i + 1 < count else len(data)
        pos, produced = start, 0
        while produced < plane_size:
            if pos >= limit:
                return None
            n = data[pos]
            if n < 128:
                pos, produced = pos + 2 + n, produced + n + 1
            elif n > 128:
                pos, produced = pos + 2, produced + 257 - n
            else:
                pos += 1
        if produced != plane_size:
            return None
        end = pos + 1 if i + 1 < count and offsets[i + 1] == pos + 1 else pos  # an even-length pad
    return end
