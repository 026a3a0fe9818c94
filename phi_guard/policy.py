"""Policy: what counts as PHI and what to do about it, as data.

The defaults live in ``default_policy.toml`` (shipped in the package, every key
documented there). A user policy file is merged over the defaults; unknown keys
are rejected so that a typo never silently weakens screening.
"""
from __future__ import annotations

import copy
import hashlib
import hmac
import json
import re
import tomllib
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import PolicyError

MODES = ("identifiers", "all-text")
STYLES = ("fill", "blur", "pixelate")
ENGINES = ("rapidocr", "tesseract")

# The allowed range of every numeric key: (type, lowest, highest). A value outside
# it could switch a safety check off (no verification round, every word "readable",
# a block threshold that never triggers), so it is refused rather than clamped.
NUMERIC_RANGES: dict[str, tuple[type, float, float]] = {
    "detect.score_threshold": (float, 0.0, 0.95),
    "ocr.tile_size": (int, 256, 20000),
    "ocr.tile_overlap": (int, 0, 1000),
    "ocr.min_confidence": (float, 0.05, 1.0),
    "verify.max_rounds": (int, 1, 10),
    "redact.padding_px": (int, 0, 200),
    "redact.padding_ratio": (float, 0.0, 2.0),
    "block.max_pixel_findings": (int, 0, 100_000),
    "block.max_masked_fraction": (float, 0.01, 1.0),
    "limits.max_pixels": (int, 1, 2_000_000_000),
    "limits.max_bytes": (int, 1, 20_000_000_000),
    "limits.max_seconds_per_image": (float, 1.0, 86_400.0),
    "output.jpeg_quality": (int, 50, 100),
    "output.max_side": (int, 0, 100_000),
    "faces.min_size": (int, 8, 10_000),
    "faces.score_threshold": (float, 0.05, 0.95),
    "faces.pad_side": (float, 0.0, 2.0),
    "faces.pad_top": (float, 0.0, 2.0),
    "faces.pad_bottom": (float, 0.0, 2.0),
    "faces.max_pixels_per_pass": (int, 50_000, 50_000_000),
    "codes.padding": (float, 0.0, 1.0),
}
BOOLEAN_KEYS = ("output.convert_icc_to_srgb", "report.include_phi", "dicom.retain_patient_characteristics",
                "dicom.retain_device_identity", "dicom.retain_uids", "dicom.clean_descriptors",
                "dicom.retain_safe_private", "dicom.remove_overlays", "faces.rotations", "codes.mask_undecoded",
                "verify.full_reread", "ocr.int8_detector")


def _digest(merged: dict[str, Any]) -> str:
    """A short digest of the policy for reports and resume. The secret itself never
    enters it (a digest of a key helps guessing it): only a keyed tag that changes
    with it, so a new key still counts as a new policy."""
    hashed = copy.deepcopy(merged)
    secret = str(hashed["dicom"]["secret"])
    if secret:
        hashed["dicom"]["secret"] = hmac.new(secret.encode(), b"phi_guard policy digest", hashlib.sha256).hexdigest()[:8]
    return hashlib.sha256(json.dumps(hashed, sort_keys=True).encode()).hexdigest()[:16]


def _lookup(table: dict[str, Any], dotted: str) -> Any:
    value: Any = table
    for part in dotted.split("."):
        value = value[part]
    return value


