"""Issue 14, DICOM items: nothing of a DICOM output goes unscreened (bits above
Bits Stored, bytes past the frames, overlays that cannot be decoded, broken VOI
LUTs reported), header values never reach error messages, and the [dicom]
settings do what they say."""
from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pydicom
import pytest

from phi_guard import Policy
from phi_guard.errors import MalformedDicomError
from phi_guard.load import load_document

from dicom_builder import PATIENT_ID, PATIENT_NAME, dataset, to_bytes, with_raw

PLANTED = "Zebulon Quackenbush"


# -- item 8: header values never in error messages -----------------------------------
@pytest.mark.parametrize("keyword,attribute", [
    ("NumberOfFrames", "NumberOfFrames"), ("PhotometricInterpretation", "PhotometricInterpretation"),
    ("Rows", "Rows"), ("SamplesPerPixel", "SamplesPerPixel"), ("BitsStored", None),
])
def test_error_names_the_attribute_never_its_value(keyword, attribute):
    data = to_bytes(with_raw(dataset(), **{keyword: PLANTED}))
    with pytest.raises(MalformedDicomError) as exc:
        load_document(data, Policy.default(), "scan.dcm")
    message = str(exc.value)
    assert message.startswith("scan.dcm: ")
    for part in ("Zebulon", "Quackenbush", "25946"):  # 25946: the value's first two bytes read as US
        assert part.lower() not in message.lower(), message
    if attribute:
        assert attribute in message, message


def test_cli_error_and_report_carry_no_header_value(tmp_path):
    src = tmp_path / "scan.dcm"
    src.write_bytes(to_bytes(with_raw(dataset(), NumberOfFrames=PLANTED)))
    report = tmp_path / "r.json"
    run = subprocess.run([sys.executable, "-m", "phi_guard.cli", "check", str(src), "--report", str(report)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 2, run.stderr
    assert "NumberOfFrames" in run.stderr
    text = run.stdout + run.stderr + (report.read_text() if report.exists() else "")
    assert "Zebulon" not in text and "Quackenbush" not in text, text
