"""Burned-in PHI is masked (against ground truth) and clinical markers stay readable."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from phi_guard.types import Verdict

from conftest import DATA

# Presidio's ground truth for 2_ORIGINAL (native pixel coordinates), PHI words only.
GT_2_ORIGINAL = [
    ("KAUFMAN", 1, 0, 72, 11), ("SCOTT", 79, 0, 50, 11), ("[M]", 134, 0, 19, 14),
    ("03.09.2012", 159, 0, 70, 11), ("07.22.1943", 46, 15, 68, 11),
]


def _pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("L"))


def test_presidio_ground_truth_fully_masked(screener):
    data = (DATA / "burned_in/2_ORIGINAL.png").read_bytes()
    result = screener.screen(data)
    assert result.verdict is Verdict.REDACTED
    out = _pixels(result.safe_bytes)
    for text, left, top, width, height in GT_2_ORIGINAL:
        region = out[top : top + height, left : left + width]
        assert (region == 0).mean() > 0.97, f"{text} is not fully masked"
    kinds = {f.kind for f in result.findings}
    assert {"PERSON", "DATE", "SEX_MARKER"} <= kinds
    assert "DATE_OF_BIRTH" in kinds


def test_sample_overlay_masked_and_markers_readable(screener, samples):
    src_bytes = (samples / "xray_overlay.png").read_bytes()
    result = screener.screen(src_bytes)
    assert result.verdict is Verdict.REDACTED
    src, out = _pixels(src_bytes), _pixels(result.safe_bytes)
    # PHI rows: name/date line, MRN/DOB line, accession line
    for (x0, y0, x1, y1) in [(20, 18, 140, 40), (210, 18, 340, 40), (80, 52, 170, 70), (260, 52, 360, 70), (70, 80, 130, 96)]:
        assert (out[y0:y1, x0:x1] == 0).mean() > 0.95, f"PHI at {(x0, y0, x1, y1)} not masked"
    # markers untouched: PORTABLE (bottom right), L (top right), AP UPRIGHT (bottom left)
    for (x0, y0, x1, y1) in [(900, 960, 1000, 985), (958, 40, 990, 85), (16, 980, 130, 1004)]:
        assert np.array_equal(src[y0:y1, x0:x1], out[y0:y1, x0:x1]), f"marker at {(x0, y0)} was changed"
    # an independent OCR pass on the output no longer reads any identifier
    import pytesseract

    text = pytesseract.image_to_string(Image.open(io.BytesIO(result.safe_bytes)))
    for secret in ("DOE", "JANE", "00482913", "07/22/1951", "7741029", "03/14/2024"):
        assert secret not in text


def test_phone_photo_of_monitor(screener, samples):
    result = screener.screen((samples / "phone_photo_gps.jpg").read_bytes())
    assert result.verdict is Verdict.REDACTED
    kinds = {f.kind for f in result.findings if f.where.value == "pixels"}
    assert {"PERSON", "MEDICAL_RECORD_NUMBER", "DATE_OF_BIRTH"} <= kinds


def test_clean_image_is_clean(screener, samples):
    result = screener.screen((samples / "clean_xray.png").read_bytes())
    assert result.verdict is Verdict.CLEAN, result.reasons
    assert result.report["verification"]["passed"] is True


def test_document_style_image(screener):
    """Presidio's own OCR test image: name, URL, phone and e-mail."""
    result = screener.screen((DATA / "burned_in/ocr_test.png").read_bytes())
    kinds = {f.kind for f in result.findings}
    assert {"PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS"} <= kinds


@pytest.mark.parametrize("style", ["blur", "pixelate"])
def test_blur_and_pixelate_pass_verification(screener, samples, style):
    """Blur and pixelate leave no readable identifier, pass verification first time on
    the sample x-ray, and really are blur/pixelate (not a black fill)."""
    from phi_guard import Policy

    import pytesseract

    policy = Policy.default().with_style(style)
    src_bytes = (samples / "xray_overlay.png").read_bytes()
    result = screener.screen(src_bytes, policy=policy)
    assert result.verdict is Verdict.REDACTED, result.reasons
    assert result.report["verification"]["passed"] is True
    assert result.report["redactions"]["style"] == style
    src, out = _pixels(src_bytes), _pixels(result.safe_bytes)
    text = pytesseract.image_to_string(Image.open(io.BytesIO(result.safe_bytes)))
    for secret in ("DOE", "JANE", "00482913", "07/22/1951", "7741029"):
        assert secret not in text
    for x0, y0, x1, y1 in result.report["redactions"]["boxes"]:
        before, after = src[y0:y1, x0:x1], out[y0:y1, x0:x1]
        assert not np.array_equal(before, after), f"mask {(x0, y0, x1, y1)} left the pixels as they were"
        assert not (after == 0).all(), "a blur/pixelate mask came out as the black fill"
        assert abs(float(after.mean()) - float(before.mean())) < 40  # blurred/averaged, not painted over


def test_report_has_no_raw_phi(screener, samples):
    import json

    result = screener.screen((samples / "xray_overlay.png").read_bytes())
    text = json.dumps(result.report)
    for secret in ("DOE", "JANE", "00482913", "07/22/1951", "7741029"):
        assert secret not in text
    f = result.report["findings"][0]
    assert {"kind", "masked_value", "boxes", "score", "rule", "where"} <= set(f)


def test_mixed_polarity_label_on_a_dark_image_is_masked(screener, samples):
    """A dark x-ray with a white overlay marker and a white paper label carrying black
    text: both polarities on one image. The label's name and date are masked and the
    result passes verification; the light marker stays."""
    import pytesseract
    from PIL import ImageDraw, ImageFont

    im = Image.open(samples / "clean_xray.png").convert("RGB")
    d = ImageDraw.Draw(im)
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 22)
    d.text((30, 30), "PORTABLE", fill=(235, 235, 235), font=font)
    d.rectangle((420, 640, 780, 740), fill=(248, 248, 248))
    d.text((440, 655), "SMITH, JOHN", fill=(10, 10, 10), font=font)
    d.text((440, 695), "DOB 03/14/1961", fill=(10, 10, 10), font=font)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    result = screener.screen(buf.getvalue())
    assert result.verdict is Verdict.REDACTED, result.reasons
    assert result.report["verification"]["passed"] is True
    kinds = {f.kind for f in result.findings if f.where.value == "pixels"}
    assert "PERSON" in kinds and ({"DATE", "DATE_OF_BIRTH"} & kinds)
    out = Image.open(io.BytesIO(result.safe_bytes)).convert("L")
    label = out.crop((420, 640, 780, 740)).resize((1080, 300))
    read = pytesseract.image_to_string(label).upper()
    assert "SMITH" not in read and "1961" not in read
    marker = out.crop((20, 20, 220, 70)).resize((600, 150))
    assert "PORTABLE" in pytesseract.image_to_string(marker).upper().replace(" ", "")
