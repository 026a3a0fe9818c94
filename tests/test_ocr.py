"""The OCR stage's own parts, with the real models: the lean PP-OCR runner reads
what was drawn where it was drawn, the Tesseract renderings, and the grey output
encoding that keeps verification fast."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from phi_guard.ocr import build_engine
from phi_guard.verify import VERIFY_SETTINGS
from phi_guard.ocr.ppocr import PpOcr
from phi_guard.ocr.preprocess import render_passes
from phi_guard.policy import Policy
from phi_guard.types import iou
from phi_guard.formats.photo.encode import encode_image

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def _font(size: int):
    try:
        return ImageFont.truetype(FONT, size)
    except OSError:
        return ImageFont.load_default(size=size)


def _overlay(words: list[str], size: int = 22, fg=(235, 235, 235), bg=(12, 12, 12), at=(40, 60), shape=(300, 900)):
    """A dark image with one line of light words; returns the pixels and each word's drawn box."""
    im = Image.new("RGB", shape[::-1], bg)
    d = ImageDraw.Draw(im)
    font = _font(size)
    x, y = at
    boxes = []
    for w in words:
        x0, y0, x1, y1 = d.textbbox((x, y), w, font=font)
        d.text((x, y), w, fill=fg, font=font)
        boxes.append((x0, y0, x1, y1))
        x = x1 + size  # one wide space between words
    return np.asarray(im), boxes


