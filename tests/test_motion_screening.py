"""Animated images and video screened end to end (real OCR, real detector).

Every input is generated here: an animated GIF with a name on frame 7 only (Pillow),
and an MP4 with a burned-in name and MRN on every frame, GPS (``©xyz`` and Apple's
location key), a creation time, a device make and an audio track (PyAV)."""
from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from phi_guard import Screener
from phi_guard.errors import PolicyError
from phi_guard.formats.animated.adapter import AnimatedAdapter
from phi_guard.formats.photo import PhotoAdapter
from phi_guard.formats.video.boxes import header_time, walk_boxes
from phi_guard.load import input_adapter
from phi_guard.policy import Policy
from phi_guard.types import Verdict
from PIL import Image, ImageDraw, ImageFont
from test_video import add_udta_xyz, mux_tone

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
DURATIONS = [100, 120, 80, 100, 60, 200, 90, 150, 100, 40, 70, 110]
NAME_AT = (20, 220)  # where frame 7 carries the name
GPS = "+48.8577+002.2950+035.000/"
CLI = [sys.executable, "-m", "phi_guard.cli"]


def gif_frames(name_on: int | None = 7) -> list[Image.Image]:
    """A small cine: a fixed label that is not an identifier, a moving blob, and a
    patient name on one frame only."""
    font = ImageFont.truetype(FONT, 24)
    frames = []
    for i in range(len(DURATIONS)):
        im = Image.new("RGB", (480, 270), (12, 12, 12))
        draw = ImageDraw.Draw(im)
        draw.text((10, 8), "ECHO 4CH", fill=(230, 230, 230), font=font)
        draw.ellipse((200 + 6 * i, 90, 260 + 6 * i, 150), fill=(150, 110, 70))
        if i == name_on:
            draw.text(NAME_AT, "Patient: John Smith", fill=(255, 255, 255), font=font)
        frames.append(im)
    return frames


def animated_gif(frames: list[Image.Image]) -> bytes:
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=DURATIONS, loop=0,
                   comment=b"patient John Smith")
    return buf.getvalue()