def _check_values(t: dict[str, Any]) -> None:
    """Types and ranges of every numeric and boolean key, each error naming the key."""
    for key, (kind, lo, hi) in NUMERIC_RANGES.items():
        value = _lookup(t, key)
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if kind is int and not (is_number and float(value).is_integer()):
            raise PolicyError(f"policy key '{key}' must be a whole number from {lo:g} to {hi:g}, not {value!r}")
        if not is_number or not lo <= value <= hi:
            what = "a whole number" if kind is int else "a number"
            raise PolicyError(f"policy key '{key}' must be {what} from {lo:g} to {hi:g}, not {value!r}")
    if t["ocr"]["tile_overlap"] * 2 >= t["ocr"]["tile_size"]:
        raise PolicyError("policy key 'ocr.tile_overlap' must be from 0 to less than half of ocr.tile_size")
    if 0 < t["output"]["max_side"] < 256:
        raise PolicyError(f"policy key 'output.max_side' must be 0 (keep the size) or at least 256, not {t['output']['max_side']}")
    for key in BOOLEAN_KEYS:
        if not isinstance(_lookup(t, key), bool):
            raise PolicyError(f"policy key '{key}' must be true or false")
    colour = t["redact"]["fill_color"]
    if not (isinstance(colour, list) and len(colour) == 3
            and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in colour)):
        raise PolicyError("policy key 'redact.fill_color' must be three whole numbers from 0 to 255, e.g. [0, 0, 0]")


def _default_table() -> dict[str, Any]:
    text = resources.files("phi_guard").joinpath("default_policy.toml").read_text("utf-8")
    return tomllib.loads(text)


def _merge(base: dict[str, Any], override: dict[str, Any], path: str = "") -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        where = f"{path}{key}"
        if key not in base:
            raise PolicyError(f"unknown policy key {where!r} (see docs/policy.md for the valid keys)")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise PolicyError(f"policy key {where!r} must be a table")
            out[key] = _merge(base[key], value, where + ".")
        else:
            out[key] = value
    return out


# Stripped off a word before the allow and deny lists are consulted (OCR reads quotes
# as typographic ones too).
_WORD_EDGES = ".,;:()[]{}'\"\u201c\u201d\u2018\u2019\u00ab\u00bb"

@dataclass(frozen=True)
class DetectPolicy:
    entities: tuple[str, ...]
    score_threshold: float
    allow_words: frozenset[str]
    allow_patterns: tuple[re.Pattern[str], ...]
    deny_words: frozenset[str]
    deny_patterns: tuple[re.Pattern[str], ...]
    file_name_words: frozenset[str] = frozenset()


@dataclass(frozen=True)
class OcrPolicy:
    engines: tuple[str, ...]
    tile_size: int
    tile_overlap: int
    min_confidence: float
    unreadable_text: str
    later_engines: str = "around-detected"
    int8_detector: bool = False


@dataclass(frozen=True)
class VerifyPolicy:
    engines: tuple[str, ...]
    recheck_masks_with: tuple[str, ...]
    max_rounds: int
    full_reread: bool = False


@dataclass(frozen=True)
class RedactPolicy:
    style: str
    fill_color: tuple[int, int, int]
    padding_px: int
    padding_ratio: float


@dataclass(frozen=True)
class BlockPolicy:
    max_pixel_findings: int
    max_masked_fraction: float
    kinds: frozenset[str]


@dataclass(frozen=True)
class Limits:
    max_pixels: int
    max_bytes: int
    max_seconds_per_image: float


