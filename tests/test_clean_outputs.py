"""Issue 14 item 11: a clean image that carries metadata comes out CLEAN in its own
format, with the metadata gone (checked with an independent reader), for every
output format: verification tells a container's own structure from metadata."""
from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
from PIL import Image

from phi_guard import Verdict

from dicom_builder import PATIENT_ID, dataset, to_bytes

ARTIST = "Dr Quackenbush"
XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>Zebulon Quackenbush</dc:creator>'
       b'</rdf:Description></rdf:RDF></x:xmpmeta>')


def _photo() -> Image.Image:
    """A smooth colour gradient: nothing to read in the pixels."""
    y, x = np.mgrid[0:240, 0:320]
    rgb = np.stack([x * 255 // 320, y * 255 // 240, 128 + 0 * x], axis=-1).astype(np.uint8)
    return Image.fromarray(rgb)


def _exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x013B] = ARTIST  # Artist
    exif[0x0110] = "iPhone 15 Pro"  # Model
    exif[0x0132] = "2024:03:14 09:26:53"  # DateTime
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (51.0, 30.0, 12.0), "W", (0.0, 7.0, 39.0)
    return exif


def _with_metadata(fmt: str) -> bytes:
    buf = io.BytesIO()
    im = _photo()
    if fmt == "PNG":
        from PIL.PngImagePlugin import PngInfo

        info = PngInfo()
        info.add_itxt("XML:com.adobe.xmp", XMP.decode())
        im.save(buf, "PNG", exif=_exif(), pnginfo=info)
    elif fmt == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
        im.save(buf, "HEIF", exif=_exif().tobytes(), xmp=XMP, quality=90)
    else:
        im.save(buf, fmt, exif=_exif(), xmp=XMP, **({"quality": 90} if fmt in ("JPEG", "WEBP", "AVIF") else {}))
    data = buf.getvalue()
    check = Image.open(io.BytesIO(data))
    assert check.getexif().get(0x013B) == ARTIST, f"{fmt}: the test input has no Artist"  # the input really has it
    return data


# TIFF baseline and extension tags that describe the pixels (Pillow's TiffTags names them).
_TIFF_STRUCTURE = {0x00FE, 0x0100, 0x0101, 0x0102, 0x0103, 0x0106, 0x0111, 0x0112, 0x0115, 0x0116, 0x0117, 0x011A,
                   0x011B, 0x011C, 0x0128, 0x013D, 0x0140, 0x0142, 0x0143, 0x0144, 0x0145, 0x0152, 0x0153}


def _metadata_left(data: bytes) -> list[str]:
    im = Image.open(io.BytesIO(data))
    exif = im.getexif()
    # A TIFF's first IFD is its structure too (size, strips, compression, ...): only
    # the tags that describe something other than the pixels count.
    structure = _TIFF_STRUCTURE if im.format == "TIFF" else {0x0112}
    left = [f"EXIF {k:#x}" for k in exif if k not in structure]
    left += [f"EXIF GPS {k}" for k in exif.get_ifd(0x8825)]
    left += [k for k in ("xmp", "XML:com.adobe.xmp", "exif", "comment", "icc_profile") if im.info.get(k)]
    if im.format == "HEIF":
        import pillow_heif

        heif = pillow_heif.open_heif(io.BytesIO(data))
        left += ["HEIF metadata"] * len(heif.info.get("metadata") or []) + (["HEIF xmp"] if heif.info.get("xmp") else [])
        left += ["HEIF thumbnail"] * len(heif.info.get("thumbnails") or [])
    return left


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF", "WEBP", "TIFF", "PNG", "JPEG"])
def test_clean_photo_with_metadata_comes_out_clean_in_its_format(screener, fmt):
    data = _with_metadata(fmt)
    result = screener.screen(data, name=f"photo.{fmt.lower()}")
    assert result.verdict is Verdict.CLEAN, (fmt, result.reasons, result.report["verification"])
    assert result.output_format == fmt and result.safe_bytes is not None
    out = Image.open(io.BytesIO(result.safe_bytes))
    assert out.format == fmt and out.size == (320, 240)
    assert _metadata_left(result.safe_bytes) == []
    assert b"Quackenbush" not in result.safe_bytes
    # what the input carried is reported (Pillow's TIFF writer drops the GPS IFD)
    had_gps = bool(Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825))
    assert {"PERSON"} | ({"LOCATION"} if had_gps else set()) <= {f.kind for f in result.findings}
    assert had_gps or fmt == "TIFF"


def test_clean_dicom_with_patient_header_comes_out_clean(screener):
    result = screener.screen(to_bytes(dataset()), name="scan.dcm")
    assert result.verdict is Verdict.CLEAN, (result.reasons, result.report["verification"])
    assert result.output_format == "DICOM"
    out = pydicom.dcmread(io.BytesIO(result.safe_bytes))
    assert not out.get("PatientName") and not out.get("PatientBirthDate") and out.get("PatientID") != PATIENT_ID
    assert b"QUACKENBUSH" not in result.safe_bytes.upper() and PATIENT_ID.encode() not in result.safe_bytes
    assert out.PatientIdentityRemoved == "YES"
