"""Inventory of metadata carriers in photo containers, read from the raw bytes.

Each container is walked at the byte level (JPEG segments, PNG chunks, RIFF
chunks, TIFF IFDs) rather than trusting what Pillow happens to expose, so a
carrier Pillow ignores still shows up in the report and in verification.
"""
from __future__ import annotations

import io
import struct
import zlib

from PIL import ExifTags, Image

from ...mask import mask_value
from ...types import MetadataItem

# Tags that describe how to decode or display the pixels and identify nobody.
STRUCTURAL_TIFF_TAGS = {
    254, 255, 256, 257, 258, 259, 262, 266, 273, 274, 277, 278, 279, 282, 283, 284, 296,
    317, 318, 319, 320, 322, 323, 324, 325, 338, 339, 340, 341, 513, 514, 529, 530, 531, 532,
}
_EXIF_IFD_POINTERS = {34665: "EXIF", 34853: "GPS", 40965: "Interop"}
_PNG_STRUCTURAL = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"sBIT", b"pHYs", b"bKGD", b"acTL", b"fcTL", b"fdAT"}


def _item(carrier: str, key: str, value: object, risk: bool = True, action: str = "removed") -> MetadataItem:
    return MetadataItem(carrier=carrier, key=key, masked_value=mask_value(value), action=action, phi_risk=risk)


def inventory_container(data: bytes, fmt: str) -> list[MetadataItem]:
    """List every metadata item in a photo container (values masked)."""
    if fmt in ("JPEG", "MPO"):
        return _jpeg(data)
    if fmt == "PNG":
        return _png(data)
    if fmt == "TIFF":
        return _tiff_like(data, "TIFF")
    if fmt == "WEBP":
        return _webp(data)
    if fmt == "GIF":
        return _gif(data)
    if fmt in ("HEIF", "AVIF"):
        return _pillow_info(data, fmt)
    if fmt == "BMP":
        return _bmp(data)
    return []


# -- EXIF (shared by JPEG APP1, PNG eXIf, WebP EXIF, HEIF) --------------------------------
def _exif(payload: bytes, carrier_prefix: str = "") -> list[MetadataItem]:
    items: list[MetadataItem] = []
    exif = Image.Exif()
    try:
        exif.load(payload)
    except Exception:  # noqa: BLE001 - any malformed EXIF is still a carrier to remove
        return [_item(carrier_prefix + "EXIF", "unparseable EXIF block", payload)]
    for tag, value in exif.items():
        if tag in _EXIF_IFD_POINTERS:
            continue
        name = ExifTags.TAGS.get(tag, f"0x{tag:04x}")
        items.append(_item(carrier_prefix + "EXIF", name, value, risk=tag not in STRUCTURAL_TIFF_TAGS))
    for pointer, carrier in _EXIF_IFD_POINTERS.items():
        if pointer not in exif:
            continue
        try:
            ifd = exif.get_ifd(pointer)
        except Exception:  # noqa: BLE001
            items.append(_item(carrier_prefix + carrier, "unparseable IFD", ""))
            continue
        names = ExifTags.GPSTAGS if carrier == "GPS" else ExifTags.TAGS
        if carrier == "GPS" and not ifd:
            items.append(_item(carrier_prefix + "GPS", "empty GPS IFD", ""))
        for tag, value in ifd.items():
            name = names.get(tag, f"0x{tag:04x}")
            sub = "MakerNote" if tag == 0x927C else carrier
            items.append(_item(carrier_prefix + sub, name, value))
    try:
        ifd1 = exif.get_ifd(ExifTags.IFD.IFD1)
    except Exception:  # noqa: BLE001
        ifd1 = {}
    if ifd1:
        size = ifd1.get(514, 0)
        items.append(_item(carrier_prefix + "EXIF-thumbnail", "IFD1 thumbnail image", f"<{size} bytes>"))
    return items


