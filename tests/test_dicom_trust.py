"""Issue 14, DICOM items: nothing of a DICOM output goes unscreened (bits above
Bits Stored, bytes past the frames, overlays that cannot be decoded, broken VOI
LUTs reported), header values never reach error messages, and the [dicom]
settings do what they say."""
from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pydicom
import pytest

from phi_guard import Policy
from phi_guard.errors import MalformedDicomError
from phi_guard.load import load_document

from dicom_builder import PATIENT_ID, PATIENT_NAME, dataset, to_bytes, with_overlay, with_raw

PLANTED = "Zebulon Quackenbush"


# -- item 8: header values never in error messages -----------------------------------
@pytest.mark.parametrize("keyword,attribute", [
    ("NumberOfFrames", "NumberOfFrames"), ("PhotometricInterpretation", "PhotometricInterpretation"),
    ("Rows", "Rows"), ("SamplesPerPixel", "SamplesPerPixel"), ("BitsStored", None),
])
def test_error_names_the_attribute_never_its_value(keyword, attribute):
    data = to_bytes(with_raw(dataset(), **{keyword: PLANTED}))
    with pytest.raises(MalformedDicomError) as exc:
        load_document(data, Policy.default(), "scan.dcm")
    message = str(exc.value)
    assert message.startswith("scan.dcm: ")
    for part in ("Zebulon", "Quackenbush", "25946"):  # 25946: the value's first two bytes read as US
        assert part.lower() not in message.lower(), message
    if attribute:
        assert attribute in message, message


