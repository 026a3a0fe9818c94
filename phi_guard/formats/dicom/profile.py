"""DICOM header de-identification: PS3.15 Annex E, Basic Application Level
Confidentiality Profile, applied from the machine-readable table shipped in
``phi_guard/data/annex_e.json`` (edition noted there), with its options.

Actions: X remove, Z empty, D dummy value, U new UID (keyed hash: consistent
across files and runs for one secret), K keep, C clean (free text kept but
screened with the same PHI detector). Sequences are processed recursively.
Private tags, overlays (60xx; their planes only are kept with
``remove_overlays = False``), curves (50xx) and icon images go.
"""
from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import hmac
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any

from ...mask import mask_value
from ...policy import DicomPolicy
from ...secret import installation_secret

if TYPE_CHECKING:  # pragma: no cover
    from pydicom.dataelem import DataElement
    from pydicom.dataset import Dataset

# Repeating groups: overlay planes (60xx) and curves (50xx), even groups only.
OVERLAY_GROUPS = range(0x6000, 0x6020, 2)
CURVE_GROUPS = range(0x5000, 0x5020, 2)

# Annex E option tables (the attributes each option keeps).
PATIENT_CHARACTERISTICS = {0x00101010, 0x00101020, 0x00101030, 0x00102160, 0x001021A0, 0x001021C0, 0x00101021,
                           0x00100040, 0x00102203, 0x00101022, 0x00101023, 0x00101024, 0x00102000, 0x00102110}
# Devices and stations only: the institution (name, address, department) identifies
# a site, not a device, and is removed with this option too.
DEVICE_IDENTITY = {0x00181000, 0x00081010, 0x00181002, 0x00181004, 0x00181005, 0x00181007, 0x00181008,
                   0x0018100B, 0x00181009, 0x0018700A, 0x00181201, 0x00181200, 0x00081090, 0x00080070,
                   0x00181020, 0x00189371, 0x00400241, 0x00400242, 0x00404028, 0x00404030, 0x00400001,
                   0x00400010, 0x00404025, 0x00404027, 0x00400011, 0x00321020, 0x00321021, 0x00500020,
                   0x3010002D, 0x3010001B, 0x30080105}
# What an overlay plane is (kept with dicom.remove_overlays = false): its size, type,
# origin, bits and data. Its free text (label, description, comments) always goes.
OVERLAY_STRUCTURE = {0x0010, 0x0011, 0x0015, 0x0040, 0x0050, 0x0051, 0x0100, 0x0102, 0x3000}
DESCRIPTORS = {0x00081030, 0x0008103E, 0x00181030, 0x00204000, 0x00081080, 0x00102180, 0x00380500,
               0x00321060, 0x00400254, 0x00400007, 0x00181400, 0x00400280, 0x00081032}
TEMPORAL_VRS = {"DA", "DT", "TM"}
ICON_IMAGE_SEQUENCE = 0x00880200
DEID_CODES = {  # CID 7050 De-identification Method
    "basic": ("113100", "Basic Application Confidentiality Profile"),
    "pixels": ("113101", "Clean Pixel Data Option"),
    "descriptors": ("113105", "Clean Descriptors Option"),
    "temporal_full": ("113106", "Retain Longitudinal Temporal Information Full Dates Option"),
    "temporal_shift": ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
    "patient": ("113108", "Retain Patient Characteristics Option"),
    "device": ("113109", "Retain Device Identity Option"),
    "uids": ("113110", "Retain UIDs Option"),
    "private": ("113111", "Retain Safe Private Option"),
}


@functools.lru_cache(maxsize=1)
def load_table() -> dict[str, Any]:
    """The Annex E table shipped in ``phi_guard/data/annex_e.json``, indexed by tag."""
    raw: dict[str, Any] = json.loads(resources.files("phi_guard").joinpath("data/annex_e.json").read_text("utf-8"))
    raw["by_tag"] = {int(r["tag"], 16): (r["name"], r["action"]) for r in raw["rows"]}
    return raw


@dataclass(frozen=True)
class DicomOptions:
    retain_temporal: str = "no"  # no | full | shift
    retain_patient_characteristics: bool = False
    retain_device_identity: bool = False
    retain_uids: bool = False
    clean_descriptors: bool = False
    retain_safe_private: bool = False
    safe_private_tags: frozenset[int] = frozenset()
    secret: str = ""  # required: no usable key is shipped (phi_guard.secret makes one per installation)
    max_date_shift_days: int = 3650
    remove_overlays: bool = True


