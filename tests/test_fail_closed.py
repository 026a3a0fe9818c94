"""Fail closed, branch by branch: verification that keeps finding text (a second round,
then BLOCK), every block branch of ``decide``, an engine or encoder failing
mid-screen (nothing written), ``include_phi``, and the web time limit.

OCR engines are injected (``Screener(ocr_engines=..., verify_engines=...)``) so each
test controls exactly what is "read"; the detector, the decision, redaction,
encoding and verification are the real ones."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from phi_guard import Policy, Screener, Verdict
from phi_guard.decide import decide
from phi_guard.errors import EngineError, InputError
from phi_guard.types import Finding, MetadataItem

from engines import BlindEngine, FailingEngine, ScriptedEngine
from hostile import tree_digest

NAME_WORDS = [("SMITH,", (20, 20, 90, 40)), ("JOHN", (95, 20, 150, 40))]
DOB_WORDS = [("DOB", (20, 100, 60, 120)), ("03/14/1961", (65, 100, 180, 120))]


def _png(h: int = 200, w: int = 400) -> bytes:
    pixels = np.random.default_rng(0).integers(90, 110, (h, w)).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    return buf.getvalue()


class ReadsOnlyFirst(ScriptedEngine):
    """Reads its words on the first ``n`` calls, then nothing: text that the first
    redaction round missed and the second one masks."""

    def __init__(self, words, n: int, name: str) -> None:  # noqa: ANN001
        super().__init__(words, name)
        self.n = n

    def read(self, image, tag=""):  # noqa: ANN001, ANN201
        if self.calls >= self.n:
            self.calls += 1
            return BlindEngine.read(self, image, tag)
        return super().read(image, tag)


@pytest.fixture(scope="module")
def detector(screener):
    return screener.detector


def _screener(detector, ocr=None, verify=None) -> Screener:  # noqa: ANN001
    return Screener(ocr_engines=ocr or [BlindEngine("rapidocr")],
                    verify_engines=verify or [BlindEngine("tesseract"), BlindEngine("rapidocr")], detector=detector)


# -- verification ---------------------------------------------------------------------
# By default an output equal to its input outside solid masks is re-read around the
# masks and where it changed (docs/design.md); ``verify.full_reread`` re-reads it all.
# The first three tests use the full re-read (a reader that sees what screening missed
# anywhere); the next ones the default, with masks missing, shifted or left short.

FULL_REREAD = {"verify": {"full_reread": True}}


def test_verification_keeps_finding_a_name_second_round_then_block(detector):
    """Screening reads nothing; verification reads a name on every pass. Round 1
    masks nothing, round 2 masks the name, verification still reads it: BLOCKED,
    nothing to write."""
    verify = ScriptedEngine(NAME_WORDS, "tesseract")
    s = _screener(detector, verify=[verify, BlindEngine("rapidocr")])
    result = s.screen(_png(), policy=Policy.from_table(FULL_REREAD))
    assert result.verdict is Verdict.BLOCKED
    assert result.safe_bytes is None and result.output_format is None
    v = result.report["verification"]
    assert v["rounds"] == 2 == Policy.default().verify.max_rounds
    assert v["passed"] is False and v["residual_kinds"] == ["PERSON"] and v["reread"] == "full"
    assert any("still readable after 2 redaction round(s): PERSON" in r for r in result.reasons)
    assert not result.report["redactions"]["boxes"]  # a blocked report lists no masks
    assert verify.calls >= 2  # the output was re-read in each round
    with pytest.raises(Exception, match="blocked"):
        result.save("/nonexistent/never-written.png")


def test_residual_found_in_round_one_is_masked_in_round_two(detector):
    """Verification reads a date the screening pass missed, once: round 2 masks it,
    verification passes, and the output has the date's box filled."""
    s = _screener(detector, verify=[ReadsOnlyFirst(DOB_WORDS, 1, "tesseract"), BlindEngine("rapidocr")])
    result = s.screen(_png(), policy=Policy.from_table(FULL_REREAD))
    assert result.verdict is Verdict.REDACTED, result.reasons
    v = result.report["verification"]
    assert v["rounds"] == 2 and v["passed"] is True
    assert {f.kind for f in result.findings} == {"DATE_OF_BIRTH"}
    out = np.asarray(Image.open(io.BytesIO(result.safe_bytes)).convert("L"))
    assert (out[100:120, 65:180] == 0).all()  # the date's box, filled black
    assert out[150:190, 250:390].min() >= 90  # elsewhere untouched


def test_max_rounds_one_blocks_on_the_first_residual(detector):
    policy = Policy.from_table({"verify": {"max_rounds": 1, "full_reread": True}})
    s = _screener(detector, verify=[ReadsOnlyFirst(DOB_WORDS, 1, "tesseract"), BlindEngine("rapidocr")])
    result = s.screen(_png(), policy=policy)
    assert result.verdict is Verdict.BLOCKED and result.safe_bytes is None
    assert result.report["verification"]["rounds"] == 1


