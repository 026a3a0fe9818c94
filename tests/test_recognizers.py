"""Detection on text as OCR reads it, through the real Presidio engine."""
from __future__ import annotations

import pytest

from phi_guard import Policy
from phi_guard.ocr.base import OcrReading
from phi_guard.types import Word


def reading_of(*lines: str) -> OcrReading:
    words = []
    for li, line in enumerate(lines):
        x = 0
        for token in line.split(" "):
            words.append(Word(token, 0.95, (x, li * 30, x + 10 * len(token), li * 30 + 20), "test", f"l{li}"))
            x += 10 * len(token) + 10
    return OcrReading(tuple(words))


def found(screener, *lines, policy=None):
    fs = screener.detector.detect(reading_of(*lines), policy or Policy.default())
    return {(f.kind, f.raw_text) for f in fs}


@pytest.mark.parametrize("date", ["19590417", "04/17/1959", "17.04.1959", "17-Apr-1959", "1959 Apr 17", "1959-04-17", "Apr 17, 1959"])
def test_dates_in_every_format(screener, date):
    assert any(k == "DATE" for k, _ in found(screener, f"Study {date}"))


@pytest.mark.parametrize(
    "line,kind",
    [
        ("Name: Jane Doe", "PERSON"),
        ("MRN: 00482913", "MEDICAL_RECORD_NUMBER"),
        ("MR# 4471203", "MEDICAL_RECORD_NUMBER"),
        ("DOB: 07/22/1951", "DATE_OF_BIRTH"),
        ("D.O.B. 22.07.1951", "DATE_OF_BIRTH"),
        ("Acc# 7741029", "ACCESSION_NUMBER"),
        ("Age: 93", "AGE_OVER_89"),
        ("SMITH^JOHN^A", "PERSON"),
        ("SMITH*JOHN", "PERSON"),
        ("DOWNTIME, MARY", "PERSON"),
        ("Haddad, Priya", "PERSON"),  # a wristband's surname-first form; Priya is not in the census lists
        ("KOWALSKI, Chen", "PERSON"),
        ("Kowalski, james", "PERSON"),  # small print: the given name's capital read as a small letter
        ("DAVIDSON DOUGLAS [M]", "PERSON"),
        ("tel 216-555-0143", "PHONE_NUMBER"),
        ("jane.doe@example.org", "EMAIL_ADDRESS"),
        ("1200 Oak Street", "ADDRESS"),
        ("ID 00079241539", "MEDICAL_RECORD_NUMBER"),
        ("11-05-25-142825", "ID_NUMBER"),
    ],
)
def test_medical_overlay_identifiers(screener, line, kind):
    kinds = {k for k, _ in found(screener, line)}
    assert kind in kinds, kinds


def test_ocr_confusions_tolerated(screener):
    # O for 0, l for 1, S for 5 in a date; a misread first name next to a surname
    assert any(k in ("DATE", "DATE_OF_BIRTH") for k, _ in found(screener, "DOB: O7.l6.l9S3"))
    assert any(k == "PERSON" for k, _ in found(screener, "MEYER STEPHANE"))


def test_markers_and_technique_values_not_flagged(screener):
    assert found(screener, "PORTABLE", "L", "AP UPRIGHT", "SEMI-UPRIGHT", "120 kVp 2.5 mAs", "W:400 L:40") == set()


def test_age_under_90_is_not_phi(screener):
    assert not any(k == "AGE_OVER_89" for k, _ in found(screener, "Age: 45"))


def test_all_text_mode_masks_everything_but_allow_list(screener):
    policy = Policy.from_table({"mode": "all-text"})
    kinds = found(screener, "Tumour board case 12 PORTABLE", policy=policy)
    texts = {t for _, t in kinds}
    assert "Tumour" in texts and "board" in texts
    assert "PORTABLE" not in texts


def test_deny_list(screener):
    policy = Policy.from_table({"detect": {"deny_words": ["Springfield"]}})
    assert ("DENY_LIST", "Springfield") in found(screener, "Springfield General", policy=policy)


def test_detection_makes_no_network_call(screener, monkeypatch, tmp_path):
    """Presidio's e-mail check uses tldextract, which by default fetches the public
    suffix list from the internet and caches it under ~/.cache. phi_guard must stay
    offline: the check runs on the list bundled with tldextract, and writes nothing."""
    import socket

    attempts = []

    def refuse(self, address):  # noqa: ANN001
        attempts.append(address)
        raise OSError("network disabled in this test")

    def refuse_lookup(host, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        attempts.append(host)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse_lookup)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    kinds = found(screener, "Contact: jane.doe@stmarys-hospital.org.uk", "Ref dr.smith@clinic.example.com")
    assert ("EMAIL_ADDRESS", "jane.doe@stmarys-hospital.org.uk") in kinds
    assert attempts == []
    assert not any(tmp_path.rglob("*tldextract*"))


def test_extra_recognizers_join_without_editing_the_engine(screener):
    from presidio_analyzer import Pattern, PatternRecognizer

    from phi_guard.detect import Detector

    study_code = PatternRecognizer(supported_entity="MEDICAL_RECORD_NUMBER", name="StudyCode",
                                   patterns=[Pattern("study code", r"\bFalconcrest\b", 0.9)])
    extended = Detector(analyzer=screener.detector.analyzer, extra_recognizers=[study_code])
    line = reading_of("Project Falconcrest")
    assert "Falconcrest" not in {f.raw_text for f in screener.detector.detect(line, Policy.default())}
    assert ("MEDICAL_RECORD_NUMBER", "Falconcrest") in {(f.kind, f.raw_text) for f in extended.detect(line, Policy.default())}