def options_from_policy(policy: DicomPolicy) -> DicomOptions:
    """The Annex E options a policy's [dicom] table asks for."""
    return DicomOptions(
        retain_temporal=policy.retain_temporal,
        retain_patient_characteristics=policy.retain_patient_characteristics,
        retain_device_identity=policy.retain_device_identity,
        retain_uids=policy.retain_uids,
        clean_descriptors=policy.clean_descriptors,
        retain_safe_private=policy.retain_safe_private,
        safe_private_tags=policy.safe_private_tags,
        secret=policy.secret or installation_secret(),
        remove_overlays=policy.remove_overlays,
    )


@dataclass
class DeidResult:
    actions: list[dict[str, str]] = field(default_factory=list)
    options_used: list[str] = field(default_factory=list)


def new_uid(uid: str, secret: str) -> str:
    """A consistent replacement UID: 2.25.<128-bit keyed hash of the old UID>."""
    digest = hmac.new(secret.encode(), str(uid).encode(), hashlib.sha256).digest()[:16]
    return "2.25." + str(int.from_bytes(digest, "big"))


def _dummy(vr: str) -> str | None:
    return {"PN": "ANONYMIZED", "DA": "19000101", "TM": "000000", "DT": "19000101000000", "AS": "000D", "IS": "0",
            "DS": "0", "CS": "ANONYMIZED", "AE": "ANONYMIZED", "SH": "ANONYMIZED", "LO": "ANONYMIZED",
            "LT": "ANONYMIZED", "ST": "ANONYMIZED", "UT": "ANONYMIZED", "UC": "ANONYMIZED"}.get(vr)


def _shift_date(value: str, vr: str, days: int) -> str:
    try:
        if vr == "DA":
            d = _dt.datetime.strptime(str(value)[:8], "%Y%m%d") - _dt.timedelta(days=days)
            return d.strftime("%Y%m%d")
        if vr == "DT":
            d = _dt.datetime.strptime(str(value)[:8], "%Y%m%d") - _dt.timedelta(days=days)
            return d.strftime("%Y%m%d") + str(value)[8:]
    except ValueError:
        return _dummy(vr) or ""
    return str(value)  # TM: times of day are kept with the shifted dates