def test_name_still_read_beside_a_mask_blocks(detector):
    """Default (focused) verification: screening masks a date; the re-read around the
    mask reads a name beside it on every pass. Round 2 masks it, it is still read:
    BLOCKED. (The crop's reader reports the name at the same place in every crop, so
    the mask never lands on it.)"""
    verify = ScriptedEngine(NAME_WORDS, "tesseract")
    s = _screener(detector, ocr=[ScriptedEngine(DOB_WORDS, "rapidocr")], verify=[verify, BlindEngine("rapidocr")])
    result = s.screen(_png())
    assert result.verdict is Verdict.BLOCKED and result.safe_bytes is None
    v = result.report["verification"]
    assert v["rounds"] == 2 and v["residual_kinds"] == ["PERSON"] and v["reread"] == "around masks and changes"
    assert verify.calls >= 2


def test_clean_output_equal_to_its_input_is_not_read_again(detector):
    """Nothing masked and the output equals the input: there is nothing to re-read."""
    verify = ScriptedEngine(NAME_WORDS, "tesseract")
    s = _screener(detector, verify=[verify, BlindEngine("rapidocr")])
    result = s.screen(_png())
    assert result.verdict is Verdict.CLEAN and verify.calls == 0
    assert result.report["verification"]["reread"] == "around masks and changes"


@pytest.mark.parametrize("tamper", ["dropped", "shifted"])
def test_a_mask_dropped_or_shifted_by_the_encoder_blocks(detector, monkeypatch, tamper):
    """The encoder leaves a mask out, or paints it 60 px off: the output's mask region
    is not solid (and differs from the input outside the masks): BLOCKED, nothing written,
    whatever the re-reading engines see."""
    import phi_guard.formats.photo as photo_adapter

    real = photo_adapter.redact

    def tampered(image, boxes, policy):  # noqa: ANN001, ANN202
        if tamper == "dropped":
            return image.copy()
        return real(image, [(x0 + 60, y0, x1 + 60, y1) for x0, y0, x1, y1 in boxes], policy)

    monkeypatch.setattr(photo_adapter, "redact", tampered)
    s = _screener(detector, ocr=[ScriptedEngine(DOB_WORDS, "rapidocr")])
    result = s.screen(_png())
    assert result.verdict is Verdict.BLOCKED and result.safe_bytes is None
    assert any("not solid" in p for p in result.report["verification"]["problems"])


# -- every block branch of decide -------------------------------------------------------

@pytest.mark.parametrize(
    "table,ocr_kwargs,reason",
    [
        ({"block": {"kinds": ["PERSON"]}}, {"words": NAME_WORDS}, "policy blocks images containing PERSON"),
        ({"ocr": {"unreadable_text": "block"}}, {"words": [], "unreadable": [(200, 150, 300, 170)]},
         "1 text region(s) could not be read with confidence"),
        ({"block": {"max_pixel_findings": 1}}, {"words": NAME_WORDS + DOB_WORDS}, "too many identifiers in the image (2 > 1)"),
        ({"block": {"max_masked_fraction": 0.01}}, {"words": DOB_WORDS}, "redaction would cover"),
    ],
    ids=["blocked-kind", "unreadable-text", "too-many-findings", "masked-fraction"],
)
def test_each_block_branch_blocks_and_writes_nothing(detector, table, ocr_kwargs, reason):
    policy = Policy.from_table(table)
    s = _screener(detector, ocr=[ScriptedEngine(name="rapidocr", **ocr_kwargs)])
    result = s.screen(_png(), policy=policy)
    assert result.verdict is Verdict.BLOCKED
    assert result.safe_bytes is None
    assert any(reason in r for r in result.reasons), result.reasons
    assert result.report["verification"]["rounds"] == 0  # nothing was encoded to verify
    # the same image under the default policy is redacted: the branch, not the image, blocks
    default = s.screen(_png())
    assert default.verdict is Verdict.REDACTED, default.reasons


def _finding(kind: str, box=(0, 0, 10, 10)) -> Finding:  # noqa: ANN001
    return Finding(kind=kind, masked_value="***", boxes=(box,), score=0.9, rule="test")


