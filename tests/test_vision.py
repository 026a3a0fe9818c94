"""Faces and codes in real photos: the CenterFace detector (model installed by make setup, on ONNX
Runtime) and the zxing-cpp code reader, with the masks and verification checks the
pipeline will use."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from phi_guard.errors import PolicyError
from phi_guard.policy import Policy, RedactPolicy
from phi_guard.redact import redact
from phi_guard.types import coverage
from phi_guard.vision import CodeDetector, CodePolicy, FaceDetector, FacePolicy
from phi_guard.vision import faces as faces_module
from phi_guard.vision.codes import content_kind

from conftest import DATA

ASTRONAUT_FACE = (180, 58, 270, 178)  # brows to chin, cheek to cheek (set by hand)
FILL = RedactPolicy(style="fill", fill_color=(0, 0, 0), padding_px=0, padding_ratio=0.0)
BLUR = RedactPolicy(style="blur", fill_color=(0, 0, 0), padding_px=0, padding_ratio=0.0)


@pytest.fixture(scope="module")
def faces() -> FaceDetector:
    return FaceDetector(threads=1)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return np.array(Image.open(DATA / "photos" / "astronaut.jpg").convert("RGB"))


def _covers(box, truth, fraction=0.9) -> bool:
    return coverage(truth, box) >= fraction


def test_portrait_face_found_and_padded_to_hair_and_ears(faces, astronaut):
    found = faces.detect(astronaut)
    assert len(found) == 1
    face = found[0]
    assert face.rotation == 0 and face.score >= 0.7
    assert _covers(face.box, ASTRONAUT_FACE, 1.0)
    # The mask reaches above the brows (hair) and past the cheeks (ears).
    assert face.box[1] < ASTRONAUT_FACE[1] - 30
    assert face.box[0] < ASTRONAUT_FACE[0] - 20 and face.box[2] > ASTRONAUT_FACE[2] + 20


@pytest.mark.parametrize("turns", [1, 2, 3])
def test_face_found_when_the_photo_is_turned(faces, astronaut, turns):
    """A patient photographed lying down: the face is found in its own upright frame
    and its mask turned back onto the photo."""
    turned = np.ascontiguousarray(np.rot90(astronaut, turns))
    found = faces.detect(turned)
    assert len(found) == 1
    h, w = astronaut.shape[:2]
    x0, y0, x1, y1 = ASTRONAUT_FACE
    truth = {1: (y0, w - x1, y1, w - x0), 2: (w - x1, h - y1, w - x0, h - y0), 3: (h - y1, x0, h - y0, x1)}[turns]
    assert _covers(found[0].box, truth, 1.0)
    assert found[0].rotation == (90 * turns) % 360 or found[0].rotation == (360 - 90 * turns) % 360


def test_small_and_partly_covered_faces(faces, astronaut):
    """A 28 px face (a portrait in the corner of a wound photo) and a face behind a
    surgical mask are both found."""
    coffee = np.array(Image.open(DATA / "photos" / "coffee.jpg").convert("RGB"))
    head = astronaut[15:225, 140:310]
    s = 28 / (ASTRONAUT_FACE[2] - ASTRONAUT_FACE[0])
    small = np.array(Image.fromarray(head).resize((round(head.shape[1] * s), round(head.shape[0] * s)), Image.LANCZOS))
    scene = coffee.copy()
    scene[300 : 300 + small.shape[0], 40 : 40 + small.shape[1]] = small
    truth = (40 + round((180 - 140) * s), 300 + round((58 - 15) * s), 40 + round((270 - 140) * s), 300 + round((178 - 15) * s))
    assert any(_covers(f.box, truth) for f in faces.detect(scene))

    masked = astronaut.copy()
    x0, y0, x1, y1 = ASTRONAUT_FACE
    masked[y0 + 60 : y1 + 5, x0 - 5 : x1 + 5] = (150, 200, 215)  # nose to chin
    assert any(_covers(f.box, ASTRONAUT_FACE) for f in faces.detect(masked))


def test_photos_with_no_person_have_no_face(faces):
    coffee = np.array(Image.open(DATA / "photos" / "coffee.jpg").convert("RGB"))
    assert faces.detect(coffee) == []
    # A clinical-looking close-up: skin with a wound and a paper ruler.
    rng = np.random.default_rng(3)
    skin = np.clip(np.array([190, 140, 105])[None, None] + rng.normal(0, 6, (480, 640, 3)), 0, 255).astype(np.uint8)
    img = Image.fromarray(skin)
    d = ImageDraw.Draw(img)
    d.ellipse((220, 160, 420, 300), fill=(170, 40, 45), outline=(60, 30, 25), width=8)
    d.rectangle((170, 340, 470, 368), fill=(240, 240, 235))
    for i in range(0, 300, 6):
        d.line((170 + i, 340, 170 + i, 340 + (12 if i % 30 == 0 else 6)), fill=(30, 30, 30))
    assert faces.detect(np.array(img)) == []


@pytest.mark.parametrize("policy", [FILL, BLUR], ids=["fill", "blur"])
def test_masked_face_is_no_longer_detected(faces, astronaut, policy):
    found = faces.detect(astronaut)
    masks = [f.box for f in found]
    # Unmasked, verification sees the face (so this test can fail)...
    assert faces.faces_outside_masks(astronaut, []) != []
    # ...masked (fill, or the redactor's strong blur), the detector no longer fires.
    out = redact(astronaut, masks, policy)
    assert faces.detect(out) == [] or faces.faces_outside_masks(out, masks) == []
    assert faces.faces_outside_masks(out, []) == []


def _finds_face(detector: FaceDetector, photo_name: str, truth: tuple[int, int, int, int]) -> bool:
    photo = np.array(Image.open(DATA / "photos" / photo_name).convert("RGB"))
    return any(_covers(f.box, truth) for f in detector.detect(photo))


def test_small_face_whose_heat_is_split_between_turns(faces, monkeypatch):
    """A 20 px upside-down face under a dressing (a generated ward photo): no turn of
    the overview gives it a heat-map peak of CANDIDATE_HEAT, two turns together do, and
    that earns it the close look that finds it."""
    truth = (493, 213, 513, 236)
    assert _finds_face(faces, "small_face_split_heat.png", truth)
    monkeypatch.setattr(faces_module, "SPLIT_HEAT", 10.0)  # no split-heat candidates
    monkeypatch.setattr(faces_module, "FAINT_HEAT", faces_module.CANDIDATE_HEAT)  # nor faint peaks
    assert not _finds_face(faces, "small_face_split_heat.png", truth)


def test_small_face_with_only_a_faint_overview_peak(faces, monkeypatch):
    """A 24 px dark face under a surgical mask, turned by 270 degrees (a generated wound
    photo): the overview gives it only a faint peak (under CANDIDATE_HEAT) that predicts
    a small face; the small look there finds it."""
    truth = (403, 393, 431, 417)
    assert _finds_face(faces, "small_face_faint_peak.png", truth)
    monkeypatch.setattr(faces_module, "FAINT_HEAT", faces_module.CANDIDATE_HEAT)  # peaks of the gate only
    assert not _finds_face(faces, "small_face_faint_peak.png", truth)


def test_face_found_by_a_small_look_where_a_large_guess_found_none(faces, monkeypatch):
    """A 56 px very dark face under a dressing, turned by 90 degrees (a generated photo):
    the close look at its overview peak's predicted width (about 60 px, over
    SMALL_LOOK_OVER times the small face) sees it only weakly and the closer look not
    at all; the small look at the same place, which enlarges it more, finds it."""
    truth = (174, 37, 248, 93)
    assert _finds_face(faces, "face_after_large_guess.png", truth)
    monkeypatch.setattr(faces_module, "SMALL_LOOK_OVER", 1e9)  # never a small look after a large guess
    assert not _finds_face(faces, "face_after_large_guess.png", truth)


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_heat_maps_of_the_turns_line_up(k):
    """A stride-4 map of a turned image, turned back, has its values in the image's
    own cells: a bright pixel lands in its cell (or the next, where the turn reversed
    an axis whose length is not a multiple of 4), for every remainder of the size."""
    for h, w in ((40, 44), (41, 45), (42, 46), (43, 47)):
        for y, x in ((5, 9), (22, 30), (h - 2, w - 3)):
            image = np.zeros((h, w))
            image[y, x] = 1.0
            turned = np.rot90(image, k)
            th, tw = turned.shape
            padded = np.zeros((-(-th // 4) * 4, -(-tw // 4) * 4))
            padded[:th, :tw] = turned
            cells = padded.reshape(padded.shape[0] // 4, 4, padded.shape[1] // 4, 4).max(axis=(1, 3))
            back = faces_module._turned_back(cells, k, h, w)
            assert back.shape == (-(-h // 4), -(-w // 4))
            cy, cx = np.unravel_index(int(np.argmax(back)), back.shape)
            assert abs(cy - y // 4) <= 1 and abs(cx - x // 4) <= 1
            if h % 4 == 0 and w % 4 == 0:
                assert (cy, cx) == (y // 4, x // 4)


def test_face_min_size_drops_tiny_faces(astronaut):
    """A face narrower than min_size is ignored (too small to identify anyone)."""
    tiny = np.array(Image.fromarray(astronaut).resize((128, 128), Image.LANCZOS))  # face ~22 px
    assert FaceDetector(FacePolicy(min_size=16), threads=1).detect(tiny)
    assert FaceDetector(FacePolicy(min_size=60), threads=1).detect(tiny) == []


def _font(size: int) -> ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default(size=size)


def _code(symbology: str, content: str, scale: int = 2) -> Image.Image:
    import zxingcpp

    barcode = zxingcpp.create_barcode(content, getattr(zxingcpp.BarcodeFormat, symbology))
    return Image.fromarray(np.array(zxingcpp.write_barcode_to_image(barcode, scale=scale))).convert("RGB")


def wristband(angle: float = 0.0) -> tuple[np.ndarray, dict[str, tuple[int, int, int, int]]]:
    """A generated wristband (printed name, MRN, DOB, a Code 128 and a QR code) on a
    skin-coloured background, turned by ``angle``; returns the image and the codes'
    true boxes (for angle 0)."""
    band = Image.new("RGB", (620, 150), (255, 255, 255))
    d = ImageDraw.Draw(band)
    for n, line in enumerate(["OKAFOR, Aisha", "MRN 40219877", "DOB 03/07/1961"]):
        d.text((12, 12 + n * 26), line, fill=(10, 10, 10), font=_font(18))
    c128 = _code("Code128", "MRN40219877")
    qr = _code("QRCode", "MRN:40219877;DOB:1961-07-03", scale=3)
    band.paste(c128, (200, 20))
    band.paste(qr, (620 - qr.width - 10, (150 - qr.height) // 2))
    boxes = {"Code128": (200, 20, 200 + c128.width, 20 + c128.height),
             "QRCode": (620 - qr.width - 10, (150 - qr.height) // 2, 610, (150 - qr.height) // 2 + qr.height)}
    scene = Image.new("RGB", (800, 600), (190, 140, 105))
    scene.paste(band, (90, 220))
    boxes = {k: (x0 + 90, y0 + 220, x1 + 90, y1 + 220) for k, (x0, y0, x1, y1) in boxes.items()}
    if angle:
        scene = scene.rotate(angle, resample=Image.BICUBIC, fillcolor=(190, 140, 105))
    return np.array(scene), boxes


def test_wristband_codes_found_decoded_and_only_their_kind_reported():
    img, truth = wristband()
    found = CodeDetector().detect(img)
    by_symbology = {c.symbology: c for c in found}
    assert set(by_symbology) == {"Code128", "QRCode"}
    for name, box in truth.items():
        code = by_symbology[name]
        assert code.decoded and code.kind == "mrn-like"
        assert _covers(code.box, box, 0.9)  # the truth includes the quiet zone
        # The decoded value is in memory for verification, never in the repr (logs).
        assert code.value and code.value not in repr(code)
    # A 1-D code's mask also covers the digits printed under its bars.
    c128 = by_symbology["Code128"]
    assert c128.box[3] > truth["Code128"][3] + 20


@pytest.mark.parametrize("angle", [90, 33, 180])
def test_wristband_codes_found_at_an_angle(angle):
    img, _ = wristband(angle)
    found = CodeDetector().detect(img)
    assert {"Code128", "QRCode"} <= {c.symbology for c in found}
    assert all(c.decoded for c in found)


def test_undecodable_barcode_is_still_masked():
    """A barcode torn so that no reader decodes it is reported (undecoded) and masked."""
    img, truth = wristband()
    x0, y0, x1, y1 = truth["Code128"]
    img[y0:y1, x0 + (x1 - x0) // 2 - 6 : x0 + (x1 - x0) // 2 + 6] = 255  # a white tear across the bars
    found = CodeDetector().detect(img)
    torn = [c for c in found if coverage(truth["Code128"], c.box) > 0.8]
    assert torn and not torn[0].decoded and torn[0].kind == "undecoded"
    assert CodeDetector(CodePolicy(mask_undecoded=False)).detect(img) != torn


def test_verification_sees_a_code_left_unmasked():
    img, _ = wristband()
    detector = CodeDetector()
    found = detector.detect(img)
    masks = [c.box for c in found]
    assert detector.decodable_codes(redact(img, masks, FILL), masks) == []
    # Remove one mask: verification finds a decodable code again.
    left = redact(img, masks[1:], FILL)
    assert [c.symbology for c in detector.decodable_codes(left, masks[1:])] == [found[0].symbology]


def test_photo_with_no_code_has_no_code():
    coffee = np.array(Image.open(DATA / "photos" / "coffee.jpg").convert("RGB"))
    assert CodeDetector().detect(coffee) == []
    assert CodeDetector().detect(np.array(Image.open(DATA / "photos" / "astronaut.jpg"))) == []


@pytest.mark.parametrize("text,kind", [
    ("40219877", "digits"), ("MRN40219877", "mrn-like"), ("MRN:40219877;DOB:1961-07-03", "mrn-like"),
    ("https://example.org/p?id=1", "url"), ("Aspirin 100 mg", "text"), ("", "empty"),
])
def test_content_kind(text, kind):
    assert content_kind(text) == kind


def test_policy_tables_are_range_checked():
    assert Policy.default().faces == FacePolicy() and Policy.default().codes == CodePolicy()
    assert Policy.from_table({"faces": {"action": "keep", "min_size": 30}}).faces.action == "keep"
    for bad in ({"action": "eyes-bar"}, {"min_size": 0}, {"score_threshold": 1.5}, {"rotations": "yes"}, {"min_sise": 20}):
        with pytest.raises(PolicyError):
            Policy.from_table({"faces": bad})
    assert Policy.from_table({"codes": {"action": "block"}}).blocking_kinds == {"BARCODE"}
    for bad in ({"action": "keep"}, {"padding": -1}, {"mask_undecoded": 1}):
        with pytest.raises(PolicyError):
            Policy.from_table({"codes": bad})


def _portrait_with_wristband() -> np.ndarray:
    astronaut = np.array(Image.open(DATA / "photos" / "astronaut.jpg").convert("RGB"))
    band, _ = wristband()
    scene = band.copy()
    scene[10:210, 560:760] = np.array(Image.fromarray(astronaut).resize((200, 200), Image.LANCZOS))  # above the band
    return scene


def _document(pixels: np.ndarray):
    import io

    from phi_guard.load import load_document

    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    return load_document(buf.getvalue(), Policy.default(), "scene.png")


def test_pictures_masks_faces_and_codes_and_verification_agrees():
    from phi_guard.vision import PictureDetectors, find_in_pictures, residual_picture_findings

    img = _portrait_with_wristband()
    detectors, policy = PictureDetectors(FaceDetector(threads=1), CodeDetector()), Policy.default()
    result = find_in_pictures(detectors, _document(img), policy)
    assert not result.kept
    kinds = sorted(f.kind for f in result.findings)
    assert kinds == ["BARCODE", "BARCODE", "FACE"]
    for f in result.findings:
        # Reports show the symbology and the kind of content, never the MRN.
        assert "40219877" not in f.masked_value and "40219877" not in repr(f)
        assert f.whole_object  # padded to the whole face or code already
    masks = [b for f in result.findings for b in f.boxes]
    assert residual_picture_findings(redact(img, masks, FILL), 0, masks, policy, detectors) == []
    # Without the face's mask, verification finds the face again.
    no_face = [b for f in result.findings if f.kind != "FACE" for b in f.boxes]
    assert [f.kind for f in residual_picture_findings(redact(img, no_face, FILL), 0, no_face, policy, detectors)] == ["FACE"]
    # Without a code's mask, verification finds the code still decodable.
    no_code = [b for f in result.findings if f.kind != "BARCODE" for b in f.boxes]
    assert "BARCODE" in {f.kind for f in residual_picture_findings(redact(img, no_code, FILL), 0, no_code, policy, detectors)}


def test_pictures_keep_action_and_grey_medical_images():
    from phi_guard.vision import PictureDetectors, find_in_pictures

    img = _portrait_with_wristband()
    detectors = PictureDetectors(FaceDetector(threads=1), CodeDetector())
    kept = find_in_pictures(detectors, _document(img), Policy.from_table({"faces": {"action": "keep"}}))
    assert [f.kind for f in kept.kept] == ["FACE"] and all(f.kind == "BARCODE" for f in kept.findings)
    assert any("kept" in n for n in kept.notes) and "kept" in kept.kept[0].masked_value
    coffee = np.array(Image.open(DATA / "photos" / "coffee.jpg").convert("RGB"))
    assert find_in_pictures(detectors, _document(coffee), Policy.default()).findings == ()
    # A document whose adapter says it is not photographic (a grey x-ray) is searched
    # for codes only.
    from dataclasses import replace

    xray_like = replace(_document(img), photographic=False)
    assert {f.kind for f in find_in_pictures(detectors, xray_like, Policy.default()).findings} == {"BARCODE"}