def deidentify(ds: Dataset, options: DicomOptions, clean_text: Callable[[str], str] | None = None) -> DeidResult:
    """De-identify ``ds`` in place with the Annex E table and ``options``; ``clean_text``
    masks PHI in free text (Clean Descriptors). Returns the actions taken (values masked)."""
    if not options.secret:
        raise ValueError("a DICOM de-identification key is required (DicomOptions.secret)")
    table = load_table()["by_tag"]
    result = DeidResult()
    shift_days = 0
    if options.retain_temporal == "shift":
        key = str(getattr(ds, "PatientID", "")) + "|" + str(getattr(ds, "PatientName", ""))
        h = hmac.new(options.secret.encode(), key.encode(), hashlib.sha256).digest()
        shift_days = 1 + int.from_bytes(h[:4], "big") % options.max_date_shift_days

    def record(path: str, elem: DataElement, action: str) -> None:
        value = "" if elem.VR in ("SQ", "OB", "OW", "UN", "OF", "OD") else elem.value
        result.actions.append({"tag": f"({elem.tag.group:04X},{elem.tag.element:04X})", "keyword": elem.keyword or "private",
                               "path": path, "action": action, "masked_value": mask_value(value) if value not in (None, "") else ""})

    def process(dataset: Dataset, prefix: str) -> None:
        for elem in list(dataset):
            tag = int(elem.tag)
            group = elem.tag.group
            path = f"{prefix}{elem.keyword or f'({group:04X},{elem.tag.element:04X})'}"
            if elem.tag.is_private:
                if options.retain_safe_private and tag in options.safe_private_tags:
                    continue
                record(path, elem, "X (private)")
                del dataset[elem.tag]
                continue
            if (not options.remove_overlays and not prefix and group in OVERLAY_GROUPS
                    and elem.tag.element in OVERLAY_STRUCTURE and (group, 0x3000) in dataset):
                # Kept by the policy (screened like a frame; identifiers in it block the
                # file). An overlay in the pixel data's high bits is not kept: those
                # bits are cleared.
                record(path, elem, "K (overlay kept by dicom.remove_overlays = false)")
                continue
            if group in OVERLAY_GROUPS or group in CURVE_GROUPS:
                record(path, elem, "X (overlay/curve)")
                del dataset[elem.tag]
                continue
            if tag == ICON_IMAGE_SEQUENCE:
                record(path, elem, "X (icon image)")
                del dataset[elem.tag]
                continue
            name_action = table.get(tag)
            action = name_action[1] if name_action else "K"
            action = _apply_options(tag, elem.VR, action, options)
            if action == "K":
                if elem.VR == "SQ":
                    for i, item in enumerate(elem.value):
                        process(item, f"{path}[{i}].")
                continue
            if action == "C":
                if clean_text and isinstance(elem.value, str) and elem.value:
                    cleaned = clean_text(elem.value)
                    if cleaned != elem.value:
                        record(path, elem, "C (PHI masked in free text)")
                        elem.value = cleaned
                continue
            if action == "SHIFT":
                if elem.value:
                    record(path, elem, f"shift -{shift_days} days")
                    elem.value = _shift_date(elem.value, elem.VR, shift_days)
                continue
            if elem.VR == "SQ" and action in ("D", "X/Z/U*", "Z/D"):
                # Sequences whose action keeps them: clean what is inside instead.
                record(path, elem, action + " (items cleaned)")
                for i, item in enumerate(elem.value):
                    process(item, f"{path}[{i}].")
                continue
            primary = _resolve(action)
            record(path, elem, primary)
            if primary == "X":
                del dataset[elem.tag]
            elif primary == "Z":
                elem.value = [] if elem.VR == "SQ" else (b"" if elem.VR in ("OB", "OW", "UN") else None)
            elif primary == "U":
                if elem.VM > 1:
                    elem.value = [new_uid(v, options.secret) for v in elem.value]
                elif elem.value:
                    elem.value = new_uid(elem.value, options.secret)
            elif primary == "D":
                dummy = _dummy(elem.VR)
                if elem.VR == "UI":
                    elem.value = new_uid(elem.value, options.secret) if elem.value else elem.value
                elif elem.VR == "UR":
                    elem.value = "http://example.invalid/"
                elif elem.VR in ("OB", "OW", "UN", "OD", "OF", "OL", "OV"):
                    elem.value = b"\x00\x00"
                elif elem.VR in ("US", "SS", "UL", "SL", "FL", "FD", "UV", "SV"):
                    elem.value = 0
                elif dummy is None:
                    del dataset[elem.tag]
                else:
                    elem.value = dummy[:16] if elem.VR in ("CS", "AE", "SH") else dummy

    process(ds, "")
    result.options_used = _options_used(options)
    return result


def _apply_options(tag: int, vr: str, action: str, options: DicomOptions) -> str:
    if action == "K":
        return action
    if options.retain_uids and action == "U":
        return "K"
    if options.retain_patient_characteristics and tag in PATIENT_CHARACTERISTICS:
        return "K"
    if options.retain_device_identity and tag in DEVICE_IDENTITY:
        return "K"
    if vr in TEMPORAL_VRS and options.retain_temporal == "full":
        return "K"
    if vr in TEMPORAL_VRS and options.retain_temporal == "shift":
        return "SHIFT"
    if options.clean_descriptors and tag in DESCRIPTORS:
        return "C"
    return action


def _resolve(action: str) -> str:
    """Pick the action for the compound codes: remove where the standard allows it,
    except where the attribute is usually required (then empty or dummy)."""
    return {"X/Z": "X", "X/D": "X", "X/Z/D": "X", "X/Z/U*": "X", "Z/D": "Z"}.get(action, action)


def _options_used(o: DicomOptions) -> list[str]:
    used = ["basic"]
    if o.clean_descriptors:
        used.append("descriptors")
    if o.retain_temporal == "full":
        used.append("temporal_full")
    elif o.retain_temporal == "shift":
        used.append("temporal_shift")
    if o.retain_patient_characteristics:
        used.append("patient")
    if o.retain_device_identity:
        used.append("device")
    if o.retain_uids:
        used.append("uids")
    if o.retain_safe_private:
        used.append("private")
    return used


