"""Every metadata carrier is gone from the output bytes (checked at the byte level)."""
from __future__ import annotations

import pytest

from phi_guard.formats import animated
from phi_guard.formats.sniff import sniff_format
from phi_guard.formats.photo.metadata import inventory_container
from phi_guard.types import Verdict

from conftest import DATA

# file -> (carriers that must be found in the input, byte strings that must not be in the output)
CASES = {
    "photos/r_canon.jpg": ({"EXIF", "GPS", "MakerNote", "EXIF-thumbnail"}, [b"Exif\x00\x00", b"Canon", b"PowerShot"]),
    "photos/r_olympus.jpg": ({"EXIF", "GPS", "MakerNote", "EXIF-thumbnail"}, [b"Exif\x00\x00", b"OLYMPUS"]),
    "photos/photoshop-200dpi.jpg": ({"XMP", "IPTC"}, [b"http://ns.adobe.com/xap/1.0/", b"Photoshop 3.0", b"8BIM"]),
    "photos/iptc.jpg": ({"IPTC", "EXIF-thumbnail"}, [b"Photoshop 3.0", b"8BIM", b"Exif\x00\x00"]),
    "photos/exif.png": ({"PNG-eXIf/EXIF", "PNG-tEXt", "PNG-tIME"}, [b"eXIf", b"tEXt", b"tIME", b"zTXt", b"iTXt"]),
    "photos/xmp_tags_orientation.png": ({"XMP", "ICC"}, [b"iTXt", b"XML:com.adobe.xmp", b"iCCP"]),
    "photos/hopper.tif": ({"TIFF"}, [b"hopper"]),
    "photos/01.tif": ({"TIFF"}, [b"CASIO", b"QV-R51"]),
    "photos/tool1.webp": ({"EXIF"}, [b"EXIF", b"XMP "]),
    # Every image of an MPO is kept (issue 12): its MP index stays, holding structure only.
    "photos/frozenpond.mpo": ({"MPO", "MakerNote"}, [b"Exif\x00\x00"]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_carrier_is_removed(screener, name):
    data = (DATA / name).read_bytes()
    expected, forbidden = CASES[name]
    found = {m.carrier for m in inventory_container(data, sniff_format(data))}
    assert expected <= found, f"inventory missed {expected - found}"

    result = screener.screen(data)
    assert result.verdict is not Verdict.BLOCKED, result.reasons
    out = result.safe_bytes
    assert out is not None
    for needle in forbidden:
        assert needle not in out, f"{needle!r} survived in the output of {name}"
    if result.output_format == "MPO":
        assert animated.check_output(out, "MPO") == []  # an allow-list walk of every image's segments
    else:
        assert [m for m in inventory_container(out, sniff_format(out)) if m.phi_risk] == []
    # the report lists what was removed, with values masked
    assert result.report["metadata"], "report lists no metadata"
    assert all(m["action"] in ("removed", "converted") for m in result.report["metadata"])


def test_mpo_every_image_kept_without_its_exif(screener):
    data = (DATA / "photos/frozenpond.mpo").read_bytes()
    result = screener.screen(data)
    out = result.safe_bytes
    # every image of the input, each a fresh JPEG (a JPEG's scan data escapes 0xFF, so
    # each SOI counted is an image), and none with an EXIF segment
    assert result.output_format == "MPO"
    assert out.count(b"\xff\xd8\xff") == result.report["input"]["frames_in_file"] == 2
    assert b"Exif\x00\x00" not in out


def test_sample_phone_photo_gps_thumbnail_comment_xmp(screener, samples):
    data = (samples / "phone_photo_gps.jpg").read_bytes()
    carriers = {m.carrier for m in inventory_container(data, "JPEG")}
    assert {"GPS", "EXIF-thumbnail", "JPEG-COM", "XMP", "EXIF"} <= carriers
    result = screener.screen(data)
    out = result.safe_bytes
    for needle in (b"Exif", b"Reyes", b"SN-99812", b"PhoneCo", b"xmpmeta", b"\xff\xfe"):
        assert needle not in out
    kinds = {f.kind for f in result.findings if f.where.value == "metadata"}
    assert {"LOCATION", "PERSON", "DEVICE_ID", "EMBEDDED_IMAGE", "FREE_TEXT"} <= kinds


def test_png_text_chunks_sample(screener, samples):
    data = (samples / "clinical_photo_text_chunks.png").read_bytes()
    result = screener.screen(data)
    out = result.safe_bytes
    for needle in (b"tEXt", b"zTXt", b"iTXt", b"Smith", b"Lopez"):
        assert needle not in out
    # the masked values in the report never carry the names
    import json

    text = json.dumps(result.report)
    assert "Smith" not in text and "Lopez" not in text and "00482913" not in text


def test_heif_input_is_stripped(screener):
    data = (DATA / "photos/hopper.heif").read_bytes()
    result = screener.screen(data, output_format="PNG")
    assert result.verdict is not Verdict.BLOCKED, result.reasons
    import io

    import numpy as np
    from PIL import Image

    from phi_guard.formats.photo.decode import _register_heif

    _register_heif()
    out, src = Image.open(io.BytesIO(result.safe_bytes)), Image.open(io.BytesIO(data))
    assert out.format == "PNG" and out.size == src.size == (128, 128)
    assert not out.getexif() and not {"exif", "xmp", "icc_profile"} & set(out.info)
    # the same picture: the pixels were carried, not re-rendered or replaced, outside the
    # masks (the portrait's face is masked: in this 128 px portrait the face's mask, the
    # union of its padded boxes as found in several turns, covers about 75 % of it)
    diff = np.abs(np.asarray(out.convert("RGB"), dtype=int) - np.asarray(src.convert("RGB"), dtype=int)).max(axis=2)
    outside = np.ones(diff.shape, bool)
    for x0, y0, x1, y1 in result.report["redactions"]["boxes"]:
        outside[y0:y1, x0:x1] = False
    assert outside.mean() > 0.2 and diff[outside].mean() < 2
    assert any(f.kind == "FACE" for f in result.findings)


def test_exif_orientation_is_applied(screener):
    from PIL import Image
    import io

    src = Image.new("RGB", (60, 30), (200, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    buf = io.BytesIO()
    src.save(buf, "JPEG", exif=exif.tobytes())
    result = screener.screen(buf.getvalue())
    out = Image.open(io.BytesIO(result.safe_bytes))
    assert out.size == (30, 60)
    assert "Exif" not in out.info and not out.getexif()
