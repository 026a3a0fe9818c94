"""Small synthetic DICOM files for the trust tests: a patient header, 12-bit
MONOCHROME2 pixels, and hooks to plant what a hostile or careless writer leaves in
a file (raw attribute values, overlay bits, bytes past the image)."""
from __future__ import annotations

import io

import numpy as np
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.tag import Tag
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

PATIENT_NAME = "QUACKENBUSH^ZEBULON"
PATIENT_ID = "MRN7730041"


def smooth_pixels(rows: int = 128, cols: int = 192) -> np.ndarray:
    """A 12-bit gradient with no text in it."""
    y, x = np.mgrid[0:rows, 0:cols]
    return (400 + 10 * x + 5 * y).astype(np.uint16) % 4000


SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


def dataset(pixels: np.ndarray | None = None, bits_stored: int = 12, photometric: str = "MONOCHROME2",
            sop_class: str = SECONDARY_CAPTURE) -> Dataset:
    """A dataset (default: secondary capture) with a patient header and ``pixels``
    (default: a gradient)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.Modality = PATIENT_NAME, PATIENT_ID, "19610314", "OT"
    ds.set_pixel_data(smooth_pixels() if pixels is None else pixels, photometric, bits_stored)
    return ds


def text_mask(shape: tuple[int, int], lines: list[tuple[int, int, str]], size: int = 24) -> np.ndarray:
    """A boolean mask of the given text lines, (x, y, text), drawn at ``size`` px."""
    from PIL import Image, ImageDraw, ImageFont

    im = Image.new("L", (shape[1], shape[0]), 0)
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", size)
    d = ImageDraw.Draw(im)
    for x, y, text in lines:
        d.text((x, y), text, fill=255, font=font)
    return np.asarray(im) > 128


def with_overlay(ds: Dataset, group: int, data: bytes, rows: int = 128, cols: int = 192) -> Dataset:
    """``ds`` with an overlay plane in ``group`` (0x6000-0x601E): a graphics overlay of
    ``rows`` x ``cols`` at the origin, its bits ``data`` as stored (whatever their length)."""
    base = group << 16
    ds.add_new(base | 0x0010, "US", rows)
    ds.add_new(base | 0x0011, "US", cols)
    ds.add_new(base | 0x0040, "CS", "G")
    ds.add_new(base | 0x0050, "SS", [1, 1])
    ds.add_new(base | 0x0100, "US", 1)
    ds.add_new(base | 0x0102, "US", 0)
    ds.add_new(base | 0x3000, "OW", data)
    return ds


def with_raw(ds: Dataset, **values: str) -> Dataset:
    """``ds`` with attributes set to raw text, whatever their VR (as a broken writer would)."""
    for keyword, value in values.items():
        tag = Tag(keyword)
        raw = value.encode()
        raw += b" " * (len(raw) % 2)
        ds[tag] = RawDataElement(tag, dictionary_VR(tag), len(raw), raw, 0, False, True)
    return ds


def to_bytes(ds: Dataset) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()
