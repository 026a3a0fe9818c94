"""Codec cost of screening a clip: probe, decode, change tracking, re-encode, output check
and a verification decode of a 10 s, 30 fps, 720p clip with a fixed overlay, on one core.

The issue's target is the whole screen in under 3x the clip's duration (30 s for this
clip); what is measured here is everything except OCR, detection and redaction, so
the rest of the budget is what OCR of the changed regions may use.

Two generated clips (H.264, as a phone or an ultrasound export writes them):
- ``echo``: a fan-shaped sector whose speckle changes on every frame (an echo cine)
  under a fixed overlay (name, date of birth, institution) and a running clock;
- ``static``: a still background with a slowly moving blob and the same overlay.
Usage: python bench/run_video_bench.py [--webm] [--seconds 10] [--json out.json]

``--end-to-end`` screens the clip with phi_guard.Screener instead (everything: probe,
reading the changes with OCR, detection, masking every frame, encoding, verification),
on one core with single-threaded OCR (OMP_THREAD_LIMIT=1, ONNX Runtime 1 thread), the
engines loaded beforehand (as in a running server or batch worker); the report's frame
counts are printed with the times.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from phi_guard.formats import video  # noqa: E402
from phi_guard.formats.frame_changes import ChangeTracker  # noqa: E402

WIDTH, HEIGHT, FPS = 1280, 720, 30
OVERLAY_BOX = (16, 12, 520, 96)
MOVING_EVERY = 6  # three lines of burned-in identifiers, masked in every frame


def overlay_layer() -> tuple[np.ndarray, np.ndarray]:
    im = Image.new("RGB", (WIDTH, HEIGHT), (0, 0, 0))
    draw = ImageDraw.Draw(im)
    for row, text in enumerate(("DOE^JOHN   MRN 4455667", "DOB 01/02/1960", "ST MARY HOSPITAL  CARDIOLOGY")):
        draw.text((20, 16 + 26 * row), text, fill=(255, 255, 255), font_size=22)
    pixels = np.asarray(im)
    return pixels, pixels.max(axis=2) > 0


def generate(kind: str, seconds: int, codec: str, fmt: str) -> bytes:
    rng = np.random.default_rng(1)
    text, text_mask = overlay_layer()
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    angle = np.degrees(np.arctan2(xx - WIDTH / 2, yy - 40))
    radius = np.hypot(xx - WIDTH / 2, yy - 40)
    sector = (np.abs(angle) < 40) & (radius > 60) & (radius < 640)
    buf = io.BytesIO()
    out = av.open(buf, "w", format=fmt)
    stream = out.add_stream(codec, rate=FPS, options={"preset": "veryfast"} if codec == "libx264" else {"deadline": "realtime", "cpu-used": "8"})
    stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    for i in range(seconds * FPS):
        frame = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
        if kind == "echo":
            speckle = cv2.resize(rng.integers(0, 200, (90, 160), dtype=np.uint8), (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR)
            frame[sector] = speckle[sector, None]
        else:
            frame[:] = 40
            cv2.circle(frame, (300 + i * 2, 400), 120, (150, 110, 70), -1)
        frame[text_mask] = text[text_mask]
        clock = Image.fromarray(frame)
        ImageDraw.Draw(clock).text((WIDTH - 160, HEIGHT - 40), f"{i // FPS:02d}:{i % FPS:02d}", fill=(255, 255, 0), font_size=22)
        for packet in stream.encode(av.VideoFrame.from_image(clock)):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    out.close()
    return buf.getvalue()


def run(kind: str, seconds: int, webm: bool, options: dict[str, str]) -> dict:
    codec, fmt = ("libvpx-vp9", "webm") if webm else ("libx264", "mp4")
    data = generate(kind, seconds, codec, fmt)
    timings: dict[str, float] = {}  # CPU seconds of this process (one core: its wall time on an idle machine)
    clock = time.process_time
    wall_start = time.perf_counter()
    t = clock()
    info = video.probe(data)
    timings["probe"] = clock() - t

    tracker = ChangeTracker()
    thinned = ChangeTracker(moving_every=MOVING_EVERY)  # moving areas re-read every 6th frame (200 ms)
    regions_read = frames_read = frames_read_thinned = 0
    pixels_read = pixels_read_thinned = 0
    decode_s = track_s = 0.0

    def screened():  # noqa: ANN202 - decode -> change tracking -> mask, timed per stage
        nonlocal regions_read, frames_read, frames_read_thinned, pixels_read, pixels_read_thinned, decode_s, track_s
        x0, y0, x1, y1 = OVERLAY_BOX
        frames = video.iter_frames(data, info)
        while True:
            t0 = clock()
            frame = next(frames, None)
            t1 = clock()
            decode_s += t1 - t0
            if frame is None:
                return
            change = tracker.observe(frame.index, frame.pixels)
            frames_read += change.needs_reading
            regions_read += len(change.boxes)
            pixels_read += sum((b[2] - b[0]) * (b[3] - b[1]) for b in change.boxes)
            sparse = thinned.observe(frame.index, frame.pixels)
            frames_read_thinned += sparse.needs_reading
            pixels_read_thinned += sum((b[2] - b[0]) * (b[3] - b[1]) for b in sparse.boxes)
            pixels = frame.pixels.copy()
            pixels[y0:y1, x0:x1] = 0
            track_s += (clock() - t1) / 2  # two trackers ran: count one
            yield frame._replace(pixels=pixels)

    t = clock()
    encoded = video.encode(screened(), info, codec_options=options)
    total = clock() - t
    timings["decode"] = decode_s
    timings["change_tracking_and_mask"] = track_s
    timings["encode"] = total - decode_s - track_s
    t = clock()
    problems = video.check_output(encoded, expected_frames=info.frame_count)
    timings["output_check"] = clock() - t
    t = clock()
    verified = sum(1 for _ in video.iter_frames(encoded))
    timings["verification_decode_all_frames"] = clock() - t
    codec_total = sum(timings.values())
    wall = time.perf_counter() - wall_start
    return {
        "clip": kind, "codec_in": info.codec, "container_out": info.output_container, "frames": info.frame_count,
        "duration_s": info.duration_s, "input_bytes": len(data), "output_bytes": len(encoded),
        "frames_with_changes_to_read": frames_read, "regions_to_read": regions_read,
        "share_of_all_pixels_to_read": round(pixels_read / (WIDTH * HEIGHT * info.frame_count), 3),
        f"frames_to_read_moving_every_{MOVING_EVERY}": frames_read_thinned,
        f"share_of_pixels_to_read_moving_every_{MOVING_EVERY}": round(pixels_read_thinned / (WIDTH * HEIGHT * info.frame_count), 3), "output_problems": problems,
        "frames_decoded_from_output": verified, "cpu_seconds": {k: round(v, 2) for k, v in timings.items()},
        "wall_seconds_busy_machine": round(wall, 2), "encoder_overrides": options,
        "codec_total_s": round(codec_total, 2), "codec_total_x_duration": round(codec_total / info.duration_s, 2),
        "left_for_ocr_within_3x_s": round(3 * info.duration_s - codec_total, 2),
    }


def end_to_end(kind: str, seconds: int, webm: bool) -> dict:
    """The whole screen of one generated clip, engines warm (built and used once first)."""
    from phi_guard import Screener

    codec, fmt = ("libvpx-vp9", "webm") if webm else ("libx264", "mp4")
    data = generate(kind, seconds, codec, fmt)
    screener = Screener(threads=1)
    warm = io.BytesIO()
    Image.new("RGB", (64, 64), (0, 0, 0)).save(warm, "PNG")
    screener.screen(warm.getvalue())  # models and the detector loaded, not timed
    wall, cpu = time.perf_counter(), time.process_time()
    result = screener.screen(data, name=f"{kind}.{fmt}")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    report = result.report
    return {"clip": kind, "mode": "end-to-end", "verdict": report["verdict"], "duration_s": report["video"]["duration_s"],
            "frames_in_file": report["input"]["frames_in_file"], "reading": report["reading"],
            "frames_checked": report["verification"]["frames_checked"], "redactions": report["redactions"]["count"],
            "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "wall_x_duration": round(wall / report["video"]["duration_s"], 2),
            "cpu_x_duration": round(cpu / report["video"]["duration_s"], 2),
            "stage_s": report.get("timings_s") or report.get("timing") or report.get("timings")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--webm", action="store_true", help="VP9 in WebM instead of H.264 in MP4")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--preset", help="libx264 preset to try instead of the shipped one")
    parser.add_argument("--clips", default="static,echo")
    parser.add_argument("--end-to-end", action="store_true", help="screen the clip with the whole pipeline")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, as the target says
    options = {"preset": args.preset} if args.preset else {}
    if args.end_to_end:
        os.environ["OMP_THREAD_LIMIT"] = "1"
        results = []
        for kind in args.clips.split(","):
            results.append(end_to_end(kind, args.seconds, args.webm))
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)  # one clip can take minutes
    else:
        results = [run(kind, args.seconds, args.webm, options) for kind in args.clips.split(",")]
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