@dataclass(frozen=True)
class VideoPolicy:
    """Animated images and video: limits, audio, how changes are re-read and verified."""

    max_seconds: float
    max_frames: int
    max_width: int
    max_height: int
    max_total_pixels: int
    keep_audio: bool
    moving_every: int
    verify_per_second: float
    pictures_per_second: float

    # key -> (lowest, highest) allowed
    RANGES = {"max_seconds": (1, 3600), "max_frames": (1, 216_000), "max_width": (16, 8192), "max_height": (16, 8192),
              "max_total_pixels": (1, 100_000_000_000), "moving_every": (1, 30), "verify_per_second": (0.1, 30),
              "pictures_per_second": (0.1, 30)}

    @classmethod
    def from_table(cls, t: dict[str, Any]) -> VideoPolicy:
        """The ``[video]`` table, every number range-checked. Raises PolicyError."""
        for key, (low, high) in cls.RANGES.items():
            value = t[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise PolicyError(f"video.{key} must be a number from {low:,} to {high:,}, not {value!r}")
        for key in ("max_frames", "max_width", "max_height", "max_total_pixels", "moving_every"):
            if not isinstance(t[key], int):
                raise PolicyError(f"video.{key} must be a whole number, not {t[key]!r}")
        if not isinstance(t["keep_audio"], bool):
            raise PolicyError(f"video.keep_audio must be true or false, not {t['keep_audio']!r}")
        return cls(max_seconds=float(t["max_seconds"]), max_frames=t["max_frames"], max_width=t["max_width"],
                   max_height=t["max_height"], max_total_pixels=t["max_total_pixels"], keep_audio=t["keep_audio"],
                   moving_every=t["moving_every"], verify_per_second=float(t["verify_per_second"]),
                   pictures_per_second=float(t["pictures_per_second"]))


@dataclass(frozen=True)
class OutputPolicy:
    jpeg_quality: int
    convert_icc_to_srgb: bool
    max_side: int = 0  # photos longer than this are scaled down when loaded; 0: never


@dataclass(frozen=True)
class DicomPolicy:
    retain_temporal: str
    retain_patient_characteristics: bool
    retain_device_identity: bool
    retain_uids: bool
    clean_descriptors: bool
    retain_safe_private: bool
    safe_private_tags: frozenset[int]
    secret: str
    remove_overlays: bool


# -- faces and printed codes in photos: the [faces] and [codes] tables (docs/photos.md) --
FACE_ACTIONS = ("mask", "block", "keep")
CODE_ACTIONS = ("mask", "block")


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
    # Pixels per overview pass (bounds the cost on large photos; the close looks are
    # small windows): a photo larger than this is overviewed at a reduced scale, so the
    # smallest face guaranteed to be found grows with it; the report gives that size
    # (FaceSearch.smallest_face).
    max_pixels_per_pass: int = 400_000

    @classmethod
    def from_table(cls, t: dict[str, Any]) -> FacePolicy:
        """From the merged ``[faces]`` table (types and ranges already checked)."""
        return cls(action=str(t["action"]), min_size=int(t["min_size"]), score_threshold=float(t["score_threshold"]),
                   pad_side=float(t["pad_side"]), pad_top=float(t["pad_top"]), pad_bottom=float(t["pad_bottom"]),
                   rotations=bool(t["rotations"]), max_pixels_per_pass=int(t["max_pixels_per_pass"]))


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
    def from_table(cls, t: dict[str, Any]) -> CodePolicy:
        """From the merged ``[codes]`` table (types and ranges already checked)."""
        return cls(action=str(t["action"]), padding=float(t["padding"]), mask_undecoded=bool(t["mask_undecoded"]))


@dataclass(frozen=True)
class Policy:
    mode: str
    detect: DetectPolicy
    ocr: OcrPolicy
    verify: VerifyPolicy
    redact: RedactPolicy
    block: BlockPolicy
    limits: Limits
    output: OutputPolicy
    dicom: DicomPolicy
    video: VideoPolicy
    include_phi_in_report: bool
    faces: FacePolicy = field(default_factory=FacePolicy)
    codes: CodePolicy = field(default_factory=CodePolicy)
    source: str = "default"
    digest: str = field(default="", compare=False)
    # The merged TOML table this policy was built from: picklable, so batch workers
    # (local processes or Dask workers) rebuild the same policy.
    table: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    # -- construction -------------------------------------------------------
    @classmethod
    def default(cls) -> Policy:
        """The defaults of ``phi_guard/default_policy.toml``."""
        return cls.from_table({}, source="default")

    @classmethod
    def load(cls, path: str | Path) -> Policy:
        """A policy TOML file merged over the defaults. Raises PolicyError for a missing
        or invalid file, an unknown key or a value out of range."""
        p = Path(path)
        try:
            table = tomllib.loads(p.read_text("utf-8"))
        except FileNotFoundError:
            raise PolicyError(f"policy file not found: {p}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise PolicyError(f"policy file {p.name} is not valid TOML: {exc}") from None
        return cls.from_table(table, source=str(p))

    @classmethod
    def from_table(cls, table: dict[str, Any], source: str = "custom") -> Policy:
        """A policy from a table (parsed TOML) merged over the defaults. Raises PolicyError."""
        merged = _merge(_default_table(), table)
        digest = _digest(merged)
        try:
            return cls._build(merged, source, digest)
        except (TypeError, ValueError, AttributeError, re.error) as exc:  # a value of the wrong type
            raise PolicyError(f"invalid policy value: {exc}") from None

    @classmethod
    def _build(cls, t: dict[str, Any], source: str, digest: str) -> Policy:
        if t["mode"] not in MODES:
            raise PolicyError(f"mode must be one of {', '.join(MODES)}, not {t['mode']!r}")
        d, o, v, r, b = t["detect"], t["ocr"], t["verify"], t["redact"], t["block"]
        for name in list(o["engines"]) + list(v["engines"]) + list(v["recheck_masks_with"]):
            if name not in ENGINES:
                raise PolicyError(f"unknown OCR engine {name!r} (known: {', '.join(ENGINES)})")
        if not o["engines"]:
            raise PolicyError("policy key 'ocr.engines' must name at least one engine")
        if not v["engines"]:
            # Without a re-reading engine nothing would check the output's pixels.
            raise PolicyError("policy key 'verify.engines' must name at least one engine: verification cannot be switched off")
        _check_values(t)
        if r["style"] not in STYLES:
            raise PolicyError(f"redact.style must be one of {', '.join(STYLES)}, not {r['style']!r}")
        if t["faces"]["action"] not in FACE_ACTIONS:
            raise PolicyError(f"faces.action must be one of {', '.join(FACE_ACTIONS)}, not {t['faces']['action']!r}")
        if t["codes"]["action"] not in CODE_ACTIONS:
            raise PolicyError(f"codes.action must be one of {', '.join(CODE_ACTIONS)}, not {t['codes']['action']!r}")
        if o["unreadable_text"] not in ("mask", "block"):
            raise PolicyError("ocr.unreadable_text must be 'mask' or 'block'")
        if o["later_engines"] not in ("around-detected", "whole"):
            raise PolicyError("ocr.later_engines must be 'around-detected' or 'whole'")
        dc = t["dicom"]
        if dc["retain_temporal"] not in ("no", "full", "shift"):
            raise PolicyError("dicom.retain_temporal must be 'no', 'full' or 'shift'")
        if dc["secret"] != "" and (not isinstance(dc["secret"], str) or len(dc["secret"]) < 16
                                   or dc["secret"] == "phi_guard-default-secret"):
            raise PolicyError("policy key 'dicom.secret' must be empty (a private per-installation key is made on "
                              "first use) or a private text of at least 16 characters")
        words = d["file_name_words"]
        if not isinstance(words, list) or not all(isinstance(w, str) and re.fullmatch(r"[A-Za-z]+", w) for w in words):
            raise PolicyError("policy key 'detect.file_name_words' must list plain words (letters only, no digits or spaces)")
        flags = re.IGNORECASE
        return cls(
            mode=t["mode"],
            detect=DetectPolicy(
                entities=tuple(d["entities"]),
                score_threshold=float(d["score_threshold"]),
                allow_words=frozenset(w.upper() for w in d["allow_words"]),
                allow_patterns=tuple(re.compile(p, flags) for p in d["allow_patterns"]),
                deny_words=frozenset(w.upper() for w in d["deny_words"]),
                deny_patterns=tuple(re.compile(p, flags) for p in d["deny_patterns"]),
                file_name_words=frozenset(w.upper() for w in d["file_name_words"]),
            ),
            ocr=OcrPolicy(
                engines=tuple(o["engines"]),
                tile_size=int(o["tile_size"]),
                tile_overlap=int(o["tile_overlap"]),
                min_confidence=float(o["min_confidence"]),
                unreadable_text=o["unreadable_text"],
                later_engines=o["later_engines"],
                int8_detector=bool(o["int8_detector"]),
            ),
            verify=VerifyPolicy(
                engines=tuple(v["engines"]), recheck_masks_with=tuple(v["recheck_masks_with"]), max_rounds=int(v["max_rounds"]),
                full_reread=bool(v["full_reread"])
            ),
            redact=RedactPolicy(
                style=r["style"],
                fill_color=tuple(int(c) for c in r["fill_color"]),  # type: ignore[arg-type]
                padding_px=int(r["padding_px"]),
                padding_ratio=float(r["padding_ratio"]),
            ),
            block=BlockPolicy(
                max_pixel_findings=int(b["max_pixel_findings"]),
                max_masked_fraction=float(b["max_masked_fraction"]),
                kinds=frozenset(b["kinds"]),
            ),
            limits=Limits(max_pixels=int(t["limits"]["max_pixels"]), max_bytes=int(t["limits"]["max_bytes"]),
                          max_seconds_per_image=float(t["limits"]["max_seconds_per_image"])),
            output=OutputPolicy(
                jpeg_quality=int(t["output"]["jpeg_quality"]),
                convert_icc_to_srgb=bool(t["output"]["convert_icc_to_srgb"]),
                max_side=int(t["output"]["max_side"]),
            ),
            dicom=DicomPolicy(
                retain_temporal=dc["retain_temporal"],
                retain_patient_characteristics=bool(dc["retain_patient_characteristics"]),
                retain_device_identity=bool(dc["retain_device_identity"]),
                retain_uids=bool(dc["retain_uids"]),
                clean_descriptors=bool(dc["clean_descriptors"]),
                retain_safe_private=bool(dc["retain_safe_private"]),
                safe_private_tags=frozenset(int(str(x), 16) for x in dc["safe_private_tags"]),
                secret=str(dc["secret"]),
                remove_overlays=bool(dc["remove_overlays"]),
            ),
            video=VideoPolicy.from_table(t["video"]),
            include_phi_in_report=bool(t["report"]["include_phi"]),
            faces=FacePolicy.from_table(t["faces"]),
            codes=CodePolicy.from_table(t["codes"]),
            source=source,
            digest=digest,
            table=t,
        )

    def with_max_side(self, max_side: int) -> Policy:
        """This policy with another ``output.max_side``. Raises PolicyError when out of range."""
        table = copy.deepcopy(self.table)
        table.setdefault("output", {})["max_side"] = max_side
        return Policy.from_table(table, source=self.source)

    def with_style(self, style: str) -> Policy:
        """This policy with another redaction style. Raises PolicyError for an unknown style."""
        if style not in STYLES:
            raise PolicyError(f"style must be one of {', '.join(STYLES)}, not {style!r}")
        table = copy.deepcopy(self.table)
        table.setdefault("redact", {})["style"] = style
        return replace(self, redact=replace(self.redact, style=style), table=table)

    # -- queries ------------------------------------------------------------
    @property
    def blocking_kinds(self) -> frozenset[str]:
        """Kinds whose presence blocks: ``block.kinds``, and FACE or BARCODE when
        ``faces.action`` or ``codes.action`` is "block"."""
        return self.block.kinds | {k for k, a in (("FACE", self.faces.action), ("BARCODE", self.codes.action)) if a == "block"}

    def is_allowed_word(self, word: str) -> bool:
        """True when a word is a clinical marker that must stay readable."""
        core = word.strip(_WORD_EDGES)
        up = core.upper()
        if not core or self.is_denied_word(word):
            return False
        if up in self.detect.allow_words or word.upper() in self.detect.allow_words:
            return True
        return any(p.match(core) for p in self.detect.allow_patterns)

    def is_name_word(self, word: str) -> bool:
        """True when a word of a file or folder name identifies no one: one of
        ``detect.file_name_words`` (and not denied). Not the allow list: markers such as
        SID, THI or ECHO are given names too ("Sid_Lung.png")."""
        core = word.strip(_WORD_EDGES).upper()
        return bool(core) and core in self.detect.file_name_words and not self.is_denied_word(word)

    def is_denied_word(self, word: str) -> bool:
        """True when the policy's deny list names the word (always masked)."""
        core = word.strip(_WORD_EDGES).upper()
        if core and core in self.detect.deny_words:
            return True
        return any(p.search(word) for p in self.detect.deny_patterns)
