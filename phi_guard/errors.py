"""Typed errors. Each message is one line a clinician can act on."""
from __future__ import annotations

import re


class PhiGuardError(Exception):
    """Base class. ``exit_code`` is what the CLI returns for it."""

    exit_code = 2
    code = "error"


class InputError(PhiGuardError):
    """The input cannot be screened (empty, truncated, not an image, ...)."""

    code = "bad_input"


class EmptyInputError(InputError):
    code = "empty"


class UnsupportedFormatError(InputError):
    code = "unsupported_format"


class DecodeError(InputError):
    code = "decode_failed"


class DecompressionBombError(InputError):
    code = "too_many_pixels"


class MalformedDicomError(InputError):
    code = "malformed_dicom"


class MediaLimitError(InputError):
    """A clip or animation is longer, has more frames or larger frames than the policy allows."""

    code = "over_media_limit"


class PolicyError(PhiGuardError):
    code = "bad_policy"


class UsageError(PhiGuardError):
    code = "usage"


class EngineError(PhiGuardError):
    """An OCR or detection engine is missing or failed; screening cannot be trusted."""

    code = "engine_failed"


class OutputError(PhiGuardError):
    code = "output_failed"


# A DICOM tag as pydicom writes it in messages: (0028,0004).
_TAG = re.compile(r"\(([0-9A-Fa-f]{4}),([0-9A-Fa-f]{4})\)")


def short_reason(exc: BaseException) -> str:
    """A value-free reason for a file that could not be read: the exception's type and
    the DICOM attributes its message names by tag (``ValueError, PhotometricInterpretation``).

    Never the message text itself: pydicom and Pillow quote the values they could not
    parse, and a header value can be a patient's name."""
    reason = type(exc).__name__
    keywords: list[str] = []
    for group, element in _TAG.findall(str(exc)):
        keyword = _keyword(int(group + element, 16))
        if keyword not in keywords:
            keywords.append(keyword)
    return ", ".join([reason] + keywords[:3])


def _keyword(tag: int) -> str:
    """The attribute keyword of a tag (its number when private or unknown)."""
    try:
        from pydicom.datadict import keyword_for_tag
    except ImportError:  # pragma: no cover - pydicom is a dependency
        return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
    return keyword_for_tag(tag) or f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
