"""Video: probe, stream, re-encode without metadata or audio, fail closed on damage.

Every clip is generated here with PyAV: frames drawn with Pillow (a burned-in
overlay with a name, a moving blob), GPS in ``©xyz`` and Apple's
``com.apple.quicktime.location.ISO6709`` key, a creation time, device make and
model, and an audio track."""
from __future__ import annotations

import io
import struct

import av
import numpy as np
import pytest
from PIL import Image, ImageDraw

from phi_guard.errors import DecodeError, InputError, MediaLimitError, UnsupportedFormatError
from phi_guard.formats import video
from phi_guard.formats.frame_changes import changing_regions
from phi_guard.formats.video.boxes import faststart

OVERLAY_BOX = (6, 6, 150, 22)  # where the name is burned in on every frame
GPS = "+48.8577+002.2950+035.000/"
PHONE_TAGS = {
    "location": GPS,
    "com.apple.quicktime.location.ISO6709": GPS,
    "creation_time": "2024-05-01T10:11:12.000000Z",
    "com.apple.quicktime.make": "Apple",
    "com.apple.quicktime.model": "iPhone 15 Pro",
}


def draw_frame(i: int, size: tuple[int, int]) -> Image.Image:
    im = Image.new("RGB", size, (16, 16, 16))
    draw = ImageDraw.Draw(im)
    draw.text((OVERLAY_BOX[0] + 2, OVERLAY_BOX[1] + 2), "DOE^JOHN 01/02/1960", fill=(255, 255, 255))
    draw.ellipse((100 + 2 * i, 80, 160 + 2 * i, 140), fill=(150, 110, 70))
    return im


def make_clip(fmt: str = "mp4", codec: str = "libx264", n: int = 30, size: tuple[int, int] = (320, 240),
              audio: bool = True, tags: dict[str, str] | None = None, pix_fmt: str = "yuv420p",
              rotation: int = 0) -> bytes:
    buf = io.BytesIO()
    options = {"movflags": "use_metadata_tags"} if fmt in ("mp4", "mov") else {}
    out = av.open(buf, "w", format=fmt, options=options)
    for key, value in (PHONE_TAGS if tags is None else tags).items():
        out.metadata[key] = value
    stream = out.add_stream(codec, rate=30)
    stream.width, stream.height, stream.pix_fmt = size[0], size[1], pix_fmt
    if rotation:
        stream.set_display_rotation(rotation)
    sound = out.add_stream("aac", rate=44100) if audio else None
    if sound is not None:
        sound.layout = "mono"
    for i in range(n):
        for packet in stream.encode(av.VideoFrame.from_image(draw_frame(i, size))):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    if sound is not None:
        mux_tone(out, sound, 44100)
    out.close()
    return buf.getvalue()


def mux_tone(out: av.container.OutputContainer, sound: av.audio.stream.AudioStream, samples: int) -> None:
    """A 440 Hz tone (mono, 44.1 kHz) into ``sound``."""
    tone = (0.2 * np.sin(np.arange(samples) * 2 * np.pi * 440 / 44100)).astype(np.float32)[None, :]
    frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
    frame.sample_rate, frame.pts = 44100, 0
    for packet in sound.encode(frame):
        out.mux(packet)
    for packet in sound.encode():
        out.mux(packet)


def add_udta_xyz(data: bytes, iso6709: str) -> bytes:
    """Add a QuickTime ``©xyz`` GPS box to moov/udta, as phones write it (FFmpeg writes
    ``loci`` instead once Apple keys are on). moov is last, so no media offset moves."""
    from phi_guard.formats.video.boxes import walk_boxes

    moov = next(b for b in walk_boxes(data, descend=False) if b.type == b"moov")
    udta = next(b for b in walk_boxes(moov.payload, descend=False) if b.type == b"udta")
    text = iso6709.encode()
    xyz = struct.pack(">I4sHH", 12 + len(text), b"\xa9xyz", len(text), 0x15C7) + text
    new_udta = struct.pack(">I4s", 8 + len(udta.payload) + len(xyz), b"udta") + udta.payload + xyz
    body = moov.payload[: udta.start] + new_udta + moov.payload[udta.body_start + len(udta.payload) :]
    assert moov.start + 8 + len(moov.payload) == len(data)
    return data[: moov.start] + struct.pack(">I4s", 8 + len(body), b"moov") + body


