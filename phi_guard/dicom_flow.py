"""The DICOM-specific parts of the pipeline's stages: header de-identification
(metadata stage), writing the cleaned DICOM (write stage) and verifying it."""
from __future__ import annotations

import copy
import io
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import __version__
from .dicom_out import encode_dicom, mask_native
from .errors import PhiGuardError
from .load.dicom import render_frame
from .load.document import distinct_frames
from .metadata.dicom_profile import deidentify, header_terms, identifying_strings, load_table, mark_deidentified
from .ocr import OcrEngine
from .policy import Policy
from .types import Box, Finding, MetadataItem
from .verify import VerifyOutcome, residual_findings


@dataclass
class HeaderStep:
    dataset: Any  # the de-identified copy of the header (pixels still the input's)
    items: list[MetadataItem]
    terms: tuple[str, ...]
    actions: list[dict[str, str]]
    options: list[str]
    profile: str
    burned_in: str
    notes: list[str] = field(default_factory=list)


def dicom_header_step(doc, policy: Policy, detector) -> HeaderStep:  # noqa: ANN001
    original = doc.dataset
    terms = header_terms(original, allowed=policy.is_allowed_word)
    out = copy.deepcopy(original)

    def clean_text(text: str) -> str:
        spans = detector.find_in_text(text, policy, terms)
        chars = list(text)
        for s, e, _ in spans:
            chars[s:e] = "*" * (e - s)
        return "".join(chars)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = deidentify(out, policy.dicom.options(), clean_text)
    items = [
        MetadataItem(carrier="DICOM", key=f"{a['tag']} {a['path']}", masked_value=a["masked_value"], action=a["action"],
                     phi_risk=not a["action"].startswith("K"))
        for a in result.actions
    ]
    table = load_table()
    return HeaderStep(
        dataset=out,
        items=items,
        terms=terms,
        actions=result.actions,
        options=result.options_used,
        profile=f"{table['profile']} (DICOM {table['dicom_edition']})",
        burned_in=str(original.get("BurnedInAnnotation", "absent")),
    )


def encode_dicom_output(doc, header: HeaderStep, masks: list[Box], policy: Policy) -> tuple[bytes, str]:  # noqa: ANN001
    ds = copy.deepcopy(header.dataset)
    pixels_changed = bool(masks)
    palette = str(getattr(doc.dataset, "PhotometricInterpretation", "")) == "PALETTE COLOR"
    native = doc.native_pixels
    if native is not None and masks:
        native = mask_native(native, masks, str(getattr(ds, "PhotometricInterpretation", "")))
    if doc.has_pixels:
        # Burned-in text was screened (and masked); the flag is set only here, and the
        # output is verified before it is written.
        ds.BurnedInAnnotation = "NO"
    mark_deidentified(ds, header.options, pixels_cleaned=doc.has_pixels, tool=f"phi_guard {__version__}")
    if native is None:
        data, _ = encode_dicom(ds, np.zeros((1, 1, 1), np.uint8), False, False)
        return data, "header only (no pixel data)"
    return encode_dicom(ds, native, pixels_changed, palette)


def verify_dicom_output(
    encoded: bytes, doc, masks: list[Box], policy: Policy, engines: list[OcrEngine], detector,  # noqa: ANN001
    terms: tuple[str, ...], mask_engines: list[OcrEngine],
) -> VerifyOutcome:
    import pydicom

    problems: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(io.BytesIO(encoded))
    except Exception as exc:  # noqa: BLE001
        return VerifyOutcome(False, (f"the output DICOM does not read back ({type(exc).__name__})",), ())
    strings = [s.upper() for s in identifying_strings(ds)]
    leaked = [t for t in terms if len(t) >= 4 and any(re.search(rf"(?<![A-Z0-9]){re.escape(t.upper())}(?![A-Z0-9])", s) for s in strings)]
    if leaked:
        problems.append(f"{len(leaked)} header value(s) identifying the patient remain in the output header")
    if any(e.tag.is_private for e in ds.iterall()):
        problems.append("private attributes remain in the output header")
    if policy.dicom.remove_overlays and any(0x6000 <= e.tag.group <= 0x601E for e in ds):
        problems.append("overlay planes remain in the output")
    if (0x0088, 0x0200) in ds:
        problems.append("an icon image remains in the output")
    if not doc.has_pixels:
        return VerifyOutcome(not problems, tuple(problems), ())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = np.asarray(ds.pixel_array)
    except Exception as exc:  # noqa: BLE001
        return VerifyOutcome(False, tuple(problems) + (f"the output pixels do not decode ({type(exc).__name__})",), ())
    frames = arr if arr.ndim == 4 or (arr.ndim == 3 and int(getattr(ds, "SamplesPerPixel", 1)) == 1) else arr[None]
    if frames.shape[0] != len(doc.frames) or frames.shape[1:3] != doc.frames[0].shape[:2]:
        problems.append("the output's frames differ in number or size from the screened ones")
        return VerifyOutcome(False, tuple(problems), ())
    residual: list[Finding] = []
    for i, frame in distinct_frames(frames):
        residual += residual_findings(render_frame(frame, ds), i, masks, policy, engines, detector, terms, mask_engines)
    return VerifyOutcome(not problems and not residual, tuple(problems), tuple(residual))


__all__ = ["HeaderStep", "PhiGuardError", "dicom_header_step", "encode_dicom_output", "verify_dicom_output"]