def _ctc_column_px(box) -> int:
    """Where a word starts and ends inside a line is known to one column of the
    recognizer's output (40 for a 320 px wide input): 8 px of its 48 px high input, in
    image pixels of this line."""
    return -(-8 * (box[3] - box[1]) // 48)


@pytest.fixture(scope="module")
def ppocr() -> PpOcr:
    return PpOcr(threads=1)


def test_ppocr_reads_words_where_they_were_drawn(ppocr):
    words = ["DOE^JANE", "03/14/2024", "MRN:", "00482913"]
    pixels, drawn = _overlay(words)
    lines = ppocr(pixels)
    read = [(t, box) for line in lines for t, _c, box in line.words]
    assert [t for t, _ in read] == words
    for (_t, box), truth in zip(read, drawn):
        # The word box covers the drawn glyphs (line height, a little wider).
        assert iou(box, truth) > 0.5, (box, truth)
        assert box[0] <= truth[0] + 3 and box[2] >= truth[2] - 3


def test_ppocr_small_low_contrast_text_and_boxes_in_input_coordinates(ppocr):
    # 10 px grey-on-dark text on a small image: the detector scales it up internally,
    # and the boxes come back in the input's coordinates.
    pixels, drawn = _overlay(["SMITH", "1961-04-02"], size=10, fg=(120, 120, 120), bg=(40, 40, 40), at=(20, 30), shape=(120, 260))
    lines = ppocr(pixels)
    read = {t: box for line in lines for t, _c, box in line.words}
    assert "SMITH" in read and "1961-04-02" in read
    assert iou(read["SMITH"], drawn[0]) > 0.4


def test_ppocr_skewed_line_maps_word_boxes_through_the_rotation(ppocr):
    pixels, _ = _overlay(["PATIENT", "NAME"], size=28, shape=(400, 700), at=(150, 180))
    rotated = np.asarray(Image.fromarray(pixels).rotate(8, resample=Image.BICUBIC, fillcolor=(12, 12, 12)))
    lines = ppocr(rotated)
    read = {t: box for line in lines for t, _c, box in line.words}
    assert {"PATIENT", "NAME"} <= set(read)
    # Left to right, on one tilted line: NAME sits right of and above PATIENT.
    assert read["NAME"][0] > read["PATIENT"][2] - 5
    assert read["NAME"][1] < read["PATIENT"][1]


def test_ppocr_blank_image_reads_nothing(ppocr):
    assert ppocr(np.full((200, 200, 3), 30, np.uint8)) == []


def test_rapid_engine_reports_low_confidence_lines_as_unreadable():
    engine = build_engine("rapidocr", min_confidence=0.999, threads=1)
    pixels, _ = _overlay(["Jane", "Doe"], size=12, fg=(70, 70, 70), bg=(40, 40, 40))
    reading = engine.read(pixels)
    # With the bar set that high, every line it detects is also listed as unreadable.
    assert reading.unreadable and all(r.confidence < 0.999 for r in reading.unreadable)


def test_verification_rendering_makes_light_text_dark():
    pixels, boxes = _overlay(["DOE"], size=24)
    (_name, rendering, scale), = render_passes(pixels, ("gray-dark-text",))
    x0, y0, x1, y1 = (int(v * scale) for v in boxes[0])
    assert rendering.mean() > 200  # background now light
    assert rendering[y0:y1, x0:x1].min() < 60  # glyphs now dark


def test_verify_engine_reads_light_text_on_a_dark_image():
    pixels, _ = _overlay(["PORTABLE", "UPRIGHT"], size=26)
    assert {"PORTABLE", "UPRIGHT"} <= {w.text for w in build_engine("tesseract", settings=VERIFY_SETTINGS).read(pixels).words}


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF", "BMP"])
def test_grey_rgb_is_encoded_as_one_grey_channel(fmt):
    rng = np.random.default_rng(1)
    grey = rng.integers(0, 255, (64, 80), dtype=np.uint8)
    rgb = np.repeat(grey[:, :, None], 3, axis=2)
    out = Image.open(io.BytesIO(encode_image(rgb, fmt, Policy.default())))
    assert out.mode == "L" and out.size == (80, 64)
    if fmt != "JPEG":
        assert np.array_equal(np.asarray(out), grey)  # lossless: same pixels


def test_colour_stays_colour():
    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[:, :, 0] = 200
    out = Image.open(io.BytesIO(encode_image(rgb, "PNG", Policy.default())))
    assert out.mode == "RGB" and np.array_equal(np.asarray(out), rgb)


@pytest.mark.parametrize("h, w", [(1760, 2140), (3024, 4032), (1601, 700), (5000, 1650), (1600, 1600)])
def test_tiles_cover_the_image_with_the_overlap_and_no_more_pixels_than_needed(h, w):
    """Large frames are read in tiles: every pixel is in a tile, no tile is larger than
    the tile size, neighbours overlap by at least the overlap (a word that long lies
    whole in one of them), and the tiles are as few as that allows (a 2140x1760 DICOM
    was once read as four full 1600 px tiles, 2.7x its pixels)."""
    import math

    from phi_guard.ocr.registry import _tiles

    size, overlap = 1600, 256
    tiles = _tiles(h, w, size, overlap)
    covered = np.zeros((h, w), bool)
    for x0, y0, x1, y1 in tiles:
        assert x1 - x0 <= size and y1 - y0 <= size
        covered[y0:y1, x0:x1] = True
    assert covered.all()
    xs = sorted({(x0, x1) for x0, _, x1, _ in tiles})
    ys = sorted({(y0, y1) for _, y0, _, y1 in tiles})
    for spans in (xs, ys):
        assert all(a[1] - b[0] >= overlap for a, b in zip(spans, spans[1:]))

    def fewest(length: int) -> int:
        return 1 if length <= size else math.ceil((length - overlap) / (size - overlap))

    if max(h, w) > size:
        assert len(xs) == fewest(w) and len(ys) == fewest(h)
        # Equal tiles: no more pixels than the image and the overlaps between them.
        needed = (w + (len(xs) - 1) * (overlap + 1)) * (h + (len(ys) - 1) * (overlap + 1))
        assert sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in tiles) <= needed


@pytest.mark.parametrize("at", [(1500, 900), (300, 1500)])
def test_a_spaced_line_of_small_words_in_a_large_empty_screenshot_is_found(at):
    """A 4K screenshot, white, two lines of 11 px text. In the 1451x1208 tile holding the
    second line, the detector's probability in the line's rectangle averaged 0.43 (the
    gaps between its words), under the 0.5 a line needs, and the line was never read:
    its referring doctor and phone number were left. Inside the line's own outline it
    averaged 0.59; either now counts."""
    from phi_guard.ocr.registry import read_frame

    im = Image.new("RGB", (3840, 2160), (255, 255, 255))
    d = ImageDraw.Draw(im)
    d.text((200, 300), "Patient: Zebulon Quackenbush  DOB: 03/14/1985  MRN:48213377", fill=(0, 0, 0), font=_font(11))
    d.text(at, "Referring: Dr Maria Gonzalez   Ward 7B   Phone 555-201-7788", fill=(0, 0, 0), font=_font(11))
    words = " ".join(w.text for w in read_frame([build_engine("rapidocr", threads=1)], np.asarray(im)).words)
    assert "Gonzalez" in words and "555-201-7788" in words, words


