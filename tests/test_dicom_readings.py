"""DICOM pixels are read beyond the stored window (issue 10): text stamped at a stored
value the window shows as black (or white) is found, masked in the stored pixels, and
gone from every re-windowing of the output. The output is read back here with an
independent reader (pytesseract), not the project's engines."""
from __future__ import annotations

import io
import json
import re

import numpy as np
import pydicom
import pytest
from conftest import DATA
from phi_guard.formats.dicom.decode import render_frame
from phi_guard.formats.dicom.readings import ReadingSpec, plan_readings, render_reading
from PIL import Image

SPECKLE, SCALE = 40, 0.6
CT = DATA / "dicom" / "ct_text_outside_window.dcm"


def _tesseract_words(grey: np.ndarray) -> set[str]:
    """Every word pytesseract reads on a 2x upscale of ``grey`` (alphanumerics, upper case)."""
    import pytesseract

    big = Image.fromarray(grey).resize((grey.shape[1] * 2, grey.shape[0] * 2), Image.Resampling.LANCZOS)
    text = pytesseract.image_to_string(big, config="--psm 11")
    return {re.sub(r"[^0-9A-Z]", "", w.upper()) for w in text.split()} - {""}


def _phi_tokens(truth: dict) -> set[str]:
    tokens = {re.sub(r"[^0-9A-Z]", "", w["text"].upper()) for w in truth["words"]
              if w["cls"] == "phi" and not re.fullmatch(r"\d{1,2}:\d{2}", w["text"])}
    return {t for t in tokens if len(t) >= 4}


def _text_value(native: np.ndarray, truth: dict) -> int:
    """The stored value the identifiers are stamped at: the most used value inside their boxes."""
    values = np.concatenate([native[w["box"][1]:w["box"][3], w["box"][0]:w["box"][2]].ravel()
                             for w in truth["words"] if w["cls"] == "phi"])
    vals, counts = np.unique(values, return_counts=True)
    return int(vals[np.argmax(counts)])


def test_ct_text_outside_the_window_is_masked_in_the_stored_pixels(screener):
    truth = json.loads(CT.with_suffix(".json").read_text())
    src = pydicom.dcmread(CT)
    native_in = src.pixel_array
    value = _text_value(native_in, truth)
    phi = _phi_tokens(truth)
    band = ReadingSpec("bands", ((value, value),))
    minmax = ReadingSpec("min-max")
    # The premise: the stored window shows none of it, a re-windowing shows it all.
    assert not phi & _tesseract_words(render_frame(native_in, src))
    seen_in_input = phi & (_tesseract_words(render_reading(band, native_in, "MONOCHROME2"))
                           | _tesseract_words(render_reading(minmax, native_in, "MONOCHROME2")))
    assert len(seen_in_input) >= len(phi) // 2, "the independent reader must see the text in the input's readings"

    result = screener.screen(CT)
    assert result.verdict.value == "REDACTED", result.reasons
    out = pydicom.dcmread(io.BytesIO(result.safe_bytes))
    native_out = out.pixel_array
    assert native_out.dtype == native_in.dtype and native_out.shape == native_in.shape
    # Masked in the stored pixels: every identifier's glyphs changed.
    for w in truth["words"]:
        # (The study time is stamped without its colon's dots: "15 41" is two numbers.)
        if w["cls"] != "phi" or re.fullmatch(r"\d{1,2}:\d{2}", w["text"]):
            continue
        x0, y0, x1, y1 = w["box"]
        glyphs = native_in[y0:y1, x0:x1] == value
        assert np.mean(native_out[y0:y1, x0:x1][glyphs] != value) > 0.9, w["text"]
    # Re-windowed, the output shows nothing of them: not in the band where the text was,
    # not in a min-max rendering, not in the stored window.
    for rendering in (render_reading(band, native_out, "MONOCHROME2"), render_reading(minmax, native_out, "MONOCHROME2"),
                      render_frame(native_out, out)):
        assert not phi & _tesseract_words(rendering)
    # The markers one line below and at the sides stay (R, L, "5 cm").
    left = _tesseract_words(render_reading(band, native_out, "MONOCHROME2"))
    assert "CM" in left


def test_text_inside_the_window_adds_no_reading():
    """A frame whose text the window shows plainly is read once: no extra readings."""
    rng = np.random.default_rng(3)
    native = np.clip(rng.normal(600, 80, (256, 256)), 0, 4095).astype(np.uint16)
    glyphs = np.zeros((256, 256), np.uint8)
    import cv2

    cv2.putText(glyphs, "DOE JOHN 12345", (10, 40), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 1, 1)
    native[glyphs > 0] = 1500
    ds = pydicom.Dataset()
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.WindowCenter, ds.WindowWidth = 800, 1600
    displayed = render_frame(native, ds)
    assert plan_readings(native, displayed, "MONOCHROME2") == ()


def _coloured_overlay_dicom(tmp_path, colour: tuple[int, int, int]) -> tuple[pydicom.Dataset, np.ndarray]:
    """An RGB ultrasound-like frame: grey speckle as bright as the coloured text, so the
    text has almost no luminance contrast (yellow over a bright fan)."""
    import cv2
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, UltrasoundImageStorage, generate_uid

    rng = np.random.default_rng(7)
    h, w = 240, 480
    luma = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
    grey = np.clip(rng.normal(luma, SPECKLE, (h, w)), 0, 255).astype(np.uint8)
    img = np.repeat(grey[..., None], 3, axis=2)
    glyphs = np.zeros((h, w), np.uint8)  # 1: identifiers, 2: the field label
    cv2.putText(glyphs, "OKAFOR, AMARA", (12, 40), cv2.FONT_HERSHEY_SIMPLEX, SCALE, 1, 1)
    cv2.putText(glyphs, "DOB", (12, 80), cv2.FONT_HERSHEY_SIMPLEX, SCALE, 2, 1)
    cv2.putText(glyphs, "03/14/1962", (76, 80), cv2.FONT_HERSHEY_SIMPLEX, SCALE, 1, 1)
    img[glyphs > 0] = colour
    ds = pydicom.Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = UltrasoundImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.Modality = "US"
    ds.PatientName = "OKAFOR^AMARA"
    ds.PatientID = "55501"
    ds.set_pixel_data(img, "RGB", 8)
    path = tmp_path / "us_colour.dcm"
    ds.save_as(path, enforce_file_format=True)
    return ds, glyphs == 1


@pytest.mark.parametrize("colour", [(255, 230, 0), (40, 230, 60)], ids=["yellow", "green"])
def test_coloured_overlay_over_grey_anatomy(screener, tmp_path, colour):
    ds, glyphs = _coloured_overlay_dicom(tmp_path, colour)
    native = ds.pixel_array
    assert plan_readings(native, native, "RGB") == (ReadingSpec("colour"),)
    result = screener.screen(tmp_path / "us_colour.dcm")
    assert result.verdict.value == "REDACTED", result.reasons
    out = pydicom.dcmread(io.BytesIO(result.safe_bytes)).pixel_array
    # The name and the birth date: their coloured glyphs are gone, and the output's
    # saturation reading shows neither to an independent reader.
    assert np.mean(np.any(out[glyphs] != colour, axis=-1)) > 0.9
    words = _tesseract_words(render_reading(ReadingSpec("colour"), out, "RGB"))
    assert not {"OKAFOR", "AMARA", "03141962"} & words
