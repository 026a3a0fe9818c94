"""The DICOM adapter: the header de-identified by the PS3.15 Annex E profile (free
text cleaned by the detector), the pixels masked in their stored bit depth, and the
output read back and checked before anything is written."""
from __future__ import annotations

import copy
import io
import itertools
import re
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ... import __version__
from ...errors import OutputError, UsageError
from ...policy import Policy
from ...types import Box, MetadataItem
from ..base import (
    Document,
    Encoded,
    MetadataStep,
    OutputCheck,
    TextFinder,
    changed_outside_masks,
    distinct_frames,
    metadata_findings,
    pixel_difference,
)
from .decode import DicomDocument, load_dicom, render_frame
from .encode import encode_dicom, mask_native
from .pixel_data import pixel_data_problems
from .profile import (
    OVERLAY_GROUPS,
    deidentify,
    header_terms,
    identifying_strings,
    load_table,
    mark_deidentified,
    options_from_policy,
)
from .readings import extra_renderings

if TYPE_CHECKING:  # pragma: no cover
    from pydicom.dataset import Dataset

# Which identifier a removed or changed attribute held, by the first needle found in
# its tag, path and action (for the findings list).
_KINDS = (
    ("private", "PRIVATE_DATA"), ("overlay", "OVERLAY"), ("icon", "EMBEDDED_IMAGE"), ("UID", "UID"),
    ("InstitutionName", "INSTITUTION"), ("InstitutionAddress", "ADDRESS"), ("Address", "ADDRESS"),
    ("Telephone", "PHONE_NUMBER"), ("StationName", "DEVICE_ID"), ("SerialNumber", "DEVICE_ID"),
    ("BirthDate", "DATE_OF_BIRTH"), ("Date", "DATE"), ("Time", "DATE"), ("AccessionNumber", "ACCESSION_NUMBER"),
    ("PatientID", "MEDICAL_RECORD_NUMBER"), ("ID", "ID_NUMBER"), ("Name", "PERSON"), ("Age", "AGE"),
    ("Description", "FREE_TEXT"), ("Comments", "FREE_TEXT"),
)


def classify(item: MetadataItem) -> str | None:
    """The kind of identifier a header attribute held (DICOM_ATTRIBUTE when unnamed), or None if kept."""
    if not item.phi_risk:
        return None
    text = item.key + " " + item.action
    return next((kind for needle, kind in _KINDS if needle in text), "DICOM_ATTRIBUTE")


def _dicom(doc: Document) -> DicomDocument:
    if not isinstance(doc, DicomDocument):
        raise UsageError(f"{doc.source_name}: is a {doc.format} image; it can only be written as an image, not as DICOM")
    return doc


@dataclass(frozen=True)
class CleanedHeader:
    """The de-identified copy of the header (pixels still the input's) and the profile
    options applied, handed from :meth:`DicomAdapter.strip_metadata` to its encoder."""

    dataset: Dataset
    options_used: tuple[str, ...]


def _cleaned(metadata: MetadataStep) -> CleanedHeader:
    if not isinstance(metadata.cleaned, CleanedHeader):  # pragma: no cover - the pipeline passes our own step
        raise OutputError("the DICOM header was not de-identified; nothing was written")
    return metadata.cleaned