@pytest.fixture(scope="module")
def phone_mp4() -> bytes:
    return add_udta_xyz(make_clip(), GPS)


def masked(frames, box=OVERLAY_BOX):  # noqa: ANN001, ANN201 - DecodedFrame iterator
    """What redaction does with the overlay found in frame 0: fill it in every frame."""
    x0, y0, x1, y1 = box
    for frame in frames:
        pixels = frame.pixels.copy()
        pixels[y0:y1, x0:x1] = 0
        yield frame._replace(pixels=pixels)


def test_probe_describes_the_clip_and_lists_its_metadata_masked(phone_mp4: bytes) -> None:
    info = video.probe(phone_mp4)
    assert (info.container, info.codec, info.width, info.height) == ("MP4", "h264", 320, 240)
    assert info.fps == 30 and info.frame_count == 30 and info.frame_count_exact
    assert abs(info.duration_s - 1.0) < 0.05
    assert info.has_audio and info.audio_codecs == ("aac",)
    risky = [m for m in info.metadata if m.phi_risk]
    keys = {m.key for m in risky}
    assert "\xa9xyz" in keys  # the udta GPS box
    assert "com.apple.quicktime.location.ISO6709" in keys
    assert {"com.apple.quicktime.make", "com.apple.quicktime.model", "creation_time"} <= keys
    assert sum(m.carrier == "GPS" for m in risky) >= 2
    assert any(m.carrier == "MP4-time" for m in risky)  # mvhd/tkhd/mdhd times
    for item in info.metadata:  # masked: no digit or letter of a value survives
        assert "48" not in item.masked_value and "iPhone" not in item.masked_value and "Apple" not in item.masked_value


def test_frames_stream_in_order_with_rising_timestamps(phone_mp4: bytes) -> None:
    frames = video.iter_frames(phone_mp4)
    first = next(frames)
    assert first.index == 0 and first.pts == 0 and first.pixels.shape == (240, 320, 3)
    rest = list(frames)
    assert len(rest) == 29 and [f.index for f in rest] == list(range(1, 30))
    assert all(b.pts > a.pts for a, b in zip([first] + rest, rest))


def test_output_is_playable_mp4_with_overlay_masked_in_every_frame_and_no_metadata_or_audio(phone_mp4: bytes) -> None:
    info = video.probe(phone_mp4)
    source = list(video.iter_frames(phone_mp4, info))
    out = video.encode(masked(iter(source)), info)
    assert out[4:8] == b"ftyp"
    assert video.check_output(out, expected_frames=30) == []
    for needle in (b"48.8577", b"iPhone", b"Apple", b"2024-05-01", b"x264", b"Lavf5", b"Lavf6"):
        assert needle not in out, needle
    with av.open(io.BytesIO(out)) as container:
        assert set(container.metadata) <= {"major_brand", "minor_version", "compatible_brands"}
        assert [s.type for s in container.streams] == ["video"]  # audio dropped by default
        assert set(container.streams.video[0].metadata) <= {"language", "handler_name", "vendor_id"}
    back_info = video.probe(out)
    assert back_info.frame_count == 30 and back_info.fps == 30
    assert not [m for m in back_info.metadata if m.phi_risk]
    back = list(video.iter_frames(out, back_info))
    assert [f.pts * back_info.time_base for f in back] == [f.pts * info.time_base for f in source]  # same timing
    x0, y0, x1, y1 = OVERLAY_BOX
    for before, after in zip(source, back):
        # Solid within the codec's noise, in every frame; the rest close to the input.
        assert int(after.pixels[y0 + 2 : y1 - 2, x0 + 2 : x1 - 2].max()) <= 12
        diff = np.abs(after.pixels.astype(int) - before.pixels.astype(int))
        diff[y0 - 4 : y1 + 4, x0 - 4 : x1 + 4] = 0
        assert diff.mean() < 2.0


