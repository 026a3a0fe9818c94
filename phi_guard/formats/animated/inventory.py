"""Metadata of multi-frame containers (values masked), and the check that an output has none.

The still-image inventory (phi_guard.formats.photo.metadata) walks a file's first image; here
every frame's carriers are listed too: GIF extensions parsed block by block (a
byte search would find "comments" inside LZW data), TIFF tags of every page, the
segments of every image of an MPO. The output check is an allow-list: a written
file may hold only the blocks, chunks or tags that carry pixels and timing.
"""
from __future__ import annotations

import io

from PIL import ExifTags, Image

from ...mask import mask_value
from ...types import MetadataItem
from ..photo.metadata import STRUCTURAL_TIFF_TAGS, inventory_container
from .apng import png_chunks
from .gif import is_loop_block, walk_gif
from .webp import riff_chunks

_OUTPUT_PNG_CHUNKS = {b"IHDR", b"acTL", b"fcTL", b"IDAT", b"fdAT", b"IEND"}
_OUTPUT_WEBP_CHUNKS = {b"VP8X", b"ANIM", b"ANMF"}
_OUTPUT_ANMF_CHUNKS = {b"ALPH", b"VP8 ", b"VP8L"}
_MPF_INDEX_TAGS = {0xB000, 0xB001, 0xB002}  # version, number of images, image offsets


def _item(carrier: str, key: str, value: object, risk: bool = True) -> MetadataItem:
    return MetadataItem(carrier=carrier, key=key, masked_value=mask_value(value), phi_risk=risk)


def inventory(data: bytes, fmt: str) -> list[MetadataItem]:
    """Every metadata item in a multi-frame container, values masked."""
    if fmt == "GIF":
        return _gif(data)
    items = list(inventory_container(data, fmt))
    if fmt == "TIFF":
        items.extend(_tiff_later_pages(data))
    elif fmt == "MPO":
        for number, image in enumerate(_mpo_images(data)[1:], start=2):
            items.extend(_prefixed(inventory_container(image, "JPEG"), f"image {number}: "))
    return items


def _prefixed(items: list[MetadataItem], prefix: str) -> list[MetadataItem]:
    return [MetadataItem(i.carrier, prefix + i.key, i.masked_value, i.action, i.phi_risk) for i in items]


def _gif(data: bytes) -> list[MetadataItem]:
    try:
        blocks = walk_gif(data)
    except (ValueError, IndexError):
        return [_item("GIF", "unparseable block structure", "")]
    items = []
    for block in blocks:
        if block.kind in ("image", "graphic-control") or is_loop_block(block):
            continue
        if block.kind == "comment":
            items.append(_item("GIF-comment", "comment extension", block.payload.decode("latin-1", "replace")))
        elif block.kind == "plain-text":
            items.append(_item("GIF-plaintext", "plain text extension (text some viewers draw over the image)",
                               block.payload.decode("latin-1", "replace")))
        elif block.kind == "application" and block.label.startswith("XMP Data"):
            items.append(_item("XMP", "GIF XMP application extension", block.payload))
        elif block.kind == "application":
            items.append(_item("GIF-application", block.label, block.payload))
        else:
            items.append(_item("GIF", block.kind, block.payload))
    return items


def _tiff_later_pages(data: bytes) -> list[MetadataItem]:
    items = []
    try:
        with Image.open(io.BytesIO(data)) as im:
            for page in range(1, int(getattr(im, "n_frames", 1) or 1)):
                im.seek(page)
                for tag, value in dict(getattr(im, "tag_v2", {})).items():  # TIFF pages only
                    name = f"page {page + 1}: " + ExifTags.TAGS.get(tag, f"0x{tag:04x}")
                    items.append(_item("TIFF", name, value, risk=tag not in STRUCTURAL_TIFF_TAGS))
    except Exception:  # noqa: BLE001 - a page that cannot be listed is reported, decoding decides
        items.append(_item("TIFF", "unparseable page directory", ""))
    return items


def _mpo_images(data: bytes) -> list[bytes]:
    """The JPEG streams of an MPO, at the offsets its MP index gives."""
    with Image.open(io.BytesIO(data)) as im:
        entries = getattr(im, "mpinfo", {}).get(0xB002, [])
        if not entries:
            return [data]
        first_ifd = im.info.get("mpoffset")
    images = [data]
    if first_ifd is None:  # Pillow consumed it; recompute from the MPF segment position
        first_ifd = data.find(b"MPF\x00") + 4
    for entry in entries[1:]:
        start = entry["DataOffset"] + first_ifd
        images.append(data[start : start + entry["Size"]])
    return images


def check_output(encoded: bytes, fmt: str) -> list[str]:
    """Problems with an encoded multi-frame output: anything beyond pixels and timing."""
    try:
        unexpected = _unexpected_parts(encoded, fmt)
    except (ValueError, IndexError, OSError) as exc:
        return [f"the {fmt} output's structure cannot be read ({type(exc).__name__})"]
    problems = [f"the output carries {part}" for part in sorted(set(unexpected))]
    leftovers = sorted({i.carrier for i in inventory(encoded, fmt) if i.phi_risk and not _frames_themselves(i)})
    if leftovers:
        problems.append("the output still carries metadata: " + ", ".join(leftovers))
    return problems


def _frames_themselves(item: MetadataItem) -> bool:
    """Items the still-image inventory lists for a second page or image: in a
    multi-frame output those are the frames being written (their MP index is
    checked tag by tag in _unexpected_parts)."""
    return item.carrier in ("MPO", "MPO/embedded") or (item.carrier == "TIFF" and item.key == "further pages")


def _unexpected_parts(encoded: bytes, fmt: str) -> list[str]:
    if fmt == "GIF":
        return [f"a GIF {b.kind} block" for b in walk_gif(encoded) if b.kind not in ("image", "graphic-control") and not is_loop_block(b)]
    if fmt == "PNG":
        return [f"a PNG {c.decode('latin-1')} chunk" for c, _ in png_chunks(encoded) if c not in _OUTPUT_PNG_CHUNKS]
    if fmt == "WEBP":
        parts = []
        for fourcc, body in riff_chunks(encoded):
            if fourcc not in _OUTPUT_WEBP_CHUNKS:
                parts.append(f"a WebP {fourcc.decode('latin-1')} chunk")
            elif fourcc == b"VP8X" and body[0] & 0x2C:  # ICC, EXIF or XMP flag
                parts.append("a WebP metadata flag")
            elif fourcc == b"ANMF":
                inner = riff_chunks(b"RIFF\0\0\0\0WEBP" + body[16:])
                parts.extend(f"a WebP {c.decode('latin-1')} chunk in a frame" for c, _ in inner if c not in _OUTPUT_ANMF_CHUNKS)
        return parts
    if fmt == "TIFF":
        return []  # every page's tags are listed by inventory(); non-structural ones are risks
    if fmt == "MPO":
        with Image.open(io.BytesIO(encoded)) as im:
            extra = set(getattr(im, "mpinfo", {}) or {}) - _MPF_INDEX_TAGS
        return [f"an MPF attribute 0x{tag:04x}" for tag in sorted(extra)]
    raise ValueError(f"no output check for {fmt}")