# -- JPEG ----------------------------------------------------------------------------------
def _jpeg(data: bytes) -> list[MetadataItem]:
    items: list[MetadataItem] = []
    pos, n = 2, len(data)
    sos_seen = False
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            break
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker == 0xD9:
            break
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        payload = data[pos + 4 : pos + 2 + length]
        if marker == 0xDA:
            sos_seen = True
            break
        items.extend(_jpeg_segment(marker, payload))
        pos += 2 + length
    if sos_seen:
        eoi = data.rfind(b"\xff\xd9")
        # Trailing bytes after the last EOI, or extra images (MPO) appended after the first.
        if 0 <= eoi < n - 2 and data[eoi + 2 :].strip(b"\x00"):
            items.append(_item("trailer", "data after end of image", data[eoi + 2 :]))
        extra_soi = data.count(b"\xff\xd8\xff", 3)
        if extra_soi:
            items.append(_item("MPO/embedded", "further JPEG images embedded in the file", f"{extra_soi} image(s)"))
    return items


def _jpeg_segment(marker: int, payload: bytes) -> list[MetadataItem]:
    app = marker - 0xE0
    if marker == 0xFE:
        return [_item("JPEG-COM", "comment", payload.decode("latin-1", "replace"))]
    if not 0 <= app <= 15:
        return []
    if app == 0 and payload.startswith(b"JFIF\x00"):
        has_thumb = len(payload) > 14 and payload[12] * payload[13] > 0
        return [_item("JFIF", "JFIF thumbnail" if has_thumb else "JFIF header", payload, risk=has_thumb)]
    if app == 0 and payload.startswith(b"JFXX\x00"):
        return [_item("JFIF", "JFXX thumbnail", payload)]
    if app == 1 and payload.startswith(b"Exif\x00\x00"):
        return _exif(payload[6:])
    if app == 1 and payload.startswith(b"http://ns.adobe.com/xap/1.0/"):
        return [_item("XMP", "XMP packet", payload)]
    if app == 1 and payload.startswith(b"http://ns.adobe.com/xmp/extension/"):
        return [_item("XMP", "extended XMP packet", payload)]
    if app == 2 and payload.startswith(b"ICC_PROFILE\x00"):
        return [_item("ICC", "ICC profile chunk", payload, risk=False, action="converted")]
    if app == 2 and payload.startswith(b"MPF\x00"):
        return [_item("MPO", "multi-picture index (secondary images)", payload)]
    if app == 13:
        return [_item("IPTC", "Photoshop/IPTC (APP13)", payload)]
    if app == 14 and payload.startswith(b"Adobe"):
        return [_item("Adobe", "APP14 colour transform", payload, risk=False)]
    label = payload[:16].split(b"\x00")[0].decode("latin-1", "replace")
    return [_item(f"APP{app}", label or "application segment", payload)]


# -- PNG -----------------------------------------------------------------------------------
def _png(data: bytes) -> list[MetadataItem]:
    items: list[MetadataItem] = []
    pos = 8
    while pos + 8 <= len(data):
        length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        # IEND is structural too: what follows it is still walked (data hidden after
        # the end of the image is a carrier like any other).
        if ctype in _PNG_STRUCTURAL:
            continue
        items.extend(_png_chunk(ctype, body))
    return items


