"""Verification with the real engines, focused re-reading (the default): an output that
equals its input outside solid masks is re-read around the masks and where it changed.
A mask painted beside an identifier instead of on it leaves the identifier next to the
mask, where verification reads it: a second round masks it, or with one round allowed
nothing is written."""
from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from phi_guard import Policy, Screener, Verdict
from phi_guard.ocr.base import OcrReading


class DigitsBeside:
    """The real screening engine, except that words with digits are reported one word
    width to the right of where they are (a mask placed beside the identifier)."""

    def __init__(self, inner) -> None:  # noqa: ANN001
        self.inner = inner
        self.name = inner.name

    def version(self) -> str:
        return self.inner.version()

    def read(self, image: np.ndarray, tag: str = "") -> OcrReading:
        reading = self.inner.read(image, tag)
        moved = tuple(dataclasses.replace(w, box=(w.box[2] + 8, w.box[1], 2 * w.box[2] - w.box[0] + 8, w.box[3]))
                      if any(c.isdigit() for c in w.text) else w for w in reading.words)
        return OcrReading(moved, reading.unreadable)


def _image() -> bytes:
    rng = np.random.default_rng(3)
    im = Image.fromarray(rng.integers(30, 60, (160, 640)).astype(np.uint8)).convert("RGB")
    ImageDraw.Draw(im).text((20, 50), "MRN: 00482913", fill=(235, 235, 235), font=ImageFont.load_default(size=24))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def misplacing(screener):
    return Screener(ocr_engines=[DigitsBeside(screener.ocr_engines[0])], verify_engines=screener.verify_engines,
                    mask_engines=screener.mask_engines, detector=screener.detector,
                    face_detector=screener.pictures.faces, code_detector=screener.pictures.codes)


def test_identifier_beside_a_misplaced_mask_is_masked_in_round_two(misplacing):
    result = misplacing.screen(_image())
    v = result.report["verification"]
    assert result.verdict is Verdict.REDACTED, result.reasons
    assert v["rounds"] == 2 and v["passed"] and v["reread"] == "around masks and changes"
    # the report says what was proven and what re-read, not "the whole output was re-read"
    checked = " ".join(v["checked"])
    assert "equal the screened input's" in checked and "whole output" not in checked
    import pytesseract

    out = Image.open(io.BytesIO(result.safe_bytes))
    assert "00482913" not in pytesseract.image_to_string(out.resize((out.width * 2, out.height * 2)))
    assert (np.asarray(out.convert("L"))[55:75, 90:230] == 0).mean() > 0.5  # the digits' place, filled


def test_identifier_beside_a_misplaced_mask_blocks_with_one_round(misplacing):
    result = misplacing.screen(_image(), policy=Policy.from_table({"verify": {"max_rounds": 1}}))
    assert result.verdict is Verdict.BLOCKED and result.safe_bytes is None
    assert {"MEDICAL_RECORD_NUMBER", "ID_NUMBER"} & set(result.report["verification"]["residual_kinds"])
