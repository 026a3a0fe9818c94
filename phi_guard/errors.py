"""Typed errors. Each message is one line a clinician can act on."""
from __future__ import annotations


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


def short_reason(exc: BaseException) -> str:
    """The first line of an exception's message (or its type), at most 120 characters,
    for a one-line error about a file that could not be read."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]
