"""Policy data for faces and codes in photos: the ``[faces]`` and ``[codes]`` tables.

The defaults below are the ones in the TOML snippet of docs/photos.md (to be merged
into ``default_policy.toml``). ``from_table`` checks every value's type and range,
so a typo or an out-of-range value fails loudly instead of weakening screening.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from ..errors import PolicyError

FACE_ACTIONS = ("mask", "block", "keep")
CODE_ACTIONS = ("mask", "block")


def _number(table: dict[str, Any], section: str, key: str, default: float, lo: float, hi: float, *, integer: bool = False) -> Any:
    value = table.get(key, default)
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type:
        raise PolicyError(f"policy key '{section}.{key}' must be {'a whole number' if integer else 'a number'}")
    if not lo <= value <= hi:
        raise PolicyError(f"policy key '{section}.{key}' must be between {lo} and {hi} (got {value})")
    return int(value) if integer else float(value)


def _choice(table: dict[str, Any], section: str, key: str, default: str, choices: tuple[str, ...]) -> str:
    value = table.get(key, default)
    if value not in choices:
        raise PolicyError(f"policy key '{section}.{key}' must be one of {', '.join(choices)} (got {value!r})")
    return str(value)


def _flag(table: dict[str, Any], section: str, key: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise PolicyError(f"policy key '{section}.{key}' must be true or false")
    return value


def _reject_unknown(table: dict[str, Any], section: str, cls: type) -> None:
    known = {f.name for f in fields(cls)}
    for key in table:
        if key not in known:
            raise PolicyError(f"unknown policy key '{section}.{key}' (see docs/photos.md for the valid keys)")


@dataclass(frozen=True)
class FacePolicy:
    """What to do with faces in the pixels.

    ``action``: "mask" (default) covers every face, padded to hair, ears and chin;
    "block" refuses any image with a face; "keep" leaves faces (documented consent)
    and the report says a face was kept. Eyes-only bars are not offered: they do not
    de-identify.
    """

    action: str = "mask"
    # Faces narrower than this (pixels, in the image as given) are too small to
    # identify anyone and are ignored. The detector works at a scale where a face of
    # this width is still well above its own smallest size.
    min_size: int = 20
    # Detector score (0..1) at or above which a region is a face, in screening and in
    # verification (the output must have no face at this score outside the masks).
    score_threshold: float = 0.3
    # Padding around the detector's box (brows to chin, cheek to cheek), as fractions
    # of that box: sideways to cover the ears, up to cover the hair, down for the chin.
    pad_side: float = 0.3
    pad_top: float = 0.6
    pad_bottom: float = 0.25
    # Search faces lying down and upside down too (patients in bed): four passes.
    rotations: bool = True
    # Pixels per detector pass (bounds the cost on large photos): a photo larger than
    # this is searched at a reduced scale, so the smallest face guaranteed to be found
    # grows with it; the report gives that size (FaceSearch.smallest_face).
    max_pixels_per_pass: int = 400_000

    @classmethod
    def from_table(cls, table: dict[str, Any]) -> FacePolicy:
        s = "faces"
        _reject_unknown(table, s, cls)
        return cls(
            action=_choice(table, s, "action", cls.action, FACE_ACTIONS),
            min_size=_number(table, s, "min_size", cls.min_size, 8, 10_000, integer=True),
            score_threshold=_number(table, s, "score_threshold", cls.score_threshold, 0.05, 0.95),
            pad_side=_number(table, s, "pad_side", cls.pad_side, 0.0, 2.0),
            pad_top=_number(table, s, "pad_top", cls.pad_top, 0.0, 2.0),
            pad_bottom=_number(table, s, "pad_bottom", cls.pad_bottom, 0.0, 2.0),
            rotations=_flag(table, s, "rotations", cls.rotations),
            max_pixels_per_pass=_number(table, s, "max_pixels_per_pass", cls.max_pixels_per_pass, 50_000, 50_000_000, integer=True),
        )


@dataclass(frozen=True)
class CodePolicy:
    """What to do with barcodes and 2-D codes (wristbands, labels, badges encode the
    MRN or accession number). "mask" (default) covers each code, decoded or not;
    "block" refuses any image with a code."""

    action: str = "mask"
    # Padding around a code's box, as a fraction of its shorter side (quiet zone,
    # the human-readable digits printed under a 1-D barcode).
    padding: float = 0.15
    # Also look for barcode-like regions that nothing decodes (stripes, modules) and
    # mask them: a damaged or blurred code may still be decodable by someone else.
    mask_undecoded: bool = True

    @classmethod
    def from_table(cls, table: dict[str, Any]) -> CodePolicy:
        s = "codes"
        _reject_unknown(table, s, cls)
        return cls(
            action=_choice(table, s, "action", cls.action, CODE_ACTIONS),
            padding=_number(table, s, "padding", cls.padding, 0.0, 1.0),
            mask_undecoded=_flag(table, s, "mask_undecoded", cls.mask_undecoded),
        )