def mark_deidentified(ds: Dataset, options_used: list[str], pixels_cleaned: bool, tool: str) -> None:
    """Record in ``ds`` that it was de-identified, with which options and by which tool."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    codes = list(options_used) + (["pixels"] if pixels_cleaned else [])
    ds.PatientIdentityRemoved = "YES"
    # LO: at most 64 characters.
    ds.DeidentificationMethod = (f"{tool}; PS3.15 E Basic Profile" + ("; pixels screened" if pixels_cleaned else ""))[:64]
    seq = []
    for c in codes:
        value, meaning = DEID_CODES[c]
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
        seq.append(item)
    ds.DeidentificationMethodCodeSequence = Sequence(seq)


# -- what the header says about the patient, for matching against OCR text -------------
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_TERM_KEYWORDS = ("PatientName", "PatientID", "OtherPatientIDs", "OtherPatientNames", "PatientBirthName",
                  "PatientMotherBirthName", "AccessionNumber", "InstitutionName", "InstitutionAddress",
                  "ReferringPhysicianName", "PerformingPhysicianName", "OperatorsName", "PhysiciansOfRecord",
                  "NameOfPhysiciansReadingStudy", "RequestingPhysician", "StudyID", "PatientAddress",
                  "PatientTelephoneNumbers", "MedicalRecordLocator", "StationName", "IssuerOfPatientID")
_DATE_KEYWORDS = ("PatientBirthDate", "StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate")


def date_variants(value: str) -> list[str]:
    """19590417 -> the ways a viewer may print it: 04/17/1959, 17.04.1959, 04.17.1959,
    17-Apr-1959, 1959 Apr 17, 1959-04-17, 4/17/1959, 17/04/1959."""
    try:
        d = _dt.datetime.strptime(str(value)[:8], "%Y%m%d")
    except ValueError:
        return []
    y, m, dd, mon = d.year, d.month, d.day, _MONTHS[d.month - 1]
    out = {f"{y}{m:02d}{dd:02d}", f"{m:02d}/{dd:02d}/{y}", f"{dd:02d}.{m:02d}.{y}", f"{m:02d}.{dd:02d}.{y}",
           f"{dd:02d}-{mon}-{y}", f"{y} {mon} {dd:02d}", f"{y} {mon} {dd}", f"{y}-{m:02d}-{dd:02d}", f"{m}/{dd}/{y}",
           f"{dd:02d}/{m:02d}/{y}", f"{dd:02d}-{mon.upper()}-{y}", f"{dd:02d}-{mon.upper()}-{y % 100:02d}",
           f"{m:02d}/{dd:02d}/{y % 100:02d}", f"{m:02d}-{dd:02d}-{y}", f"{dd}.{m}.{y}"}
    return sorted(out)


def header_terms(ds: Dataset, allowed: Callable[[str], bool] = lambda w: False) -> tuple[str, ...]:
    """Identifying strings from the header, to find the same text burned into pixels."""
    terms: set[str] = set()

    def add(text: str) -> None:
        text = str(text).strip()
        if len(re.sub(r"\W", "", text)) >= 3 and not allowed(text):
            terms.add(text)

    for kw in _TERM_KEYWORDS:
        value = getattr(ds, kw, None)
        if value in (None, ""):
            continue
        values = value if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue" else [value]
        for v in values:
            text = str(v)
            add(text.replace("^", " ").strip())
            for part in re.split(r"[\^,\s]+", text):
                if len(part) >= 3 and not part.isdigit() or len(part) >= 4:
                    add(part)
            if "^" in text:  # LAST^FIRST is also printed LAST, FIRST and FIRST LAST
                parts = [p for p in text.split("^") if p]
                if len(parts) >= 2:
                    add(f"{parts[0]}, {parts[1]}")
                    add(f"{parts[1]} {parts[0]}")
    for kw in _DATE_KEYWORDS:
        value = getattr(ds, kw, None)
        if value:
            terms.update(date_variants(str(value)))
    # A site often names its station or institution after the vendor ("Philips
    # Healthcare"): vendor names are not identifiers, so they are not terms.
    vendor = " ".join(str(getattr(ds, kw, "") or "") for kw in ("Manufacturer", "ManufacturerModelName")).upper()
    terms = {t for t in terms if not (t.upper() in vendor or all(p in vendor for p in re.findall(r"[A-Z0-9]+", t.upper())))}
    return tuple(sorted(terms, key=len, reverse=True))


def identifying_strings(ds: Dataset) -> list[str]:
    """Every string value in a dataset (recursively), for verifying an output header."""
    out: list[str] = []
    for elem in ds.iterall():
        if elem.VR in ("PN", "LO", "SH", "LT", "ST", "UT", "UC", "CS", "DA", "DT", "AE", "AS", "IS", "DS") and elem.value not in (None, ""):
            vals = elem.value if type(elem.value).__name__ == "MultiValue" else [elem.value]
            out.extend(str(v) for v in vals)
    return out