def test_cli_error_and_report_carry_no_header_value(tmp_path):
    src = tmp_path / "scan.dcm"
    src.write_bytes(to_bytes(with_raw(dataset(), NumberOfFrames=PLANTED)))
    report = tmp_path / "r.json"
    run = subprocess.run([sys.executable, "-m", "phi_guard.cli", "check", str(src), "--report", str(report)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 2, run.stderr
    assert "NumberOfFrames" in run.stderr
    text = run.stdout + run.stderr + (report.read_text() if report.exists() else "")
    assert "Zebulon" not in text and "Quackenbush" not in text, text


# -- item 7: bytes in Pixel Data past the frames are never carried -------------------
PLANTED_BYTES = f" {PATIENT_NAME} {PATIENT_ID} ".encode()


def _planted(n: int) -> bytes:
    """``n`` bytes (even) of the patient's name and MRN, repeated."""
    return (PLANTED_BYTES * (n // len(PLANTED_BYTES) + 1))[: n - n % 2]


def _no_planted_bytes(data: bytes) -> None:
    assert PATIENT_NAME.encode() not in data and PATIENT_ID.encode() not in data


def test_native_pixel_data_three_times_too_long_is_trimmed(screener):
    ds = dataset()
    need = len(ds.PixelData)
    ds.PixelData = ds.PixelData + _planted(2 * need)
    src = to_bytes(ds)
    result = screener.screen(src, name="long.dcm")
    assert result.safe_bytes is not None, result.reasons
    _no_planted_bytes(result.safe_bytes)
    out = pydicom.dcmread(io.BytesIO(result.safe_bytes))
    assert len(out.PixelData) == need
    assert np.array_equal(out.pixel_array, dataset().pixel_array)  # the picture itself unchanged
    assert any("Pixel Data" in n and "trimmed" in n for n in result.report["notes"]), result.report["notes"]


def _encapsulated_with_planted_bytes(src: pydicom.Dataset) -> bytes:
    """``src`` (compressed) with the name and MRN after the end of its codestream, and in
    an extra fragment."""
    from pydicom.encaps import encapsulate, generate_frames

    frames = list(generate_frames(src.PixelData, number_of_frames=int(getattr(src, "NumberOfFrames", 1) or 1)))
    frames[-1] = frames[-1] + _planted(200)
    data = encapsulate(frames, has_bot=False)
    extra = _planted(64)
    src.PixelData = data + b"\xfe\xff\x00\xe0" + len(extra).to_bytes(4, "little") + extra
    src["PixelData"].is_undefined_length = True
    return to_bytes(src)


def test_rle_fragments_past_the_codestream_are_dropped(screener):
    from pydicom.uid import RLELossless

    ds = dataset()
    ds.compress(RLELossless, generate_instance_uid=False)
    result = screener.screen(_encapsulated_with_planted_bytes(ds), name="rle.dcm")
    assert result.safe_bytes is not None, result.reasons
    _no_planted_bytes(result.safe_bytes)
    out = pydicom.dcmread(io.BytesIO(result.safe_bytes))
    assert np.array_equal(out.pixel_array, dataset().pixel_array)


def test_jpeg_bytes_after_the_end_of_image_are_dropped(screener):
    from conftest import DATA

    ds = pydicom.dcmread(DATA / "dicom" / "JPGLosslessP14SV1_1s_1f_8b.dcm")
    expected = ds.pixel_array.copy()
    ds.PatientName, ds.PatientID = PATIENT_NAME, PATIENT_ID
    result = screener.screen(_encapsulated_with_planted_bytes(ds), name="jpeg.dcm")
    assert result.safe_bytes is not None, result.reasons
    _no_planted_bytes(result.safe_bytes)
    out = pydicom.dcmread(io.BytesIO(result.safe_bytes))
    boxes = result.report["redactions"]["boxes"]
    if not boxes:  # pixels unchanged: the codestream is carried, cut at its end
        assert out.file_meta.TransferSyntaxUID == ds.file_meta.TransferSyntaxUID  # still JPEG lossless
    # This echo's measurement text is masked as unreadable when not read with confidence:
    # outside the masks every pixel is the input's.
    outside = np.ones(expected.shape[:2], bool)
    for x0, y0, x1, y1 in boxes:
        outside[y0:y1, x0:x1] = False
    assert np.array_equal(out.pixel_array[outside], expected[outside])


def _adapter_steps(data: bytes) -> tuple:
    from phi_guard.formats.dicom import DicomAdapter

    adapter, policy = DicomAdapter(), Policy.default()
    doc = adapter.open(data, "x.dcm", policy)
    metadata = adapter.strip_metadata(doc, policy, lambda text, terms: [])
    return adapter, policy, doc, metadata


def test_verification_refuses_bytes_past_the_frames():
    from phi_guard.formats.base import Encoded

    adapter, policy, doc, metadata = _adapter_steps(to_bytes(dataset()))
    encoded = adapter.encode(doc, metadata, [], policy, "DICOM")
    assert adapter.check_output(encoded, doc, metadata, [], policy).problems == ()
    ds = pydicom.dcmread(io.BytesIO(encoded.data))
    ds.PixelData = ds.PixelData + _planted(64)
    tampered = Encoded(to_bytes(ds), "DICOM", encoded.note)
    problems = adapter.check_output(tampered, doc, metadata, [], policy).problems
    assert any("Pixel Data" in p for p in problems), problems


# -- item 6: pixels outside what was screened ------------------------------------------
def _text_plane(shape: tuple[int, int]) -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFont

    im = Image.new("L", (shape[1], shape[0]), 0)
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 26)
    draw = ImageDraw.Draw(im)
    draw.text((20, 20), "SMITH, JOHN", fill=255, font=font)
    draw.text((20, 70), "DOB 03/14/1961", fill=255, font=font)
    return np.asarray(im) > 128


def _high_bit_overlay_dicom() -> tuple[bytes, np.ndarray]:
    """12 of 16 bits stored; a name and a birth date in bit 12, described as the
    retired kind of overlay (60xx with a bit position and no Overlay Data)."""
    from dicom_builder import smooth_pixels

    pixels = smooth_pixels(200, 400)
    text = _text_plane(pixels.shape)
    stored = pixels | (text.astype(np.uint16) << 12)
    ds = dataset(pixels)
    ds.PixelData = stored.astype("<u2").tobytes()
    ds.add_new(0x60000010, "US", 200)  # OverlayRows
    ds.add_new(0x60000011, "US", 400)  # OverlayColumns
    ds.add_new(0x60000040, "CS", "G")  # OverlayType
    ds.add_new(0x60000050, "SS", [1, 1])  # OverlayOrigin
    ds.add_new(0x60000100, "US", 16)  # OverlayBitsAllocated
    ds.add_new(0x60000102, "US", 12)  # OverlayBitPosition
    return to_bytes(ds), text


def test_overlay_in_high_bits_is_read_and_cleared(screener):
    data, text = _high_bit_overlay_dicom()
    result = screener.screen(data, name="hibit.dcm")
    overlay = [f for f in result.findings if f.where.value == "overlay"]
    assert "PERSON" in {f.kind for f in overlay}, [(f.kind, f.where.value) for f in result.findings]
    assert not any("could not be decoded" in n for n in result.report["notes"]), result.report["notes"]
    assert result.safe_bytes is not None, result.reasons
    out = pydicom.dcmread(io.BytesIO(result.safe_bytes))
    raw = np.frombuffer(out.PixelData, "<u2")[: 200 * 400]
    assert int((raw >> 12).max()) == 0  # nothing above Bits Stored in the output
    assert not any(0x6000 <= e.tag.group <= 0x601E for e in out)


def test_unused_high_bits_are_cleared_when_nothing_else_changes(screener):
    """No overlay described: bits above Bits Stored still never reach the output."""
    from dicom_builder import smooth_pixels

    pixels = smooth_pixels()
    ds = dataset(pixels)
    ds.PixelData = (pixels | (_text_plane(pixels.shape).astype(np.uint16) << 14)).astype("<u2").tobytes()
    result = screener.screen(to_bytes(ds), name="bits.dcm")
    assert result.safe_bytes is not None, result.reasons
    out = pydicom.dcmread(io.BytesIO(result.safe_bytes))
    assert int((np.frombuffer(out.PixelData, "<u2") >> 12).max()) == 0
    assert np.array_equal(out.pixel_array, pixels)


def _undecodable_overlay_dicom() -> bytes:
    # far too short for 128 x 192 bits
    return to_bytes(with_overlay(dataset(), 0x6002, b"\x00\x01" * 10))


def test_undecodable_overlay_is_reported_as_not_screened(screener):
    data = _undecodable_overlay_dicom()
    result = screener.screen(data, name="ovl.dcm")
    assert any("6002" in n and "not screened" in n for n in result.report["notes"]), result.report["notes"]
    assert result.safe_bytes is not None, result.reasons
    assert not any(e.tag.group == 0x6002 for e in pydicom.dcmread(io.BytesIO(result.safe_bytes)))
    keep = Policy.from_table({"dicom": {"remove_overlays": False}})
    kept = screener.screen(data, policy=keep, name="ovl.dcm")
    assert kept.blocked and kept.safe_bytes is None
    assert any("not screened" in r for r in kept.reasons), kept.reasons


def test_broken_voi_lut_fallback_is_noted():
    data = to_bytes(with_raw(dataset(), WindowCenter=PLANTED, WindowWidth="400"))
    doc = load_document(data, Policy.default(), "voi.dcm")
    notes = " ".join(doc.notes)
    assert "WindowCenter" in notes and "min-max" in notes, doc.notes
    assert "Zebulon" not in notes


# -- item 13: settings do what they say --------------------------------------------------
def _with_plain_overlay() -> bytes:
    """The gradient with a 6000 overlay plane holding a box (no text) and a label."""
    from pydicom.pixels import pack_bits

    plane = np.zeros((128, 192), np.uint8)
    plane[40:80, 60:120] = 1
    ds = with_overlay(dataset(), 0x6000, pack_bits(plane))
    ds.add_new(0x60001500, "LO", "QUACKENBUSH ROI")  # OverlayLabel: free text, never kept
    return to_bytes(ds)


def test_remove_overlays_false_keeps_the_screened_overlay(screener):
    data = _with_plain_overlay()
    keep = Policy.from_table({"dicom": {"remove_overlays": False}})
    kept = screener.screen(data, policy=keep, name="ovl.dcm")
    assert kept.safe_bytes is not None, kept.reasons
    out = pydicom.dcmread(io.BytesIO(kept.safe_bytes))
    assert (0x6000, 0x3000) in out and np.array_equal(out.overlay_array(0x6000), pydicom.dcmread(io.BytesIO(data)).overlay_array(0x6000))
    assert (0x6000, 0x1500) not in out and b"QUACKENBUSH" not in kept.safe_bytes.upper()
    removed = screener.screen(data, name="ovl.dcm")
    assert not any(e.tag.group == 0x6000 for e in pydicom.dcmread(io.BytesIO(removed.safe_bytes)))


def test_option_tables_name_real_attributes():
    from pydicom.datadict import keyword_for_tag

    from phi_guard.formats.dicom.profile import DESCRIPTORS, DEVICE_IDENTITY, PATIENT_CHARACTERISTICS

    for table in (DEVICE_IDENTITY, PATIENT_CHARACTERISTICS, DESCRIPTORS):
        assert all(keyword_for_tag(tag) for tag in table), [hex(t) for t in table if not keyword_for_tag(t)]


def test_retain_device_identity_keeps_devices_not_the_institution():
    from phi_guard.formats.dicom.profile import deidentify, options_from_policy

    ds = dataset()
    ds.StationName, ds.DeviceSerialNumber, ds.PerformedStationAETitle = "CT01", "SN123456", "CTSCAN01"
    ds.InstitutionName = "St Quackenbush Hospital"
    policy = Policy.from_table({"dicom": {"retain_device_identity": True}})
    deidentify(ds, options_from_policy(policy.dicom))
    assert (ds.StationName, ds.DeviceSerialNumber, ds.PerformedStationAETitle) == ("CT01", "SN123456", "CTSCAN01")
    assert not ds.get("InstitutionName")


# -- items 7 and 8 through scan and the web API ------------------------------------------
def _hostile_folder(folder) -> None:
    folder.mkdir()
    (folder / "frames.dcm").write_bytes(to_bytes(with_raw(dataset(), NumberOfFrames=PLANTED)))
    (folder / "photometric.dcm").write_bytes(to_bytes(with_raw(dataset(), PhotometricInterpretation=PLANTED)))
    long = dataset()
    long.PixelData = long.PixelData + _planted(2 * len(long.PixelData))
    (folder / "long.dcm").write_bytes(to_bytes(long))


def _leaks(text: str) -> list[str]:
    low = text.lower()
    return [n for n in ("zebulon", "quackenbush", PATIENT_ID.lower()) if n in low]


def test_scan_reports_name_attributes_and_carries_no_planted_bytes(tmp_path):
    _hostile_folder(tmp_path / "in")
    out, reports = tmp_path / "out", tmp_path / "reports"
    run = subprocess.run([sys.executable, "-m", "phi_guard.cli", "scan", str(tmp_path / "in"), "-o", str(out),
                          "--report-dir", str(reports), "--workers", "1"], capture_output=True, text=True, timeout=900)
    assert run.returncode == 2, run.stdout + run.stderr  # two inputs failed
    rows = [json.loads(line) for line in (reports / "report.jsonl").read_text().splitlines() if line.strip()]
    errors = {r.get("error", "") for r in rows if r.get("verdict") == "ERROR"}
    assert any("NumberOfFrames" in e for e in errors) and any("PhotometricInterpretation" in e for e in errors), errors
    everything = run.stdout + run.stderr + "".join(p.read_bytes().decode("latin-1") for p in reports.rglob("*") if p.is_file())
    assert _leaks(everything) == []
    written = [p for p in out.rglob("*.dcm")]
    assert len(written) == 1
    _no_planted_bytes(written[0].read_bytes())


def test_web_api_error_body_and_download_carry_no_header_value(tmp_path):
    from fastapi.testclient import TestClient

    from phi_guard.web import create_app
    from phi_guard.web.app import ServerConfig

    _hostile_folder(tmp_path / "in")
    with TestClient(create_app(ServerConfig(workers=1))) as client:
        bad = client.post("/v1/screen", files={"file": ("frames.dcm", (tmp_path / "in" / "frames.dcm").read_bytes())})
        assert bad.status_code in (400, 415, 422), bad.text
        assert "NumberOfFrames" in bad.text and _leaks(bad.text) == []
        ok = client.post("/v1/screen", files={"file": ("long.dcm", (tmp_path / "in" / "long.dcm").read_bytes())})
        assert ok.status_code == 200, ok.text
        body = ok.json()
        download = client.get(body["image_url"])
        assert download.status_code == 200
        _no_planted_bytes(download.content)


def test_signed_pixels_keep_their_sign_extension_and_verify():
    """A signed 12-bit CT (negative values sign-extended into the unused bits, as writers
    do) is neither changed nor refused, masked or not."""
    from dicom_builder import smooth_pixels

    pixels = (smooth_pixels().astype(np.int16) - 2000).astype(np.int16)
    ds = dataset(pixels)
    assert ds.PixelRepresentation == 1 and (np.frombuffer(ds.PixelData, "<u2") >> 12).any()
    adapter, policy, doc, metadata = _adapter_steps(to_bytes(ds))
    for masks in ([], [(0, 0, 40, 20)]):
        encoded = adapter.encode(doc, metadata, masks, policy, "DICOM")
        assert adapter.check_output(encoded, doc, metadata, masks, policy).problems == ()
        out = pydicom.dcmread(io.BytesIO(encoded.data)).pixel_array
        expected = pixels.copy()
        for x0, y0, x1, y1 in masks:
            expected[y0:y1, x0:x1] = pixels.min()
        assert np.array_equal(out, expected)


def test_jp2_box_without_length_is_refused_not_a_hang(screener):
    """A JPEG 2000 frame wrapped in a JP2 file with a zero-length box: pydicom's scan
    for the codestream never advances (found by fuzzing). The file is refused with a
    one-line error before any decoder sees it, instead of hanging the screen."""
    import signal

    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEG2000Lossless

    ds = dataset(np.zeros((16, 16), np.uint8), bits_stored=8)
    jp2 = b"\x00\x00\x00\x0cjP  \r\n\x87\n" + b"\x00\x00\x00\x00ftyp" + b"\x00" * 24
    ds.file_meta.TransferSyntaxUID = JPEG2000Lossless
    ds.PixelData = encapsulate([jp2])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True

    def _hung(*_: object) -> None:
        raise AssertionError("loading the file hung")

    previous = signal.signal(signal.SIGALRM, _hung)
    signal.alarm(20)
    try:
        with pytest.raises(MalformedDicomError, match="JPEG 2000"):
            screener.screen(to_bytes(ds))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