def test_keep_audio_re_encodes_the_sound_and_still_no_tags(phone_mp4: bytes) -> None:
    info = video.probe(phone_mp4)
    out = video.encode(video.iter_frames(phone_mp4, info), info, keep_audio=True, source=phone_mp4)
    with av.open(io.BytesIO(out)) as container:
        assert sorted(s.type for s in container.streams) == ["audio", "video"]
        assert container.streams.audio[0].codec_context.name == "aac"
    assert video.check_output(out) == []


def test_truncated_and_corrupt_mp4_give_one_typed_line(phone_mp4: bytes) -> None:
    # Index at the end (as phones write it): cut in half, nothing can be opened.
    with pytest.raises(DecodeError) as opened:
        video.probe(phone_mp4[: len(phone_mp4) // 2])
    # Index at the front: it opens, but frames are missing at the end.
    front = faststart(make_clip(n=60, audio=False))
    with pytest.raises(DecodeError) as truncated:
        list(video.iter_frames(front[: len(front) * 3 // 4]))
    for error in (opened.value, truncated.value):
        assert isinstance(error, InputError) and error.exit_code == 2
        assert "\n" not in str(error) and len(str(error)) < 200
    with pytest.raises(UnsupportedFormatError):
        video.probe(b"\x00\x00\x00\x18ftypheic" + bytes(100))  # a HEIC still is not a video


def test_limits_refuse_with_one_line(phone_mp4: bytes) -> None:
    with pytest.raises(MediaLimitError, match="0.5 s limit"):
        video.probe(phone_mp4, video.VideoLimits(max_seconds=0.5))
    with pytest.raises(MediaLimitError, match="frame limit"):
        video.probe(phone_mp4, video.VideoLimits(max_frames=10))
    with pytest.raises(MediaLimitError, match="320x240"):
        video.probe(phone_mp4, video.VideoLimits(max_width=200))


def test_webm_vp9_stays_webm_without_tags() -> None:
    clip = make_clip(fmt="webm", codec="libvpx-vp9", audio=False, n=20)
    info = video.probe(clip)
    assert info.container == "WEBM" and info.codec in ("vp9", "libvpx-vp9") and info.output_container == "WEBM"
    assert any(m.carrier == "GPS" and m.phi_risk for m in info.metadata)
    out = video.encode(video.iter_frames(clip, info), info)
    assert out[:4] == b"\x1a\x45\xdf\xa3" and video.check_output(out) == []
    assert b"48.8577" not in out and b"iPhone" not in out
    assert len(list(video.iter_frames(out))) == 20


def test_avi_mjpeg_becomes_mp4() -> None:
    clip = make_clip(fmt="avi", codec="mjpeg", audio=False, tags={"title": "John Doe"}, pix_fmt="yuvj420p", n=12)
    info = video.probe(clip)
    assert (info.container, info.codec, info.output_container) == ("AVI", "mjpeg", "MP4")
    assert any(m.key.endswith("title") and m.phi_risk for m in info.metadata)
    out = video.encode(video.iter_frames(clip, info), info)
    assert video.check_output(out, expected_frames=12) == [] and b"John" not in out


def test_rotation_is_applied_to_the_pixels_and_odd_sizes_are_padded() -> None:
    clip = make_clip(size=(161, 120), rotation=90, audio=False, tags={}, n=5, pix_fmt="yuv444p")  # 4:4:4 allows odd sizes
    info = video.probe(clip)
    assert info.rotation == 90 and (info.width, info.height) == (120, 161)  # as displayed
    first = next(video.iter_frames(clip, info)).pixels
    assert first.shape == (161, 120, 3)
    assert video.output_size(info) == (120, 162)
    out = video.encode(video.iter_frames(clip, info), info)
    back = video.probe(out)
    assert back.rotation == 0 and (back.width, back.height) == (120, 162)


def test_changing_regions_skip_the_fixed_overlay_after_the_first_frame(phone_mp4: bytes) -> None:
    changes = list(changing_regions(f.pixels for f in video.iter_frames(phone_mp4)))
    assert changes[0].whole
    x0, y0, x1, y1 = OVERLAY_BOX
    for change in changes[1:]:
        assert not change.whole
        # The moving blob is re-read; the overlay's text is not read again.
        assert all(b[1] >= y1 or b[3] <= y0 or b[0] >= x1 or b[2] <= x0 for b in change.boxes), change
    assert sum(c.needs_reading for c in changes[1:]) >= 20  # the blob moves on (almost) every frame


def test_moving_areas_can_be_re_read_every_few_frames_without_missing_lasting_text() -> None:
    rng = np.random.default_rng(3)
    frames = []
    for i in range(40):
        frame = np.zeros((180, 320, 3), np.uint8)
        frame[40:160, 100:300] = rng.integers(0, 120, (120, 200, 1), dtype=np.uint8)  # speckle, new every frame
        im = Image.fromarray(frame)
        ImageDraw.Draw(im).text((8, 8), "DOE^JOHN", fill=(255, 255, 255))  # fixed overlay
        if 10 <= i < 18:  # a label shown inside the moving area for 8 frames
            ImageDraw.Draw(im).text((120, 90), "MRN 445566", fill=(255, 255, 0))
        frames.append(np.asarray(im))
    strict = list(changing_regions(frames))
    thinned = list(changing_regions(frames, moving_every=4))
    assert sum(c.needs_reading for c in strict) == 40  # the speckle changes on every frame
    assert sum(c.needs_reading for c in thinned) <= 16
    label = (120, 90, 190, 100)
    read_while_shown = [c for c in thinned[10:18]
                        if any(b[0] <= label[0] and b[1] <= label[1] and b[2] >= label[2] and b[3] >= label[3] for b in c.boxes)]
    assert read_while_shown  # the label is read at least once while it is on screen


def test_streaming_holds_no_process_wide_lock_between_frames(phone_mp4: bytes) -> None:
    # OCR runs between two frames and takes phi_guard.quiet's lock: a decoder that held
    # it while suspended would deadlock the screen.
    from phi_guard import quiet

    for _ in video.iter_frames(phone_mp4):
        assert quiet._lock.acquire(timeout=1)
        quiet._lock.release()


@pytest.mark.parametrize(("fmt", "codec", "decoded_as", "written_as"), [
    ("mp4", "libx265", "hevc", "MP4"),
    ("webm", "libsvtav1", "av1", "WEBM"),
])
def test_hevc_and_av1_inputs_are_read(fmt: str, codec: str, decoded_as: str, written_as: str) -> None:
    clip = make_clip(fmt=fmt, codec=codec, audio=False, tags={}, n=8)
    info = video.probe(clip)
    assert decoded_as in info.codec and info.output_container == written_as
    out = video.encode(video.iter_frames(clip, info), info)
    assert video.check_output(out) == [] and len(list(video.iter_frames(out))) == 8


def test_moving_every_also_thins_a_view_that_moves_everywhere() -> None:
    rng = np.random.default_rng(4)
    frames = [rng.integers(0, 255, (64, 96, 3), dtype=np.uint8) for _ in range(30)]  # endoscope-like: all moves
    reads = [c.index for c in changing_regions(frames, moving_every=5) if c.needs_reading]
    assert reads[:3] == [0, 1, 2] and set(reads[3:]) <= {i for i in range(30) if i % 5 == 0}
