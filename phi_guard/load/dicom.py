"""DICOM input with pydicom 3: every common transfer syntax (the pylibjpeg plugins
decode JPEG, JPEG-LS, JPEG 2000 and RLE), all frames, overlays.

Each frame is rendered to 8 bits for reading the way a viewer shows it: modality
LUT, then the VOI LUT or window stored in the file (min-max when there is none),
MONOCHROME1 inverted, palette colour expanded, YBR converted to RGB. Burned-in text
sits at some grey level the window may not favour, so the OCR stage also reads a
min-max rendering (see :func:`render_for_reading`).
"""
from __future__ import annotations

import hashlib
import io
import warnings

import numpy as np

from ..errors import DecompressionBombError, MalformedDicomError
from ..policy import Policy
from .document import Document
from .images import _short


def _read_dataset(data: bytes, name: str):
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(io.BytesIO(data), force=True)
            # Touch every element now, so a truncated or malformed dataset fails
            # here with a clear message rather than half-way through de-identification.
            for _ in ds.iterall():
                pass
    except (InvalidDicomError, EOFError, ValueError, TypeError, KeyError, AttributeError, NotImplementedError, OSError) as exc:
        raise MalformedDicomError(f"{name}: malformed DICOM file ({_short(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - hostile files raise anything; fail closed
        raise MalformedDicomError(f"{name}: malformed DICOM file ({_short(exc)})") from None
    if len(ds) == 0:
        raise MalformedDicomError(f"{name}: no DICOM elements could be read")
    return ds


def load_dicom(data: bytes, policy: Policy, name: str) -> Document:
    ds = _read_dataset(data, name)
    notes: list[str] = []
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        notes.append("no pixel data: header de-identification only")
        return Document(data=data, sha256=hashlib.sha256(data).hexdigest(), format="DICOM", frames=(),
                        source_name=name, notes=tuple(notes), dataset=ds, frame_count_in_file=0)
    try:
        rows, cols = int(ds.Rows), int(ds.Columns)
        n_frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    except (AttributeError, TypeError, ValueError) as exc:
        raise MalformedDicomError(f"{name}: image attributes are missing or invalid ({_short(exc)})") from None
    if rows * cols * max(n_frames, 1) > policy.limits.max_pixels:
        raise DecompressionBombError(
            f"{name}: {n_frames} frame(s) of {cols}x{rows} is more than the {policy.limits.max_pixels:,}-pixel limit"
        )
    if "TransferSyntaxUID" not in getattr(ds, "file_meta", {}):
        # A file without meta information: pydicom guessed the encoding; pixels are
        # then stored native (implicit or explicit VR little endian).
        from pydicom.uid import ImplicitVRLittleEndian

        ds.file_meta = getattr(ds, "file_meta", None) or __import__("pydicom").dataset.FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian if ds.is_implicit_VR else "1.2.840.10008.1.2.1"
        notes.append("no transfer syntax in the file meta; decoded as little endian")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            native = ds.pixel_array
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - any decoder failure, even a Rust panic (a BaseException): fail closed
        raise MalformedDicomError(f"{name}: the pixel data cannot be decoded ({_short(exc)})") from None
    native = np.asarray(native)
    photometric = str(getattr(ds, "PhotometricInterpretation", "MONOCHROME2"))
    samples = int(getattr(ds, "SamplesPerPixel", 1) or 1)
    if n_frames > 1 or (native.ndim == 4) or (native.ndim == 3 and samples == 1):
        frames_native = native if native.ndim >= 3 and (native.ndim == 4 or samples == 1) else native[None]
    else:
        frames_native = native[None]
    if photometric == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        try:
            rgb = np.asarray(apply_color_lut(frames_native, ds))
        except Exception as exc:  # noqa: BLE001 - a corrupt (e.g. segmented) palette: fail closed
            raise MalformedDicomError(f"{name}: the palette colour lookup table cannot be read ({_short(exc)})") from None
        if rgb.dtype != np.uint8:  # 16-bit palette entries: written back as 8-bit RGB
            rgb = (rgb.astype(np.uint32) * 255 // max(int(rgb.max()), 1)).astype(np.uint8)
        frames_native = rgb
        notes.append("palette colour expanded to 8-bit RGB")
    rendered = tuple(render_frame(f, ds) for f in frames_native)
    overlays = tuple(_overlays(ds, notes))
    return Document(
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        format="DICOM",
        frames=rendered,
        source_name=name,
        notes=tuple(notes),
        frame_count_in_file=len(rendered),
        dataset=ds,
        native_pixels=frames_native,
        overlays=overlays,
    )


def to_uint8(arr: np.ndarray) -> np.ndarray:
    arr = arr.astype(np.float64)
    lo, hi = float(np.min(arr)), float(np.max(arr))
    if hi <= lo:
        return np.zeros(arr.shape, dtype=np.uint8)
    return np.clip((arr - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8)


def render_frame(frame: np.ndarray, ds) -> np.ndarray:  # noqa: ANN001
    """8-bit rendering as a viewer shows it (window when present, else min-max)."""
    if frame.ndim == 3:  # colour
        return frame.astype(np.uint8) if frame.dtype == np.uint8 else to_uint8(frame)
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            values = apply_modality_lut(frame, ds)
            if "WindowCenter" in ds or "VOILUTSequence" in ds:
                values = apply_voi_lut(values, ds)
        except Exception:  # noqa: BLE001 - a broken LUT: fall back to min-max
            values = frame
    out = to_uint8(values)
    if str(getattr(ds, "PhotometricInterpretation", "")) == "MONOCHROME1":
        out = 255 - out
    return out


def _overlays(ds, notes: list[str]):  # noqa: ANN001
    for group in range(0x6000, 0x6020, 2):
        if (group, 0x0010) not in ds:
            continue
        try:
            arr = ds.overlay_array(group)
        except Exception:  # noqa: BLE001 - an undecodable overlay is removed anyway
            notes.append(f"overlay {group:04X} could not be decoded (it is removed)")
            continue
        plane = arr[0] if arr.ndim == 3 else arr
        notes.append(f"overlay plane {group:04X} found (screened, then removed)")
        yield group, (plane > 0).astype(np.uint8) * 255