def overlay_clip(seconds: int = 2, size: tuple[int, int] = (320, 240)) -> bytes:
    """An H.264 MP4 with a burned-in name and MRN on every frame, a blob that moves now
    and then, GPS, a creation time, a device make and an audio track."""
    font = ImageFont.truetype(FONT, 20)
    buf = io.BytesIO()
    out = av.open(buf, "w", format="mp4", options={"movflags": "use_metadata_tags"})
    out.metadata.update({"location": GPS, "com.apple.quicktime.location.ISO6709": GPS,
                         "creation_time": "2024-05-01T10:11:12.000000Z", "com.apple.quicktime.make": "Apple"})
    stream = out.add_stream("libx264", rate=30)
    stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
    sound = out.add_stream("aac", rate=44100)
    sound.layout = "mono"
    for i in range(seconds * 30):
        im = Image.new("RGB", size, (16, 16, 16))
        draw = ImageDraw.Draw(im)
        draw.text((8, 6), "Patient: John Smith", fill=(255, 255, 255), font=font)
        draw.text((8, 32), "MRN: 48213957", fill=(255, 255, 255), font=font)
        x = 120 + 20 * (i // 15)  # moves every half second
        draw.ellipse((x, 130, x + 50, 180), fill=(150, 110, 70))
        for packet in stream.encode(av.VideoFrame.from_image(im)):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    mux_tone(out, sound, 44100 * seconds)
    out.close()
    return add_udta_xyz(buf.getvalue(), GPS)  # phones write ©xyz; FFmpeg's muxer does not


def test_still_gif_stays_a_photo_and_animated_gif_goes_to_the_animated_adapter() -> None:
    frames = gif_frames(None)
    buf = io.BytesIO()
    frames[0].save(buf, "GIF")
    assert isinstance(input_adapter(buf.getvalue()), PhotoAdapter)
    assert isinstance(input_adapter(animated_gif(frames)), AnimatedAdapter)


def test_gif_with_a_name_on_frame_7_comes_out_animated_with_the_name_masked(screener: Screener) -> None:
    data = animated_gif(gif_frames())
    result = screener.screen(data, name="cine.gif")
    assert result.verdict is Verdict.REDACTED, result.reasons
    assert result.output_format == "GIF"
    names = [f for f in result.findings if f.kind == "PERSON" and f.where.value == "pixels"]
    assert names and {f.frame for f in names} == {7}
    report = result.report
    assert report["input"]["frames_in_file"] == 12
    assert report["reading"]["frames_decoded"] == 12 and report["reading"]["frames_read_whole"] == 1
    assert report["verification"]["passed"] and report["verification"]["frames_checked"] >= 3
    assert "GIF-comment" in {m.carrier for m in result.metadata}

    with Image.open(io.BytesIO(result.safe_bytes)) as out:
        assert out.n_frames == 12
        assert out.info.get("loop") == 0
        assert "comment" not in out.info
        durations, frames = [], []
        for i in range(out.n_frames):
            out.seek(i)
            durations.append(out.info["duration"])
            frames.append(np.asarray(out.convert("RGB")))
    assert durations == DURATIONS
    # No stroke of the (white) name is left on frame 7: the mask (black) and the dark
    # background only. Masks apply to every frame, so the others are dark there too.
    x0, y0, x1, y1 = ImageFont.truetype(FONT, 24).getbbox("Patient: John Smith")
    name_part = frames[7][NAME_AT[1] + y0 : NAME_AT[1] + y1, NAME_AT[0] + 110 : NAME_AT[0] + x1]
    assert int(name_part.max()) < 40 and int((name_part == 0).all(axis=2).mean() * 100) > 50
    before = np.asarray(gif_frames()[7].convert("RGB"))[NAME_AT[1] + y0 : NAME_AT[1] + y1, NAME_AT[0] + 110 : NAME_AT[0] + x1]
    assert int(before.max()) > 200  # the check above can fail: the name was there
    # The fixed label that is not an identifier is still there.
    assert int(frames[0][8:40, 10:120].max()) > 200


def test_mp4_overlay_masked_in_every_frame_without_gps_time_or_audio(screener: Screener, tmp_path: Path) -> None:
    data = overlay_clip()
    result = screener.screen(data, name="clip.mp4")
    assert result.verdict is Verdict.REDACTED, result.reasons
    assert result.output_format == "MP4"
    kinds = {f.kind for f in result.findings if f.where.value == "pixels"}
    assert "PERSON" in kinds and "MEDICAL_RECORD_NUMBER" in kinds
    carriers = {m.carrier for m in result.metadata}
    assert {"GPS", "audio"} <= carriers
    report = result.report
    assert report["input"]["frames_in_file"] == 60 and report["reading"]["frames_decoded"] == 60
    assert report["reading"]["frames_read"] < 60  # the fixed overlay is not read again on every frame
    assert report["video"]["audio"] == "audio dropped"
    assert report["verification"]["passed"] and report["verification"]["frames_checked"] >= 3

    safe = result.safe_bytes
    assert safe is not None
    assert b"\xa9xyz" not in safe and b"ISO6709" not in safe and GPS.encode() not in safe
    assert not any(header_time(box) for box in walk_boxes(safe))
    with av.open(io.BytesIO(safe)) as container:
        assert not container.streams.audio
        assert not any(k in container.metadata for k in ("location", "creation_time", "com.apple.quicktime.make"))
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    assert len(frames) == 60
    font = ImageFont.truetype(FONT, 20)
    for text, (x, y) in (("Patient: John Smith", (8, 6)), ("MRN: 48213957", (8, 32))):
        b = font.getbbox(text)
        # The identifying part of each line (after its label): solid, up to codec noise.
        start = x + font.getbbox(text.split(": ")[0] + ": ")[2]
        for pixels in frames:
            region = pixels[y + b[1] + 2 : y + b[3] - 2, start + 2 : x + b[2] - 2].astype(int)
            assert region.max() - region.min() <= 24
    result.save(tmp_path / "safe.mp4")
    assert (tmp_path / "safe.mp4").read_bytes() == safe


def test_corrupt_mp4_gives_exit_2_and_one_line(tmp_path: Path) -> None:
    data = overlay_clip(seconds=1)
    mdat = next(b for b in walk_boxes(data, descend=False) if b.type == b"mdat")
    broken = bytearray(data)
    broken[mdat.body_start + 40 : mdat.body_start + 4000] = bytes(3960)  # media data zeroed
    clip = tmp_path / "broken.mp4"
    clip.write_bytes(bytes(broken[: len(broken) // 2]))  # and the index cut off
    r = subprocess.run(CLI + ["check", str(clip)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("phi-guard: error: broken.mp4:"), r.stderr
    assert not list(tmp_path.glob("broken.safe*"))


def test_video_policy_is_range_checked() -> None:
    assert Policy.default().video.keep_audio is False
    for bad in ({"max_frames": 0}, {"max_seconds": 10_000}, {"moving_every": 2.5}, {"keep_audio": "yes"},
                {"verify_per_second": 0}):
        with pytest.raises(PolicyError, match="video"):
            Policy.from_table({"video": bad})


def test_serve_returns_the_safe_clip_as_video_mp4_and_the_page_plays_it() -> None:
    from fastapi.testclient import TestClient
    from phi_guard.web import create_app
    from phi_guard.web.app import ServerConfig

    with TestClient(create_app(ServerConfig(workers=1))) as client:
        page = client.get("/").text
        assert "<video" in page and "video/*" in page
        r = client.post("/v1/screen", files={"file": ("clip.mov", overlay_clip(seconds=1), "video/quicktime")})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["verdict"] == "REDACTED"
        assert body["image"]["media_type"] == "video/mp4" and body["image"]["filename"] == "clip.safe.mp4"
        d = client.get(body["image_url"])
        assert d.status_code == 200 and d.headers["content-type"] == "video/mp4"
        with av.open(io.BytesIO(d.content)) as container:
            assert not container.streams.audio and container.streams.video[0].frames == 30


def test_scan_picks_up_animations_and_clips_by_content(tmp_path: Path) -> None:
    from phi_guard.batch import scan_folder

    tree = tmp_path / "in"
    tree.mkdir()
    (tree / "loop.gif").write_bytes(animated_gif(gif_frames(None)))
    (tree / "clip.mov").write_bytes(overlay_clip(seconds=1))
    summary = scan_folder(tree, tmp_path / "out", workers=1)
    assert summary.counts == {"CLEAN": 1, "REDACTED": 1}, summary.counts
    with Image.open(tmp_path / "out" / "loop.gif") as out:
        assert out.n_frames == len(DURATIONS)
    with av.open(str(tmp_path / "out" / "clip.mp4")) as container:
        assert container.streams.video[0].frames == 30 and not container.streams.audio