def _png_chunk(ctype: bytes, body: bytes) -> list[MetadataItem]:
    name = ctype.decode("latin-1")
    if ctype in (b"tEXt", b"zTXt", b"iTXt"):
        key, _, rest = body.partition(b"\x00")
        value: object = rest
        try:
            if ctype == b"tEXt":
                value = rest.decode("latin-1")
            elif ctype == b"zTXt":
                value = zlib.decompress(rest[1:]).decode("latin-1")
            else:
                flag = rest[0]
                parts = rest[2:].split(b"\x00", 2)
                text = parts[2] if len(parts) == 3 else b""
                value = (zlib.decompress(text) if flag else text).decode("utf-8", "replace")
        except (zlib.error, IndexError):
            pass
        keyname = key.decode("latin-1", "replace")
        if keyname in ("XML:com.adobe.xmp",):
            return [_item("XMP", f"PNG {name} XMP packet", value)]
        if keyname.lower() in ("raw profile type exif", "raw profile type app1"):
            return [_item("EXIF", f"PNG {name} '{keyname}'", value)]
        return [_item(f"PNG-{name}", keyname, value)]
    if ctype == b"eXIf":
        return _exif(body, carrier_prefix="PNG-eXIf/")
    if ctype == b"tIME":
        return [_item("PNG-tIME", "last modification time", body)]
    if ctype == b"iCCP":
        return [_item("ICC", "PNG iCCP profile", body, risk=False, action="converted")]
    return [_item(f"PNG-{name}", "ancillary chunk", body)]


# -- TIFF ----------------------------------------------------------------------------------
def _tiff_like(data: bytes, carrier: str) -> list[MetadataItem]:
    items: list[MetadataItem] = []
    try:
        with Image.open(io.BytesIO(data)) as im:
            n_pages = int(getattr(im, "n_frames", 1) or 1)
            tags = dict(im.tag_v2) if hasattr(im, "tag_v2") else {}
            exif = im.getexif()
    except Exception:  # noqa: BLE001 - inventory must not fail where decoding succeeded
        return [_item(carrier, "unparseable TIFF directory", "")]
    for tag, value in tags.items():
        if tag in _EXIF_IFD_POINTERS:
            continue
        name = ExifTags.TAGS.get(tag, f"0x{tag:04x}")
        if tag == 700:
            items.append(_item("XMP", "TIFF XMP packet", value))
        elif tag == 33723:
            items.append(_item("IPTC", "TIFF IPTC block", value))
        elif tag == 34377:
            items.append(_item("IPTC", "TIFF Photoshop block", value))
        elif tag == 34675:
            items.append(_item("ICC", "TIFF ICC profile", value, risk=False, action="converted"))
        else:
            items.append(_item(carrier, name, value, risk=tag not in STRUCTURAL_TIFF_TAGS))
    for pointer, sub in _EXIF_IFD_POINTERS.items():
        if pointer in tags or pointer in exif:
            try:
                ifd = exif.get_ifd(pointer)
            except Exception:  # noqa: BLE001
                ifd = {}
            names = ExifTags.GPSTAGS if sub == "GPS" else ExifTags.TAGS
            for tag, value in ifd.items():
                items.append(_item(sub, names.get(tag, f"0x{tag:04x}"), value))
    if n_pages > 1:
        items.append(_item(carrier, "further pages", f"{n_pages - 1} page(s)"))
    return items


