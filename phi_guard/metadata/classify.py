"""Which metadata items are identifiers, and of what kind (for the findings list)."""
from __future__ import annotations

from ..types import Finding, MetadataItem, Where

_PERSON_KEYS = ("artist", "author", "owner", "copyright", "creator", "by-line", "xpauthor", "cameraownername")
_DEVICE_KEYS = ("serial", "uniqueid", "imageuniqueid", "hostcomputer")


_DICOM_KINDS = (
    ("private", "PRIVATE_DATA"), ("overlay", "OVERLAY"), ("icon", "EMBEDDED_IMAGE"), ("UID", "UID"),
    ("InstitutionName", "INSTITUTION"), ("InstitutionAddress", "ADDRESS"), ("Address", "ADDRESS"),
    ("Telephone", "PHONE_NUMBER"), ("StationName", "DEVICE_ID"), ("SerialNumber", "DEVICE_ID"),
    ("BirthDate", "DATE_OF_BIRTH"), ("Date", "DATE"), ("Time", "DATE"), ("AccessionNumber", "ACCESSION_NUMBER"),
    ("PatientID", "MEDICAL_RECORD_NUMBER"), ("ID", "ID_NUMBER"), ("Name", "PERSON"), ("Age", "AGE"),
    ("Description", "FREE_TEXT"), ("Comments", "FREE_TEXT"),
)


def classify(item: MetadataItem) -> str | None:
    if not item.phi_risk:
        return None
    if item.carrier == "DICOM":
        text = item.key + " " + item.action
        return next((kind for needle, kind in _DICOM_KINDS if needle in text), "DICOM_ATTRIBUTE")
    key = item.key.lower().replace(" ", "")
    carrier = item.carrier.upper()
    if "GPS" in carrier:
        return "LOCATION"
    if any(k in key for k in _PERSON_KEYS):
        return "PERSON"
    if any(k in key for k in _DEVICE_KEYS):
        return "DEVICE_ID"
    if "date" in key or "time" in key or carrier.endswith("TIME"):
        return "DATE"
    if "thumbnail" in key or "THUMB" in carrier or "MPO" in carrier:
        return "EMBEDDED_IMAGE"
    if "MAKERNOTE" in carrier:
        return "DEVICE_DATA"
    if carrier in ("XMP", "IPTC", "JPEG-COM", "GIF-COMMENT") or carrier.startswith("PNG-") and "TXT" in carrier.upper():
        return "FREE_TEXT"
    return None


def metadata_findings(items: list[MetadataItem]) -> list[Finding]:
    out = []
    for it in items:
        kind = classify(it)
        if kind:
            out.append(Finding(kind=kind, masked_value=it.masked_value, boxes=(), score=1.0,
                               rule=f"metadata:{it.carrier}:{it.key}", where=Where.METADATA))
    return out