def test_the_int8_detector_runs_when_asked_and_finds_what_the_float_one_does():
    """`make setup` makes an int8 copy of the text detector; RapidOCR runs it when the
    policy asks (ocr.int8_detector, off by default), and both find small, faint words in
    the same place."""
    from phi_guard.ocr.ppocr import DET_MODEL, quantized_model_path

    assert quantized_model_path(DET_MODEL).is_file(), "make setup makes the int8 detector"
    int8, float32 = PpOcr(threads=1, int8_detector=True), PpOcr(threads=1)
    assert int8.model_files[0].startswith("PP-OCRv6_det_small.int8.onnx (sha256 ") and not any(".int8." in f for f in float32.model_files)
    assert ".int8.onnx" in build_engine("rapidocr", threads=1, int8_detector=True).version()
    assert not Policy.default().ocr.int8_detector
    assert ".int8." not in build_engine("rapidocr", threads=1).version()
    words = ["DOE^JANE", "03/14/2024", "MRN:", "00482913"]
    pixels, drawn = _overlay(words, size=14, fg=(150, 150, 150), bg=(90, 90, 90))  # small and faint
    readings = []
    for engine in (int8, float32):
        read = {t: box for line in engine(pixels) for t, _c, box in line.words}
        # The int8 copy may also read a fragment between words (here a ")" in a gap):
        # the spurious text docs/benchmarks.md reports. Every drawn word is read.
        assert all(w in read for w in words), (engine.model_files, read)
        for w, truth in zip(words, drawn):
            # Each word box covers its glyphs to one CTC column, and reaches at most two
            # columns past them (a box of the whole line would not).
            box, col = read[w], _ctc_column_px(read[w])
            assert box[1] <= truth[1] and box[3] >= truth[3], (box, truth)
            assert truth[0] - 2 * col <= box[0] <= truth[0] + col and truth[2] - col <= box[2] <= truth[2] + 2 * col, (box, truth, col)
        readings.append([read[w] for w in words])
    assert list(read) == words  # the float model reads the drawn words and nothing else
    # The two place each word alike, to a CTC column and a pixel.
    assert all(max(abs(a - b) for a, b in zip(q, f)) <= _ctc_column_px(f) + 1 for q, f in zip(*readings)), readings


def test_an_int8_copy_of_another_model_is_not_run(tmp_path, monkeypatch):
    """A copy whose note names another float model (rapidocr upgraded since `make setup`),
    a copy changed since its note was written, or a copy without a note is left: the
    installed float model runs. Reports name the copy with its digest."""
    import hashlib
    import json

    from phi_guard.ocr import ppocr

    copy = tmp_path / "det.int8.onnx"
    copy.write_bytes(b"a copy")
    monkeypatch.setattr(ppocr, "quantized_model_path", lambda model: copy)
    float_model = ppocr.models_dir() / ppocr.DET_MODEL
    float_sha = hashlib.sha256(float_model.read_bytes()).hexdigest()
    copy_sha = hashlib.sha256(b"a copy").hexdigest()

    def run(note: dict | None) -> tuple:
        if note is not None:
            copy.with_suffix(".json").write_text(json.dumps(note))
        ppocr._model_to_run.cache_clear()  # it is cached per process
        try:
            return ppocr._model_to_run(ppocr.DET_MODEL, True)
        finally:
            ppocr._model_to_run.cache_clear()

    assert run(None)[0] == float_model  # no note
    assert run({"source_sha256": "0" * 64, "sha256": copy_sha})[0] == float_model  # another float model
    assert run({"source_sha256": float_sha, "sha256": "0" * 64})[0] == float_model  # the copy changed
    assert run({"source_sha256": float_sha})[0] == float_model  # a note without the copy's digest
    assert run({"source_sha256": float_sha, "sha256": copy_sha}) == (copy, f"det.int8.onnx (sha256 {copy_sha[:12]})")
    assert ppocr._model_to_run(ppocr.DET_MODEL, False)[0] == float_model


def test_screeners_of_policies_with_and_without_the_int8_detector_are_not_shared():
    """shared_screener keeps one Screener per engine setting: a policy that turns the
    int8 detector on must not hand it to a later default-policy screen (web, batch)."""
    from phi_guard.pipeline import shared_screener

    int8 = shared_screener(Policy.from_table({"ocr": {"int8_detector": True}}), threads=1)
    default = shared_screener(Policy.default(), threads=1)
    assert int8 is not default
    assert ".int8.onnx" in int8.engine_versions["ocr"] and ".int8." not in default.engine_versions["ocr"]
