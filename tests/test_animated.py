"""Multi-frame images (GIF, APNG, WebP, TIFF, MPO): every frame decoded as displayed,
written back with the same frame count and timing, and nothing else.

All inputs are generated here with Pillow (plus a few hand-made blocks Pillow cannot
write: a GIF XMP application extension and a plain-text extension)."""
from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import Image, ImageDraw, PngImagePlugin

from phi_guard.errors import DecodeError, InputError, MediaLimitError
from phi_guard.formats import animated
from phi_guard.formats.animated import Animation
from phi_guard.formats.frame_changes import changing_regions
from phi_guard.policy import Policy

POLICY = Policy.default()
NAME = "DOE^JOHN"
NAME_BOX = (8, 140, 120, 156)  # where frame 7 carries the name
DURATIONS = [100, 120, 80, 100, 60, 200, 90, 150, 100, 40]


def cine_frames(n: int = 10, name_on: int | None = 7, size: tuple[int, int] = (320, 180)) -> list[Image.Image]:
    """A small 'cine': a fixed overlay line, a moving blob, the name on one frame only."""
    frames = []
    for i in range(n):
        im = Image.new("RGB", size, (10, 10, 10))
        draw = ImageDraw.Draw(im)
        draw.text((8, 4), "ECHO 4CH", fill=(255, 255, 255))
        draw.ellipse((160 + 4 * i, 60, 200 + 4 * i, 100), fill=(150, 110, 70))
        if i == name_on:
            draw.rectangle(NAME_BOX, fill=(10, 10, 10))
            draw.text((NAME_BOX[0] + 2, NAME_BOX[1] + 2), NAME, fill=(255, 255, 0))
        frames.append(im)
    return frames


def gif_with_extras(frames: list[Image.Image]) -> bytes:
    """An animated GIF with a comment (Pillow), plus an XMP application extension and a
    plain-text extension spliced in before the first image (Pillow writes neither)."""
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=DURATIONS, loop=0, comment=b"patient " + NAME.encode())
    data = buf.getvalue()
    xmp = b"<x:xmpmeta><dc:creator>" + NAME.encode() + b"</dc:creator></x:xmpmeta>"
    xmp_ext = b"\x21\xff\x0bXMP DataXMP" + _sub_blocks(xmp)
    text_ext = b"\x21\x01" + _sub_blocks(struct.pack("<HHHHBBBB", 0, 0, 80, 8, 8, 8, 1, 0), b"MRN 123456")
    first_image = _first_image_position(data)
    return data[:first_image] + xmp_ext + text_ext + data[first_image:]


def _sub_blocks(*payloads: bytes) -> bytes:
    out = b""
    for payload in payloads:
        for i in range(0, len(payload), 255):
            chunk = payload[i : i + 255]
            out += bytes([len(chunk)]) + chunk
    return out + b"\x00"


def _first_image_position(data: bytes) -> int:
    from phi_guard.formats.animated.gif import walk_gif  # noqa: F401 - the same walk the code uses

    flags = data[10]
    pos = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    while data[pos] == 0x21:
        pos += 2
        while data[pos]:
            pos += data[pos] + 1
        pos += 1
    return pos


def mask_everywhere(animation: Animation, box: tuple[int, int, int, int]) -> Animation:
    """What redaction does with a finding from one frame: fill it in every frame."""
    x0, y0, x1, y1 = box
    frames = []
    for frame in animation.frames:
        masked = frame.copy()
        masked[y0:y1, x0:x1] = 0
        frames.append(masked)
    return animation.with_frames(tuple(frames))


def test_gif_name_on_frame_7_round_trip_keeps_frames_timing_and_masks_every_frame() -> None:
    data = gif_with_extras(cine_frames())
    decoded = animated.decode(data, POLICY, max_frames=100)
    assert decoded.format == "GIF" and decoded.frame_count == 10
    assert decoded.durations_ms == tuple(float(d) for d in DURATIONS) and decoded.loop == 0
    # The name is on frame 7 only: yellow pixels there and nowhere else.
    yellow = [int(((f[:, :, 0] > 200) & (f[:, :, 1] > 200) & (f[:, :, 2] < 80)).sum()) for f in decoded.frames]
    assert yellow[7] > 20 and sum(yellow) == yellow[7]

    out = animated.encode(mask_everywhere(decoded, NAME_BOX))
    back = animated.decode(out, POLICY, max_frames=100)
    assert back.format == "GIF" and back.frame_count == 10
    assert back.durations_ms == decoded.durations_ms and back.loop == 0
    x0, y0, x1, y1 = NAME_BOX
    for before, after in zip(decoded.frames, back.frames):
        assert int(after[y0:y1, x0:x1].max()) == 0  # solid in every frame
        outside = np.ones(after.shape[:2], bool)
        outside[y0:y1, x0:x1] = False
        assert np.array_equal(before[outside], after[outside])  # GIF colours are exact
    assert animated.check_output(out, "GIF") == []