def test_decide_order_and_boundaries():
    """The branches in order, at their limits (the pipeline tests above show each
    blocks end to end)."""
    p = Policy.from_table({"block": {"max_pixel_findings": 2, "max_masked_fraction": 0.25}})
    meta = [MetadataItem(carrier="EXIF", key="Artist", masked_value="***")]
    two = [_finding("PERSON"), _finding("DATE")]
    assert decide(two, meta, [(0, 0, 10, 10)], 100, 100, p).verdict is Verdict.REDACTED  # at the limit: allowed
    three = two + [_finding("DATE")]
    d = decide(three, meta, [(0, 0, 10, 10)], 100, 100, p)
    assert d.verdict is Verdict.BLOCKED and "(3 > 2)" in d.reasons[-1]
    assert d.reasons[0] == "metadata removed: EXIF (1)"  # what was removed is still reported
    # exactly 25% covered is allowed; one pixel row more is not
    assert decide(two, [], [(0, 0, 100, 25)], 100, 100, p).verdict is Verdict.REDACTED
    assert decide(two, [], [(0, 0, 100, 26)], 100, 100, p).verdict is Verdict.BLOCKED
    # unreadable text counts as neither an identifier nor a block, unless the policy says so
    unread = [_finding("UNREADABLE_TEXT")] * 3
    assert decide(unread, [], [], 100, 100, p).verdict is Verdict.REDACTED
    blocky = Policy.from_table({"ocr": {"unreadable_text": "block"}})
    assert decide(unread, [], [], 100, 100, blocky).verdict is Verdict.BLOCKED
    # a blocked kind wins over everything after it
    kinds = Policy.from_table({"block": {"kinds": ["DATE"], "max_pixel_findings": 0}})
    assert "policy blocks images containing DATE" in decide(two, [], [], 100, 100, kinds).reasons[-1]
    assert decide([], meta, [], 100, 100, p).verdict is Verdict.CLEAN


# -- failures mid-screen: nothing written -----------------------------------------------

@pytest.mark.parametrize("where", ["screening OCR", "verification OCR"])
def test_engine_exception_mid_screen_fails_closed(detector, tmp_path, where):
    src = tmp_path / "in.png"
    src.write_bytes(_png())
    before = tree_digest(tmp_path)
    boom = FailingEngine(1, name="rapidocr" if where == "screening OCR" else "tesseract")
    # Verification re-reads around the masks: the screening pass finds a date to mask.
    s = _screener(detector, ocr=[boom] if where == "screening OCR" else [ScriptedEngine(DOB_WORDS, "rapidocr")],
                  verify=[boom, BlindEngine("rapidocr")] if where == "verification OCR" else None)
    with pytest.raises(EngineError, match="screening failed unexpectedly \\(RuntimeError\\); nothing was written"):
        s.screen(src)
    assert boom.calls == 1
    assert tree_digest(tmp_path) == before


def test_encoder_exception_fails_closed(detector, tmp_path, monkeypatch):
    import phi_guard.formats.photo as photo_adapter

    def broken_encoder(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise OSError("encoder crashed")

    monkeypatch.setattr(photo_adapter, "encode_image", broken_encoder)
    src = tmp_path / "in.png"
    src.write_bytes(_png())
    before = tree_digest(tmp_path)
    s = _screener(detector, ocr=[ScriptedEngine(DOB_WORDS, "rapidocr")])
    with pytest.raises(EngineError, match="OSError"):
        s.screen(src)
    assert tree_digest(tmp_path) == before


def test_out_of_memory_mid_screen_is_a_typed_input_error(detector):
    s = _screener(detector, ocr=[FailingEngine(1, MemoryError(), name="rapidocr")])
    with pytest.raises(InputError, match="too large to screen in the available memory"):
        s.screen(_png())


# -- include_phi ------------------------------------------------------------------------

def test_include_phi_puts_raw_values_in_the_report_only_when_asked(detector):
    s = _screener(detector, ocr=[ScriptedEngine(NAME_WORDS + DOB_WORDS, "rapidocr")])
    plain = s.screen(_png())
    text = json.dumps(plain.report)
    assert "SMITH" not in text and "JOHN" not in text and "1961" not in text
    assert all("value" not in f for f in plain.report["findings"])
    assert {f["masked_value"] for f in plain.report["findings"]} >= {"*****, ****", "##/##/####"}
    audit = s.screen(_png(), policy=Policy.from_table({"report": {"include_phi": True}}))
    values = {f["kind"]: f.get("value") for f in audit.report["findings"]}
    assert values["PERSON"] == "SMITH, JOHN" and values["DATE_OF_BIRTH"] == "03/14/1961"
    # the image output is the same either way
    assert audit.safe_bytes == plain.safe_bytes


# -- the web time limit -----------------------------------------------------------------

def test_web_time_limit_answers_504_in_the_documented_shape(samples):
    """A screen that outlasts ``time_limit_s`` (here: the first one, which also builds
    the engines) is a 504 with the documented error shape, and the server goes on."""
    from fastapi.testclient import TestClient

    from phi_guard.web import create_app
    from phi_guard.web.app import ServerConfig

    with TestClient(create_app(ServerConfig(workers=1, time_limit_s=0.2), warm_up=False)) as c:
        with open(samples / "xray_overlay.png", "rb") as fh:
            r = c.post("/v1/screen", files={"file": ("x.png", fh, "image/png")})
        assert r.status_code == 504
        assert set(r.json()) == {"error"} and r.json()["error"]["code"] == "timeout"
        assert r.json()["error"]["message"].startswith("screening took longer than")
        assert "image" not in r.json()
        assert c.get("/healthz").json()["status"] == "ok"