# -- WebP ----------------------------------------------------------------------------------
def _webp(data: bytes) -> list[MetadataItem]:
    items: list[MetadataItem] = []
    pos = 12
    while pos + 8 <= len(data):
        fourcc, size = struct.unpack("<4sI", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + size]
        pos += 8 + size + (size & 1)
        if fourcc == b"EXIF":
            payload = body[6:] if body.startswith(b"Exif\x00\x00") else body
            items.extend(_exif(payload))
        elif fourcc == b"XMP ":
            items.append(_item("XMP", "WebP XMP chunk", body))
        elif fourcc == b"ICCP":
            items.append(_item("ICC", "WebP ICC profile", body, risk=False, action="converted"))
        elif fourcc not in (b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF"):
            items.append(_item("WEBP", f"chunk {fourcc.decode('latin-1')}", body))
    return items


# -- GIF, BMP, HEIF ------------------------------------------------------------------------
def _gif(data: bytes) -> list[MetadataItem]:
    items: list[MetadataItem] = []
    pos = 0
    while True:
        pos = data.find(b"\x21", pos)
        if pos < 0 or pos + 2 > len(data):
            break
        label = data[pos + 1]
        if label == 0xFE:
            items.append(_item("GIF-comment", "comment extension", _gif_blocks(data, pos + 2)))
        elif label == 0xFF and data[pos + 2 : pos + 3] == b"\x0b":
            app = data[pos + 3 : pos + 14]
            if not app.startswith(b"NETSCAPE") and not app.startswith(b"ANIMEXTS"):
                items.append(_item("GIF-application", app.decode("latin-1", "replace"), _gif_blocks(data, pos + 14)))
        pos += 2
    return items


def _gif_blocks(data: bytes, pos: int) -> bytes:
    out = bytearray()
    while pos < len(data):
        size = data[pos]
        if size == 0:
            break
        out += data[pos + 1 : pos + 1 + size]
        pos += 1 + size
    return bytes(out)


def _bmp(data: bytes) -> list[MetadataItem]:
    if len(data) >= 18 and struct.unpack("<I", data[14:18])[0] >= 124:
        cs = data[14 + 56 : 14 + 60]
        if cs in (b"MBED", b"LINK"):
            return [_item("ICC", "BMP V5 colour profile", cs, risk=False, action="converted")]
    return []


# What pillow_heif and Pillow's AVIF reader say about the picture itself: its
# container's structure, not metadata (the chroma subsampling, bit depth, which image
# is primary, and a still AVIF's timing).
_HEIF_STRUCTURE = {"mode", "primary", "bit_depth", "chroma", "original_orientation", "timestamp", "duration"}


def _pillow_info(data: bytes, fmt: str) -> list[MetadataItem]:
    items: list[MetadataItem] = []
    try:
        with Image.open(io.BytesIO(data)) as im:
            info = dict(im.info)
            n = int(getattr(im, "n_frames", 1) or 1)
    except Exception:  # noqa: BLE001
        return [_item(fmt, "unparseable container", "")]
    for key, value in info.items():
        if key == "exif" and value:
            raw = value[6:] if value.startswith(b"Exif\x00\x00") else value
            items.extend(_exif(raw))
        elif key == "xmp" and value:
            items.append(_item("XMP", f"{fmt} XMP", value))
        elif key == "icc_profile" and value:
            items.append(_item("ICC", f"{fmt} ICC profile", value, risk=False, action="converted"))
        elif key == "nclx_profile" and value:
            items.append(_item("ICC", f"{fmt} colour description (nclx)", value, risk=False, action="converted"))
        elif key not in _HEIF_STRUCTURE and value:
            # Anything else (metadata blocks, thumbnails, depth and auxiliary images)
            # is data besides the picture.
            items.append(_item(fmt, str(key), value))
    if n > 1:
        items.append(_item(fmt, "further images in the container", f"{n - 1}"))
    return items


# -- which items are identifiers, and of what kind (for the findings list) ----------------
_PERSON_KEYS = ("artist", "author", "owner", "copyright", "creator", "by-line", "xpauthor", "cameraownername")
_DEVICE_KEYS = ("serial", "uniqueid", "imageuniqueid", "hostcomputer")


def classify(item: MetadataItem) -> str | None:
    """The kind of identifier a photo metadata item is (LOCATION, PERSON, ...), or None."""
    if not item.phi_risk:
        return None
    key = item.key.lower().replace(" ", "")
    carrier = item.carrier.upper()
    if "GPS" in carrier:
        return "LOCATION"
    if any(k in key for k in _PERSON_KEYS):
        return "PERSON"
    if any(k in key for k in _DEVICE_KEYS):
        return "DEVICE_ID"
    if "date" in key or "time" in key or carrier.endswith("TIME"):
        return "DATE"
    if "thumbnail" in key or "THUMB" in carrier or "MPO" in carrier:
        return "EMBEDDED_IMAGE"
    if "MAKERNOTE" in carrier:
        return "DEVICE_DATA"
    if carrier in ("XMP", "IPTC", "JPEG-COM", "GIF-COMMENT") or carrier.startswith("PNG-") and "TXT" in carrier.upper():
        return "FREE_TEXT"
    return None