def test_gif_inventory_lists_comment_xmp_and_plain_text_masked() -> None:
    data = gif_with_extras(cine_frames())
    items = animated.inventory(data, "GIF")
    carriers = {i.carrier for i in items}
    assert {"GIF-comment", "XMP", "GIF-plaintext"} <= carriers
    assert all(i.phi_risk for i in items)
    assert not any("DOE" in i.masked_value or "123456" in i.masked_value for i in items)
    problems = animated.check_output(data, "GIF")
    assert any("comment" in p for p in problems) and any("application" in p for p in problems)


def test_identical_consecutive_frames_are_kept_in_every_container() -> None:
    # Pillow's and libwebp's writers fold a repeated frame into the one before; a cine
    # with a paused stretch must keep its frame count.
    base = np.asarray(cine_frames(3, name_on=None)[0])
    other = np.asarray(cine_frames(3, name_on=None)[2])
    frames = (base, base, base, other, other)
    for fmt in ("GIF", "PNG", "WEBP"):
        anim = Animation(fmt, frames, (100.0, 100.0, 50.0, 70.0, 30.0), 0)
        back = animated.decode(animated.encode(anim), POLICY, max_frames=100)
        assert back.frame_count == 5, fmt
        assert back.durations_ms == (100.0, 100.0, 50.0, 70.0, 30.0), fmt
        assert all(np.array_equal(a, b) for a, b in zip(frames, back.frames)), fmt


def test_apng_with_text_chunk_and_hidden_default_image() -> None:
    frames = cine_frames()
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "John Doe")
    buf = io.BytesIO()
    frames[0].save(buf, "PNG", save_all=True, append_images=frames[1:], duration=DURATIONS, loop=2, pnginfo=info,
                   default_image=True)
    data = buf.getvalue()
    assert any(i.carrier == "PNG-tEXt" and i.masked_value == "**** ***" for i in animated.inventory(data, "PNG"))
    decoded = animated.decode(data, POLICY, max_frames=100)
    assert decoded.default_image_hidden and decoded.loop == 2
    out = animated.encode(decoded)
    back = animated.decode(out, POLICY, max_frames=100)
    assert back.frame_count == decoded.frame_count and back.default_image_hidden
    assert back.durations_ms == decoded.durations_ms
    assert all(np.array_equal(a, b) for a, b in zip(decoded.frames, back.frames))
    assert animated.check_output(out, "PNG") == []
    assert animated.check_output(data, "PNG")


def test_animated_webp_drops_exif_and_xmp_and_keeps_timing() -> None:
    frames = cine_frames()
    exif = Image.Exif()
    exif[0x013B] = "John Doe"  # Artist
    buf = io.BytesIO()
    frames[0].save(buf, "WEBP", save_all=True, append_images=frames[1:], duration=DURATIONS, loop=0, lossless=True,
                   exif=exif.tobytes(), xmp=b"<x:xmpmeta>John Doe</x:xmpmeta>")
    data = buf.getvalue()
    carriers = {i.carrier for i in animated.inventory(data, "WEBP") if i.phi_risk}
    assert {"EXIF", "XMP"} <= carriers
    decoded = animated.decode(data, POLICY, max_frames=100)
    assert decoded.frame_count == 10 and decoded.durations_ms == tuple(float(d) for d in DURATIONS)
    out = animated.encode(decoded)
    back = animated.decode(out, POLICY, max_frames=100)
    assert back.frame_count == 10 and back.durations_ms == decoded.durations_ms and back.loop == 0
    assert all(np.array_equal(a, b) for a, b in zip(decoded.frames, back.frames))  # lossless
    assert animated.check_output(out, "WEBP") == []
    assert animated.inventory(out, "WEBP") == []