class DicomAdapter:
    """Opens, de-identifies, encodes and checks DICOM files."""

    formats: tuple[str, ...] = ("DICOM",)

    def accepts(self, data: bytes, fmt: str) -> bool:
        """Every DICOM file (single- and multi-frame)."""
        return True

    def open(self, data: bytes, name: str, policy: Policy) -> Document:
        """Parse the file and render its frames and overlays; raises an InputError subclass."""
        return load_dicom(data, policy, name)

    def output_format(self, doc: Document, requested: str | None) -> str:
        """DICOM unless an image format is requested; raises UsageError for an image
        output of a file without pixel data."""
        out = requested or "DICOM"
        if not doc.has_pixels and out != "DICOM":
            raise UsageError(f"{doc.source_name}: has no pixel data; only a DICOM output (.dcm) can be written")
        return out

    def strip_metadata(self, doc: Document, policy: Policy, find_in_text: TextFinder) -> MetadataStep:
        """De-identify a copy of the header by the Annex E profile with the policy's options;
        free text the profile keeps is cleaned with ``find_in_text``."""
        original = _dicom(doc).dataset
        terms = header_terms(original, allowed=policy.is_allowed_word)
        out = _header_copy(original)

        def clean_text(text: str) -> str:
            chars = list(text)
            for s, e, _ in find_in_text(text, terms):
                chars[s:e] = "*" * (e - s)
            return "".join(chars)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = deidentify(out, options_from_policy(policy.dicom), clean_text)
        items = tuple(
            MetadataItem(carrier="DICOM", key=f"{a['tag']} {a['path']}", masked_value=a["masked_value"], action=a["action"],
                         phi_risk=not a["action"].startswith("K"))
            for a in result.actions
        )
        table = load_table()
        section = {"profile": f"{table['profile']} (DICOM {table['dicom_edition']})", "options": result.options_used,
                   "attributes": result.actions, "pixels": "screened" if doc.has_pixels else "none (header only)",
                   "burned_in_annotation_in_input": str(original.get("BurnedInAnnotation", "absent"))}
        return MetadataStep(items=items, findings=metadata_findings(items, classify), terms=terms,
                            report_sections={"dicom": section, "reading": _dicom(doc).reading.as_dict()},
                            cleaned=CleanedHeader(out, tuple(result.options_used)))

    def encode(self, doc: Document, metadata: MetadataStep, masks: list[Box], policy: Policy, out_fmt: str) -> Encoded:
        """The de-identified header with the masked stored pixels; raises OutputError."""
        dicom = _dicom(doc)
        header = _cleaned(metadata)
        ds = _header_copy(header.dataset)
        palette = str(getattr(dicom.dataset, "PhotometricInterpretation", "")) == "PALETTE COLOR"
        native = dicom.native_pixels
        if native is not None and masks:
            native = mask_native(native, masks, str(getattr(ds, "PhotometricInterpretation", "")))
        if doc.has_pixels:
            # Burned-in text was screened (and masked); the flag is set only here, and the
            # output is verified before it is written.
            ds.BurnedInAnnotation = "NO"
        mark_deidentified(ds, list(header.options_used), pixels_cleaned=doc.has_pixels, tool=f"phi_guard {__version__}")
        if native is None:
            data, _ = encode_dicom(ds, np.zeros((1, 1, 1), np.uint8), False, False)
            return Encoded(data, "DICOM", "header only (no pixel data)")
        data, note = encode_dicom(ds, native, bool(masks), palette)
        return Encoded(data, "DICOM", note)

    def check_output(self, encoded: Encoded, doc: Document, metadata: MetadataStep, masks: list[Box],
                     policy: Policy) -> OutputCheck:
        """Read the output back: no identifying header value, private attribute, overlay or
        icon may remain, and its frames must match the screened ones (returned rendered)."""
        import pydicom

        problems: list[str] = []
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = pydicom.dcmread(io.BytesIO(encoded.data))
        except Exception as exc:  # noqa: BLE001
            return OutputCheck((f"the output DICOM does not read back ({type(exc).__name__})",))
        strings = [s.upper() for s in identifying_strings(ds)]
        leaked = [t for t in metadata.terms
                  if len(t) >= 4 and any(re.search(rf"(?<![A-Z0-9]){re.escape(t.upper())}(?![A-Z0-9])", s) for s in strings)]
        if leaked:
            problems.append(f"{len(leaked)} header value(s) identifying the patient remain in the output header")
        if any(e.tag.is_private for e in ds.iterall()):
            problems.append("private attributes remain in the output header")
        overlays = {e.tag.group for e in ds if e.tag.group in OVERLAY_GROUPS}
        if policy.dicom.remove_overlays and overlays:
            problems.append("overlay planes remain in the output")
        unscreened = sorted(overlays & set(_dicom(doc).unscreened_overlays))
        if unscreened:
            problems.append(f"overlay {', '.join(f'{g:04X}' for g in unscreened)} was not screened "
                            "(it could not be decoded) and would be kept")
        if (0x0088, 0x0200) in ds:
            problems.append("an icon image remains in the output")
        if not doc.has_pixels:
            return OutputCheck(tuple(problems))
        problems += pixel_data_problems(ds)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                arr = np.asarray(ds.pixel_array)
        except Exception as exc:  # noqa: BLE001
            return OutputCheck(tuple(problems) + (f"the output pixels do not decode ({type(exc).__name__})",))
        frames = arr if arr.ndim == 4 or (arr.ndim == 3 and int(getattr(ds, "SamplesPerPixel", 1)) == 1) else arr[None]
        if frames.shape[0] != len(doc.frames) or frames.shape[1:3] != doc.frames[0].shape[:2]:
            problems.append("the output's frames differ in number or size from the screened ones")
            return OutputCheck(tuple(problems))
        # The output's stored values through the input's readings (a value band, min-max,
        # colour saturation): text outside the window is verified where it was.
        extra = extra_renderings(frames, _dicom(doc).reading_specs, str(getattr(ds, "PhotometricInterpretation", "")))
        rendered = tuple((i, render_frame(frame, ds)) for i, frame in distinct_frames(frames))
        solid = all(frame[y0:y1, x0:x1].size == 0 or (frame[y0:y1, x0:x1] == frame[y0:y1, x0:x1].flat[0]).all()
                    for frame in frames for x0, y0, x1, y1 in masks)
        if not solid:
            problems.append("a mask is not solid in the output's stored pixels")
        return OutputCheck(tuple(problems), rendered, readings=extra, masks_solid=solid,
                           changed=_changed(frames, rendered, _dicom(doc), masks))



def _changed(frames: np.ndarray, rendered: tuple[tuple[int, np.ndarray], ...], doc: DicomDocument,
             masks: list[Box]) -> tuple[Box, ...] | None:
    """Where the output differs from the input outside the masks, in its stored values
    (every frame: text outside the window is there too) and in its rendered frames
    (the header's window applied): None when anything cannot be compared."""
    native = doc.native_pixels
    if native is None or native.shape != frames.shape:
        return None
    # One frame's difference at a time (a cine's would be hundreds of megabytes together).
    diffs = itertools.chain((pixel_difference(out, inp) for out, inp in zip(frames, native)),
                            (pixel_difference(px, doc.frames[i]) for i, px in rendered))
    regions: set[Box] = set()
    for d in diffs:
        changed = changed_outside_masks(d, masks)
        if changed is None:
            return None
        regions.update(changed)
    return tuple(sorted(regions))


def _header_copy(ds: Dataset) -> Dataset:
    """A deep copy of ``ds`` without pydicom's cache of its decoded pixels (the document
    holds those already; a 120-frame colour cine's are 110 MB, copied twice otherwise).
    The copy decodes them again if ever asked."""
    cached = getattr(ds, "_pixel_array", None)
    return copy.deepcopy(ds, {id(cached): None} if cached is not None else None)
