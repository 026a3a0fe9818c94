"""Decode every frame of a multi-frame image (GIF, APNG, WebP, TIFF, MPO) with Pillow.

Pillow composites GIF, APNG and WebP frames (disposal, blending, partial frames)
into full canvases, which is what a viewer shows and so what is screened. Limits
are checked before any frame is decoded: the frame count from the container's
index, the pixels per frame, and the pixels of all frames together.
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

from ...errors import DecodeError, DecompressionBombError, InputError, MediaLimitError, short_reason
from ...policy import Policy
from ...quiet import quiet_native_stderr
from ..photo.decode import open_checked, to_display_pixels
from .model import Animation

_ORIENTATION = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
                5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
                8: Image.Transpose.ROTATE_90}


def frame_count(data: bytes) -> int:
    """How many frames/pages/images the container declares (1 for a still)."""
    with quiet_native_stderr():
        try:
            with Image.open(io.BytesIO(data)) as im:
                return int(getattr(im, "n_frames", 1) or 1)
        except Exception:  # noqa: BLE001 - whoever decodes it next reports the damage
            return 1


def decode(data: bytes, policy: Policy, *, max_frames: int, max_total_pixels: int | None = None,
           name: str = "<bytes>") -> Animation:
    """All frames as displayed, with per-frame durations and the loop count.

    ``policy.limits.max_pixels`` bounds each frame; ``max_frames`` and
    ``max_total_pixels`` (default: 20 frames' worth of the per-frame limit) the whole
    file. Damage anywhere (a truncated last frame too) raises :class:`DecodeError`:
    a frame that cannot be read cannot be screened."""
    with quiet_native_stderr():
        im = open_checked(data, policy, name)
        try:
            return _decode_frames(im, data, policy, max_frames, max_total_pixels, name)
        except InputError:
            raise
        except Image.DecompressionBombError:
            raise DecompressionBombError(f"{name}: a frame exceeds the pixel limit (possible decompression bomb)") from None
        except Exception as exc:  # noqa: BLE001 - decoders raise anything on hostile input; fail closed
            raise DecodeError(f"{name}: a frame is corrupt or the file is truncated ({short_reason(exc)})") from None
        finally:
            im.close()


def _decode_frames(im: Image.Image, data: bytes, policy: Policy, max_frames: int,
                   max_total_pixels: int | None, name: str) -> Animation:
    fmt = "MPO" if im.format == "MPO" else str(im.format)
    n = int(getattr(im, "n_frames", 1) or 1)
    if n > max_frames:
        raise MediaLimitError(f"{name}: {n} frames, more than the {max_frames}-frame limit")
    budget = max_total_pixels if max_total_pixels is not None else 20 * policy.limits.max_pixels
    loop = im.info.get("loop") if fmt in ("GIF", "PNG", "WEBP") else None
    hidden_default = fmt == "PNG" and bool(im.info.get("default_image"))
    frames: list[np.ndarray] = []
    durations: list[float] = []
    notes: list[str] = []
    total = 0
    for index in range(n):
        im.seek(index)
        w, h = im.size
        total += w * h
        if w * h > policy.limits.max_pixels or total > budget:
            raise DecompressionBombError(
                f"{name}: frame {index + 1} takes the file past the pixel limit (possible decompression bomb)")
        im.load()
        durations.append(float(im.info.get("duration") or 0) if fmt in ("GIF", "PNG", "WEBP") else 0.0)
        frame: Image.Image = im
        orientation = _orientation(im, fmt)
        if orientation in _ORIENTATION:
            frame = im.transpose(_ORIENTATION[orientation])
            notes.append(f"frame {index + 1}: orientation {orientation} applied to the pixels")
        frame_notes: list[str] = []
        frames.append(to_display_pixels(frame, im.info.get("icc_profile"), policy, frame_notes))
        notes.extend(f"frame {index + 1}: {note}" for note in frame_notes)
    return Animation(fmt, _same_kind(frames), tuple(durations), None if loop is None else int(loop), hidden_default,
                     tuple(_summarise(notes)))


def _orientation(im: Image.Image, fmt: str) -> int:
    if fmt == "TIFF":
        return int(getattr(im, "tag_v2", {}).get(274, 1) or 1)
    if fmt == "MPO":
        return int(im.getexif().get(0x0112, 1) or 1)
    return 1


def _same_kind(frames: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    """All grey or all RGB: one grey frame among colour ones is widened to RGB, and
    RGB frames that are all grey (Pillow returns a grey GIF's later frames as RGB)
    are narrowed to one channel."""
    if all(f.ndim == 2 or _is_grey(f) for f in frames):
        return tuple(f if f.ndim == 2 else np.ascontiguousarray(f[:, :, 0]) for f in frames)
    if any(f.ndim == 3 for f in frames):
        return tuple(f if f.ndim == 3 else np.repeat(f[:, :, None], 3, axis=2) for f in frames)
    return tuple(frames)


def _is_grey(rgb: np.ndarray) -> bool:
    return bool(np.array_equal(rgb[:, :, 0], rgb[:, :, 1]) and np.array_equal(rgb[:, :, 0], rgb[:, :, 2]))


def _summarise(notes: list[str]) -> list[str]:
    """One note per kind of change, not one per frame (a 300-frame GIF has 300 'flattened')."""
    seen: dict[str, int] = {}
    for note in notes:
        kind = note.split(": ", 1)[-1] if note.startswith("frame ") else note
        seen[kind] = seen.get(kind, 0) + 1
    return [kind if count == 1 else f"{kind} ({count} frames)" for kind, count in seen.items()]
