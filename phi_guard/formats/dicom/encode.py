"""Write a de-identified DICOM: the cleaned header with the (masked) pixels.

Pixels are written back in the input's bit depth. The output keeps the input's
transfer syntax when a lossless encoder for it is available (RLE, JPEG 2000
lossless, JPEG-LS lossless), otherwise Explicit VR Little Endian, uncompressed;
a lossy input is never re-encoded lossy. The report says which."""
from __future__ import annotations

import io
import warnings
from typing import TYPE_CHECKING

import numpy as np

from ...errors import OutputError, short_reason
from ...types import Box
from .pixel_data import exact_pixel_data

if TYPE_CHECKING:  # pragma: no cover
    from pydicom.dataset import Dataset

_LOSSLESS_REENCODE = {
    "1.2.840.10008.1.2.5",  # RLE Lossless
    "1.2.840.10008.1.2.4.90",  # JPEG 2000 Lossless
    "1.2.840.10008.1.2.4.80",  # JPEG-LS Lossless
}


def black_value(frame: np.ndarray, photometric: str) -> int:
    """The stored value that displays as black in one stored frame (a mask's fill)."""
    if frame.ndim == 3 or photometric not in ("MONOCHROME1", "MONOCHROME2"):
        return 0  # colour
    return int(frame.max()) if photometric == "MONOCHROME1" else int(frame.min())


def mask_native(native: np.ndarray, boxes: list[Box], photometric: str) -> np.ndarray:
    """A copy of the stored frames with ``boxes`` filled black in every frame, each
    frame with its own black: a frame shown by its own range of values (no stored
    window) then looks the same outside the masks, and verification can prove it."""
    out = native.copy()
    for frame, stored in zip(out, native):
        fill = black_value(stored, photometric)
        for x0, y0, x1, y1 in boxes:
            frame[y0:y1, x0:x1, ...] = fill
    return out


def encode_dicom(ds: Dataset, native: np.ndarray, pixels_changed: bool, palette_expanded: bool) -> tuple[bytes, str]:
    """Serialise ``ds`` (already de-identified) with ``native`` frames; returns (bytes,
    transfer syntax note). Raises OutputError when pydicom cannot write it."""
    from pydicom.uid import ExplicitVRLittleEndian

    note_prefix = ""
    src_ts = str(ds.file_meta.TransferSyntaxUID) if "TransferSyntaxUID" in ds.file_meta else ExplicitVRLittleEndian
    note = f"pixels unchanged, transfer syntax kept ({src_ts})"
    if "PixelData" in ds and not (pixels_changed or palette_expanded):
        # Only what was screened is carried: Pixel Data cut to exactly the frames.
        exact = exact_pixel_data(ds)
        if exact is None:
            pixels_changed = True
            note_prefix = "Pixel Data rewritten from the screened pixels (a frame's end could not be found); "
        else:
            ds.PixelData, dropped = exact
            if dropped:
                note += f"; Pixel Data trimmed to the frames ({dropped} byte(s) past them not carried)"
    if "PixelData" in ds and (pixels_changed or palette_expanded):
        frames = native if int(getattr(ds, "NumberOfFrames", 1) or 1) > 1 else native[0]
        photometric = "RGB" if native.ndim == 4 else str(ds.PhotometricInterpretation)
        if photometric.startswith("YBR"):
            photometric = "RGB"  # pydicom decoded YBR to RGB
        for kw in ("RedPaletteColorLookupTableDescriptor", "GreenPaletteColorLookupTableDescriptor",
                   "BluePaletteColorLookupTableDescriptor", "RedPaletteColorLookupTableData",
                   "GreenPaletteColorLookupTableData", "BluePaletteColorLookupTableData",
                   "SegmentedRedPaletteColorLookupTableData", "SegmentedGreenPaletteColorLookupTableData",
                   "SegmentedBluePaletteColorLookupTableData", "PaletteColorLookupTableUID"):
            if photometric == "RGB" and kw in ds:
                del ds[kw]
        bits = int(getattr(ds, "BitsStored", 8) or 8) if frames.dtype != np.uint8 else 8
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds.set_pixel_data(np.ascontiguousarray(frames), photometric, bits, generate_instance_uid=False)
        except Exception as exc:  # noqa: BLE001
            raise OutputError(f"the cleaned pixels could not be written as DICOM ({type(exc).__name__})") from None
        note = "Explicit VR Little Endian (uncompressed)"
        if src_ts in _LOSSLESS_REENCODE:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ds.compress(src_ts, generate_instance_uid=False)
                note = f"re-encoded losslessly in the input's transfer syntax ({src_ts})"
            except Exception:  # noqa: BLE001 - no encoder here: stay uncompressed
                note = f"Explicit VR Little Endian (no lossless encoder for {src_ts} here)"
        note = note_prefix + note
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID if "SOPInstanceUID" in ds else ds.file_meta.get("MediaStorageSOPInstanceUID")
    if "MediaStorageSOPClassUID" not in ds.file_meta and "SOPClassUID" in ds:
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    buf = io.BytesIO()
    try:
        ds.save_as(buf, enforce_file_format=True)
    except Exception as exc:  # noqa: BLE001
        raise OutputError(f"the de-identified DICOM could not be written ({short_reason(exc)})") from None
    return buf.getvalue(), note
