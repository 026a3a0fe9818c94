#!/usr/bin/env python3
"""Make the sample images: synthetic PHI only (every name, number and place is made up).

Deterministic: the same files every run. Run: python sample_images/make_samples.py
"""
from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from PIL.PngImagePlugin import PngInfo

HERE = Path(__file__).resolve().parent


def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def xray_background(w: int, h: int, seed: int) -> Image.Image:
    """A chest-x-ray-like grey field: dark lungs, bright mediastinum, noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = 60 + 40 * np.exp(-(((xx - w / 2) / (w * 0.12)) ** 2))
    for cx in (0.3, 0.7):
        img -= 25 * np.exp(-(((xx - w * cx) / (w * 0.14)) ** 2 + ((yy - h * 0.5) / (h * 0.3)) ** 2))
    img += 25 * np.exp(-(((yy - h * 0.95) / (h * 0.1)) ** 2))
    for i in range(8):  # ribs
        img += 12 * np.exp(-(((yy - h * (0.25 + 0.07 * i) - 0.08 * np.abs(xx - w / 2)) / 6) ** 2))
    img += rng.normal(0, 6, size=img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "L")


def overlay(draw: ImageDraw.ImageDraw, lines: list[tuple[int, int, str, int]], fill: int | tuple = 235) -> None:
    for x, y, text, size in lines:
        draw.text((x, y), text, font=font(size), fill=fill)


def xray_with_overlay() -> Image.Image:
    im = xray_background(1024, 1024, seed=1)
    d = ImageDraw.Draw(im)
    overlay(d, [
        (16, 14, "DOE^JANE  [F]  03/14/2024", 26),
        (16, 48, "MRN: 00482913   DOB: 07/22/1951", 22),
        (16, 78, "Acc# 7741029", 18),
        (900, 960, "PORTABLE", 20),
        (960, 40, "L", 40),
        (16, 980, "AP UPRIGHT", 20),
    ])
    return im


def exif_with_gps_and_thumbnail(thumb_jpeg: bytes) -> bytes:
    """A little-endian TIFF/EXIF block: IFD0 (Artist, Make, Model, DateTime, serial in
    the EXIF IFD), a GPS IFD and an IFD1 JPEG thumbnail, built by hand because Pillow
    does not write IFD1 thumbnails."""
    entries0, entries_exif, entries_gps, entries1 = [], [], [], []
    data = bytearray()

    def ascii_(tag, s):
        return (tag, 2, len(s) + 1, s.encode() + b"\x00")

    def rational3(tag, vals):
        return (tag, 5, len(vals), b"".join(struct.pack("<II", int(v * 100), 100) for v in vals))

    entries0 += [ascii_(0x010F, "PhoneCo"), ascii_(0x0110, "Pixel Test 7"), ascii_(0x0132, "2024:03:14 09:21:07"),
                 ascii_(0x013B, "Dr. Alan Reyes")]
    entries_exif += [ascii_(0xA431, "SN-99812-XK"), ascii_(0x9003, "2024:03:14 09:21:07")]
    entries_gps += [ascii_(0x0001, "N"), rational3(0x0002, (41, 29, 58.2)), ascii_(0x0003, "W"), rational3(0x0004, (81, 41, 12.9))]

    # Layout: header(8) | IFD0 | IFD-EXIF | IFD-GPS | IFD1 | data area
    def ifd_size(n):
        return 2 + 12 * n + 4

    n0 = len(entries0) + 2  # + ExifIFD and GPS pointers
    off0 = 8
    off_exif = off0 + ifd_size(n0)
    off_gps = off_exif + ifd_size(len(entries_exif))
    off1 = off_gps + ifd_size(len(entries_gps))
    n1 = 3
    data_off = off1 + ifd_size(n1)

    def pack_ifd(entries, next_off, extra=()):
        nonlocal data
        out = bytearray(struct.pack("<H", len(entries) + len(extra)))
        for tag, typ, count, value in sorted(list(entries) + list(extra), key=lambda e: e[0]):
            if isinstance(value, int):
                out += struct.pack("<HHII", tag, typ, count, value)
            elif len(value) <= 4:
                out += struct.pack("<HHI", tag, typ, count) + value.ljust(4, b"\x00")
            else:
                out += struct.pack("<HHII", tag, typ, count, data_off + len(data))
                data += value + (b"\x00" if len(value) % 2 else b"")
        out += struct.pack("<I", next_off)
        return out

    ifd0 = pack_ifd(entries0, off1, extra=[(0x8769, 4, 1, off_exif), (0x8825, 4, 1, off_gps)])
    ifde = pack_ifd(entries_exif, 0)
    ifdg = pack_ifd(entries_gps, 0)
    thumb_off = data_off + len(data)
    ifd1 = pack_ifd([], 0, extra=[(0x0103, 3, 1, 6), (0x0201, 4, 1, thumb_off), (0x0202, 4, 1, len(thumb_jpeg))])
    data += thumb_jpeg
    return b"Exif\x00\x00II*\x00" + struct.pack("<I", 8) + ifd0 + ifde + ifdg + ifd1 + bytes(data)


def phone_photo_of_monitor() -> tuple[Image.Image, bytes]:
    """The overlay photographed off a monitor: a dark bezel, skew, blur, glare."""
    screen = xray_with_overlay().convert("RGB").resize((720, 720))
    canvas = Image.new("RGB", (960, 840), (28, 30, 34))
    canvas.paste(screen, (120, 60))
    canvas = canvas.rotate(4, resample=Image.BICUBIC, fillcolor=(20, 20, 22))
    arr = np.asarray(canvas).astype(np.float32)
    yy, xx = np.mgrid[0 : arr.shape[0], 0 : arr.shape[1]]
    arr += 45 * np.exp(-(((xx - 700) / 160.0) ** 2 + ((yy - 300) / 120.0) ** 2))[..., None]  # glare
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.0))
    thumb = io.BytesIO()
    img.resize((160, 140)).save(thumb, "JPEG", quality=70)
    return img, exif_with_gps_and_thumbnail(thumb.getvalue())


def annotated_png() -> tuple[Image.Image, PngInfo]:
    im = Image.new("RGB", (640, 360), (250, 250, 250))
    d = ImageDraw.Draw(im)
    d.ellipse((200, 90, 440, 300), fill=(214, 170, 150))
    overlay(d, [(20, 16, "Patient: John Smith", 24), (20, 320, "Ward 4B  tel 216-555-0143", 18)], fill=(20, 20, 20))
    info = PngInfo()
    info.add_text("Author", "Nurse Maria Lopez")
    info.add_text("Comment", "wound photo, pt John Smith, MRN 00482913", zip=True)
    info.add_itxt("Description", "Clinical photo of patient John Smith, 1951-07-22", lang="en")
    return im, info


def clean_image() -> Image.Image:
    im = xray_background(800, 800, seed=7)
    d = ImageDraw.Draw(im)
    overlay(d, [(740, 30, "R", 36), (20, 760, "PA ERECT", 18)])
    return im


def dicom_with_overlay_text() -> bytes:
    """A 12-bit CT-like DICOM (MONOCHROME2) with a burned-in patient line and a
    header that names the same (synthetic) patient."""
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    base = np.asarray(xray_background(512, 512, seed=11), dtype=np.float32) * 12
    canvas = Image.new("L", (512, 512), 0)
    d = ImageDraw.Draw(canvas)
    d.text((8, 8), "ROE^RICHARD  M  1962-11-05", font=font(16), fill=255)
    d.text((8, 30), "ID 55120934   ACC 88412", font=font(14), fill=255)
    d.text((470, 480), "R", font=font(20), fill=255)
    base[np.asarray(canvas) > 128] = 4000
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    uid = "1.2.826.0.1.3680043.8.498.1"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid + ".1"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = uid + ".2", uid + ".3"
    ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "ROE^RICHARD", "55120934", "19621105", "M"
    ds.AccessionNumber, ds.InstitutionName, ds.ReferringPhysicianName = "88412", "Lakeside Imaging Center", "HOUSE^GREGORY"
    ds.StudyDate, ds.StudyTime, ds.Modality, ds.StudyDescription = "20240314", "101500", "OT", "CHEST for ROE RICHARD"
    ds.add_new(0x00091010, "LO", "private vendor note: ROE")
    ds.set_pixel_data(np.clip(base, 0, 4095).astype(np.uint16), "MONOCHROME2", 12, generate_instance_uid=False)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def main() -> None:
    HERE.mkdir(exist_ok=True)
    xray_with_overlay().save(HERE / "xray_overlay.png")
    photo, exif = phone_photo_of_monitor()
    photo.save(HERE / "phone_photo_gps.jpg", "JPEG", quality=90, exif=exif,
               comment=b"sent from Dr. Reyes' phone", xmp=b"<x:xmpmeta><dc:creator>Alan Reyes</dc:creator></x:xmpmeta>")
    im, info = annotated_png()
    im.save(HERE / "clinical_photo_text_chunks.png", pnginfo=info)
    clean_image().save(HERE / "clean_xray.png")
    whole = io.BytesIO()
    xray_with_overlay().save(whole, "JPEG", quality=85)
    (HERE / "broken_truncated.jpg").write_bytes(whole.getvalue()[: len(whole.getvalue()) // 3])
    (HERE / "ct_overlay.dcm").write_bytes(dicom_with_overlay_text())
    print("sample images written to", HERE)


if __name__ == "__main__":
    main()
