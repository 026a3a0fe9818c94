"""DICOM input with pydicom 3: every common transfer syntax (the pylibjpeg plugins
decode JPEG, JPEG-LS, JPEG 2000 and RLE), all frames, overlays.

Each frame is rendered to 8 bits for reading the way a viewer shows it: modality
LUT, then the VOI LUT or window stored in the file (min-max when there is none),
MONOCHROME1 inverted, palette colour expanded, YBR converted to RGB. Overlay planes
(60xx) are rendered too: the OCR stage reads them like frames.
"""
from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ...errors import DecompressionBombError, MalformedDicomError, short_reason
from ...policy import Policy
from ...quiet import quiet_native_stderr
from ...types import Rendering, Where
from ..base import Document, Pixels, digest
from ..frame_changes import ReadingStats, changed_renderings
from .profile import OVERLAY_GROUPS
from .readings import ReadingSpec, extra_renderings, plan_frames

if TYPE_CHECKING:  # pragma: no cover
    from pydicom.dataset import Dataset


@dataclass(frozen=True, kw_only=True)
class DicomDocument(Document):
    """A decoded DICOM file: the parsed ``dataset`` and the stored pixel values of all
    frames (``native_pixels``, an (N, H, W[, 3]) array in their own dtype; None without
    pixel data). Redaction writes into a copy of them, so the output keeps its bit depth."""

    dataset: Dataset = field(repr=False)
    native_pixels: np.ndarray | None = field(default=None, repr=False)
    unscreened_overlays: tuple[int, ...] = ()  # overlay groups that could not be decoded, so were not read
    # The extra readings of the stored values (frame, spec), made again of the output's
    # stored values at verification (see :mod:`.readings`).
    reading_specs: tuple[tuple[int, ReadingSpec], ...] = ()
    # What reading the frames did (a cine's later frames are read where they changed).
    reading: ReadingStats = field(default_factory=ReadingStats, repr=False)