def test_multipage_tiff_lists_tags_of_every_page_and_writes_all_pages() -> None:
    pages = cine_frames(4)
    pages[2].encoderinfo = {}
    buf = io.BytesIO()
    tiffinfo = {270: "Jane Roe knee"}  # ImageDescription
    pages[0].save(buf, "TIFF", save_all=True, append_images=pages[1:], tiffinfo=tiffinfo)
    data = buf.getvalue()
    keys = [i.key for i in animated.inventory(data, "TIFF") if i.phi_risk]
    assert any(k.startswith("page 2: ImageDescription") for k in keys)  # not only the first page
    decoded = animated.decode(data, POLICY, max_frames=100)
    assert decoded.frame_count == 4 and decoded.loop is None
    out = animated.encode(decoded)
    back = animated.decode(out, POLICY, max_frames=100)
    assert back.frame_count == 4 and all(np.array_equal(a, b) for a, b in zip(decoded.frames, back.frames))
    assert animated.check_output(out, "TIFF") == []
    assert animated.check_output(data, "TIFF")


def test_mpo_every_image_inventoried_and_written_back() -> None:
    left, right = cine_frames(2, name_on=None)
    exif = Image.Exif()
    exif[0x013B] = "John Doe"
    buf = io.BytesIO()
    left.save(buf, "MPO", save_all=True, append_images=[right], exif=exif)
    data = buf.getvalue()
    items = animated.inventory(data, "MPO")
    assert any(i.key == "image 2: Artist" for i in items)  # the second image's own EXIF
    decoded = animated.decode(data, POLICY, max_frames=10)
    assert decoded.format == "MPO" and decoded.frame_count == 2
    three = decoded.with_frames(decoded.frames) if False else Animation("MPO", decoded.frames + decoded.frames[:1], (0.0,) * 3, None)
    out = animated.encode(three)
    back = animated.decode(out, POLICY, max_frames=10)
    assert back.format == "MPO" and back.frame_count == 3  # Pillow's own writer breaks from 3 images on
    assert all(np.abs(a.astype(int) - b.astype(int)).mean() < 3 for a, b in zip(three.frames, back.frames))
    assert animated.check_output(out, "MPO") == []
    assert animated.check_output(data, "MPO")


def test_grey_gif_stays_grey_and_exact() -> None:
    frames = [im.convert("L") for im in cine_frames(4)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    decoded = animated.decode(buf.getvalue(), POLICY, max_frames=10)
    assert decoded.frames[0].ndim == 2
    back = animated.decode(animated.encode(decoded), POLICY, max_frames=10)
    assert all(np.array_equal(a, b) for a, b in zip(decoded.frames, back.frames))


def test_frame_limit_and_truncated_gif_fail_with_one_typed_line() -> None:
    data = gif_with_extras(cine_frames())
    with pytest.raises(MediaLimitError) as limit:
        animated.decode(data, POLICY, max_frames=5)
    assert "10 frames" in str(limit.value) and "\n" not in str(limit.value)
    with pytest.raises(DecodeError) as damaged:
        animated.decode(data[: len(data) * 2 // 3], POLICY, max_frames=100)
    assert isinstance(damaged.value, InputError) and damaged.value.exit_code == 2 and "\n" not in str(damaged.value)


def test_changing_regions_reads_the_name_frame_and_not_the_fixed_overlay_again() -> None:
    decoded = animated.decode(gif_with_extras(cine_frames()), POLICY, max_frames=100)
    changes = list(changing_regions(decoded.frames))
    assert changes[0].whole
    overlay = (8, 4, 72, 14)  # "ECHO 4CH": fixed, read with frame 0 only
    for change in changes[1:]:
        assert not change.whole
        assert all(b[3] <= overlay[1] or b[1] >= overlay[3] or b[2] <= overlay[0] or b[0] >= overlay[2]
                   for b in change.boxes), change
    x0, y0, x1, y1 = NAME_BOX
    assert any(b[0] <= x0 + 4 and b[1] <= y0 + 2 and b[2] >= x0 + 60 and b[3] >= y0 + 10 for b in changes[7].boxes)
