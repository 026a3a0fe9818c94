"""Policy validation: no policy file can switch a safety check off."""
from __future__ import annotations

import pytest

from phi_guard import Policy
from phi_guard.errors import PolicyError


@pytest.mark.parametrize(
    "table,key",
    [
        ({"verify": {"engines": []}}, "verify.engines"),
        ({"verify": {"max_rounds": 0}}, "verify.max_rounds"),
        ({"ocr": {"min_confidence": 0}}, "ocr.min_confidence"),
        ({"ocr": {"min_confidence": 1.5}}, "ocr.min_confidence"),
        ({"block": {"max_masked_fraction": 5.0}}, "block.max_masked_fraction"),
        ({"block": {"max_masked_fraction": 0}}, "block.max_masked_fraction"),
        ({"block": {"max_pixel_findings": -1}}, "block.max_pixel_findings"),
        ({"detect": {"score_threshold": 1.0}}, "detect.score_threshold"),
        ({"detect": {"score_threshold": -0.1}}, "detect.score_threshold"),
        ({"ocr": {"tile_size": 10}}, "ocr.tile_size"),
        ({"ocr": {"tile_overlap": -5}}, "ocr.tile_overlap"),
        ({"ocr": {"tile_overlap": 1600}}, "ocr.tile_overlap"),
        ({"redact": {"padding_px": -1}}, "redact.padding_px"),
        ({"redact": {"padding_ratio": 9.0}}, "redact.padding_ratio"),
        ({"redact": {"fill_color": [0, 0, 300]}}, "redact.fill_color"),
        ({"redact": {"fill_color": [0, 0]}}, "redact.fill_color"),
        ({"limits": {"max_pixels": 0}}, "limits.max_pixels"),
        ({"limits": {"max_bytes": 0}}, "limits.max_bytes"),
        ({"output": {"jpeg_quality": 5}}, "output.jpeg_quality"),
        ({"output": {"jpeg_quality": 101}}, "output.jpeg_quality"),
        ({"output": {"max_side": -1}}, "output.max_side"),
        ({"output": {"max_side": 1.5}}, "output.max_side"),
        ({"verify": {"max_rounds": "two"}}, "verify.max_rounds"),
        ({"verify": {"max_rounds": 1.5}}, "verify.max_rounds"),
        ({"verify": {"max_rounds": True}}, "verify.max_rounds"),
        ({"report": {"include_phi": "no"}}, "report.include_phi"),
    ],
)
def test_out_of_range_values_are_refused_naming_the_key_and_range(table, key):
    with pytest.raises(PolicyError) as err:
        Policy.from_table(table)
    msg = str(err.value)
    assert f"'{key}'" in msg, msg
    if key not in ("verify.engines", "report.include_phi", "redact.fill_color"):
        assert " from " in msg and " to " in msg, msg  # the allowed range is stated


def test_every_numeric_default_key_has_a_range():
    """A numeric key added to default_policy.toml without a range fails here."""
    from phi_guard.policy import NUMERIC_RANGES, _default_table

    def numeric_keys(table, prefix=""):
        for k, v in table.items():
            if isinstance(v, dict):
                yield from numeric_keys(v, f"{prefix}{k}.")
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                yield f"{prefix}{k}"

    # [video] keys are range-checked by their own table (tests/test_motion_screening.py).
    assert {k for k in numeric_keys(_default_table()) if not k.startswith("video.")} <= set(NUMERIC_RANGES)


def test_max_side_is_zero_or_a_real_size():
    assert Policy.default().output.max_side == 0  # photos keep their size unless asked
    assert Policy.default().with_max_side(256).output.max_side == 256
    with pytest.raises(PolicyError, match="'output.max_side' must be 0 .keep the size. or at least 256, not 100"):
        Policy.default().with_max_side(100)


def test_edges_of_the_ranges_are_accepted():
    p = Policy.from_table({"verify": {"max_rounds": 1}, "block": {"max_masked_fraction": 1.0, "max_pixel_findings": 0},
                           "ocr": {"tile_overlap": 0}})
    assert p.verify.max_rounds == 1 and p.block.max_masked_fraction == 1.0


def test_report_states_what_was_verified(screener, samples):
    report = screener.screen(samples / "xray_overlay.png").report
    v = report["verification"]
    assert v["passed"] is True
    checked = " ".join(v["checked"])
    assert "decoded again" in checked
    assert "metadata" in checked
    assert "tesseract" in checked and "rapidocr" in checked
    assert "solid" in checked  # the default style is fill


@pytest.mark.parametrize("words", [["x1"], ["two words"], "XRAY", [3]])
def test_file_name_words_are_plain_words(words):
    with pytest.raises(PolicyError, match="'detect.file_name_words' must list plain words"):
        Policy.from_table({"detect": {"file_name_words": words}})