def _read_dataset(data: bytes, name: str) -> Dataset:
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
        raise MalformedDicomError(f"{name}: malformed DICOM file ({short_reason(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - hostile files raise anything; fail closed
        raise MalformedDicomError(f"{name}: malformed DICOM file ({short_reason(exc)})") from None
    if len(ds) == 0:
        raise MalformedDicomError(f"{name}: no DICOM elements could be read")
    return ds


# Modalities whose colour is a measurement drawn in false colour (Doppler flow,
# elastography, tracer uptake), not light: a face detector sees only blobs there
# (measured: a 20 px "face" on a power-Doppler ultrasound, tests/data/dicom/US1_J2KR.dcm).
COLOUR_MAP_MODALITIES = frozenset({"US", "IVUS", "NM", "PT"})


def load_dicom(data: bytes, policy: Policy, name: str) -> DicomDocument:
    """Parse a DICOM file and render its frames and overlay planes for reading. Raises
    MalformedDicomError for what cannot be parsed or decoded, DecompressionBombError
    above the policy's pixel limit."""
    # Decoders of hostile files print C-level warnings (OpenJPEG): keep them off the terminal.
    with quiet_native_stderr():
        return _load_dicom(data, policy, name)


def _load_dicom(data: bytes, policy: Policy, name: str) -> DicomDocument:
    ds = _read_dataset(data, name)
    notes: list[str] = []
    if "TransferSyntaxUID" not in getattr(ds, "file_meta", {}):
        # A file without meta information: pydicom guessed the encoding; pixels are
        # then stored native (implicit or explicit VR little endian). The output is
        # written with meta information, header-only files too.
        from pydicom.dataset import FileMetaDataset
        from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

        ds.file_meta = getattr(ds, "file_meta", None) or FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian if ds.is_implicit_VR else ExplicitVRLittleEndian
        notes.append("no transfer syntax in the file meta; decoded as little endian")
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        notes.append("no pixel data: header de-identification only")
        return DicomDocument(data=data, sha256=digest(data), format="DICOM", frames=(),
                             source_name=name, notes=tuple(notes), dataset=ds, frame_count_in_file=0)
    rows, cols = _image_attribute(ds, "Rows", name), _image_attribute(ds, "Columns", name)
    n_frames = _image_attribute(ds, "NumberOfFrames", name, default=1) or 1
    if rows * cols * max(n_frames, 1) > policy.limits.max_pixels:
        raise DecompressionBombError(
            f"{name}: {n_frames} frame(s) of {cols}x{rows} is more than the {policy.limits.max_pixels:,}-pixel limit"
        )
    from .pixel_data import is_encapsulated, jp2_boxes_stall

    try:
        stalls = is_encapsulated(ds) and jp2_boxes_stall(ds)
    except Exception:  # noqa: BLE001 - an unknown transfer syntax: the decoder below refuses it, typed
        stalls = False
    if stalls:
        raise MalformedDicomError(f"{name}: the JPEG 2000 pixel data is malformed (a JP2 box has no length)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            native = ds.pixel_array
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - any decoder failure, even a Rust panic (a BaseException): fail closed
        raise MalformedDicomError(f"{name}: the pixel data cannot be decoded ({short_reason(exc)})") from None
    native = np.asarray(native)
    photometric = str(getattr(ds, "PhotometricInterpretation", "MONOCHROME2"))
    samples = int(getattr(ds, "SamplesPerPixel", 1) or 1)
    if n_frames > 1 or (native.ndim == 4) or (native.ndim == 3 and samples == 1):
        frames_native = native if native.ndim >= 3 and (native.ndim == 4 or samples == 1) else native[None]
    else:
        frames_native = native[None]
    if frames_native.shape[0] > n_frames:
        # pydicom reads Pixel Data longer than the header's frames as more frames: only
        # the header's frames are screened and written (the rest is never carried).
        notes.append(f"Pixel Data holds more than the {n_frames} frame(s) the header declares: only those are screened and written")
        frames_native = frames_native[:n_frames]
    if photometric == "PALETTE COLOR":
        from pydicom.pixels.processing import apply_color_lut

        try:
            rgb = np.asarray(apply_color_lut(frames_native, ds))
        except Exception as exc:  # noqa: BLE001 - a corrupt (e.g. segmented) palette: fail closed
            raise MalformedDicomError(f"{name}: the palette colour lookup table cannot be read ({short_reason(exc)})") from None
        if rgb.dtype != np.uint8:  # 16-bit palette entries: written back as 8-bit RGB
            rgb = (rgb.astype(np.uint32) * 255 // max(int(rgb.max()), 1)).astype(np.uint8)
        frames_native = rgb
        notes.append("palette colour expanded to 8-bit RGB")
    # Read-only: 8-bit colour frames are shown (and screened) as these very arrays.
    frames_native.setflags(write=False)
    rendered = tuple(render_frame(f, ds) for f in frames_native)
    notes.extend(rendering_fallbacks(frames_native[0], ds))
    unscreened: list[int] = []
    overlays = tuple(Rendering(plane, 0, Where.OVERLAY, f"overlay {group:04X}")
                     for group, plane in _overlays(ds, notes, unscreened))
    photometric_read = str(getattr(ds, "PhotometricInterpretation", ""))
    specs = plan_frames(frames_native, rendered, photometric_read)
    stats = ReadingStats()
    return DicomDocument(
        data=data,
        sha256=digest(data),
        format="DICOM",
        frames=rendered,
        source_name=name,
        notes=tuple(notes),
        frame_count_in_file=len(rendered),
        # A cine's frames like an animation's: the first whole, later ones where they
        # changed (a fixed overlay is read once and masked in every frame).
        renderings=tuple(changed_renderings(enumerate(rendered), stats, policy.video.moving_every))
        + extra_renderings(frames_native, specs, photometric_read) + overlays,
        # Colour DICOM (visible-light photos, secondary captures) is searched for faces;
        # grey medical images, palette-coloured maps and the colour maps of measuring
        # modalities (ultrasound Doppler, nuclear medicine) are not.
        photographic=samples > 1 and str(getattr(ds, "Modality", "")).upper() not in COLOUR_MAP_MODALITIES,
        dataset=ds,
        native_pixels=frames_native,
        unscreened_overlays=tuple(unscreened),
        reading_specs=specs,
        reading=stats,
    )


def _image_attribute(ds: Dataset, keyword: str, name: str, default: int | None = None) -> int:
    """An integer image attribute; raises MalformedDicomError naming the attribute (never
    its value: a broken writer can put a patient's name anywhere)."""
    try:
        value = ds[keyword].value if keyword in ds else default
        if value is None:
            raise ValueError
        return int(value)
    except Exception:  # noqa: BLE001 - a raw value of any type
        raise MalformedDicomError(f"{name}: image attributes are missing or invalid ({keyword})") from None


def to_uint8(arr: np.ndarray) -> Pixels:
    """Stretch any numeric array to 8 bits, min to 0 and max to 255 (all 0 when flat)."""
    arr = arr.astype(np.float64)
    lo, hi = float(np.min(arr)), float(np.max(arr))
    if hi <= lo:
        return np.zeros(arr.shape, dtype=np.uint8)
    return np.clip((arr - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8)


def render_frame(frame: np.ndarray, ds: Dataset) -> Pixels:
    """One stored frame of ``ds`` as a viewer shows it, in 8 bits (the stored window
    when present, else min-max; MONOCHROME1 inverted)."""
    if frame.ndim == 3:  # colour
        # 8-bit colour is shown as stored: the stored frame itself, not a copy (a
        # 120-frame colour cine's are 110 MB; the stored frames are read-only).
        return frame if frame.dtype == np.uint8 else to_uint8(frame)
    from pydicom.pixels.processing import apply_modality_lut, apply_voi_lut

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


def rendering_fallbacks(frame: np.ndarray, ds: Dataset) -> list[str]:
    """Notes for the report when :func:`render_frame` cannot show a frame the way the
    file asks (a broken modality or VOI LUT): it falls back to min-max. Names the
    attributes, never their values."""
    if frame.ndim == 3:
        return []
    from pydicom.pixels.processing import apply_modality_lut, apply_voi_lut

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            values = apply_modality_lut(frame, ds)
        except Exception as exc:  # noqa: BLE001
            return [f"the modality LUT or rescale (RescaleSlope, RescaleIntercept, ModalityLUTSequence) cannot be "
                    f"applied ({type(exc).__name__}): frames were read with a min-max window of the stored values"]
        if "WindowCenter" not in ds and "VOILUTSequence" not in ds:
            return []
        try:
            apply_voi_lut(values, ds)
        except Exception as exc:  # noqa: BLE001
            return [f"the VOI LUT or window (WindowCenter, WindowWidth, VOILUTSequence) cannot be applied "
                    f"({type(exc).__name__}): frames were read with a min-max window instead"]
    return []


def _overlays(ds: Dataset, notes: list[str], unscreened: list[int]) -> Iterator[tuple[int, Pixels]]:
    for group in OVERLAY_GROUPS:
        if (group, 0x0010) not in ds:
            continue
        if (group, 0x3000) not in ds and (group, 0x0102) in ds:  # no Overlay Data, a bit position
            yield from _high_bit_overlay(ds, group, notes, unscreened)
            continue
        try:
            arr = ds.overlay_array(group)
        except Exception:  # noqa: BLE001 - fail closed: reported, and never carried unscreened
            notes.append(f"overlay {group:04X} could not be decoded: not screened (never written: removed from the "
                         "output, or the file is blocked if the policy keeps overlays)")
            unscreened.append(group)
            continue
        plane = arr[0] if arr.ndim == 3 else arr
        notes.append(f"overlay plane {group:04X} found (screened)")
        yield group, (plane > 0).astype(np.uint8) * 255


def _high_bit_overlay(ds: Dataset, group: int, notes: list[str], unscreened: list[int]) -> Iterator[tuple[int, Pixels]]:
    """The retired kind of overlay: one bit (Overlay Bit Position) of the stored pixel
    values, above Bits Stored. Read from the values as written (the decoder clears those
    bits); every frame's plane that differs from the others is screened."""
    from .pixel_data import stored_values

    try:
        bit = int(ds[group, 0x0102].value)
        if not int(getattr(ds, "BitsStored", 0) or 0) <= bit < int(getattr(ds, "BitsAllocated", 0) or 0):
            raise ValueError  # not above Bits Stored: nothing there that a decoder would show
        values = stored_values(ds)
        if values.ndim == 4:
            values = values[..., 0]
        planes = ((values >> bit) & 1).astype(np.uint8) * 255
    except Exception as exc:  # noqa: BLE001 - fail closed: reported, never carried unscreened
        notes.append(f"overlay {group:04X} in the pixel data's high bits could not be read ({type(exc).__name__}): "
                     "not screened (the bits are cleared and the overlay removed from the output)")
        unscreened.append(group)
        return
    seen: set[bytes] = set()
    for plane in planes:
        key = plane.tobytes()
        if key in seen or not plane.any():
            continue
        seen.add(key)
        yield group, plane
    notes.append(f"overlay plane {group:04X} in the pixel data's high bits (bit {bit}) found "
                 "(screened; the bits are cleared and the overlay removed from the output)")
