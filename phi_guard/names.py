"""File and folder names are screened like any other text.

Exports are often named after the patient (``SMITH_JOHN_1950-03-04_CXR.jpg``). A name
in which the detector finds an identifier is replaced by a neutral one: a short keyed
hash (HMAC under the installation's key, so it cannot be recomputed from a guessed
name) plus the extension. Reports, summaries, output file names, download names and
error messages show the neutral name; only ``--include-phi`` writes a private mapping
back to the originals."""
from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import PurePosixPath
from typing import Any

from .policy import Policy

_EXTENSION = re.compile(r"^\.[A-Za-z0-9]{1,5}$")


def name_key(policy: Policy) -> bytes:
    from .secret import installation_secret

    return (policy.dicom.secret or installation_secret()).encode()


class NameScreen:
    """Masks identifying file and folder names with ``detector.find_in_text``."""

    def __init__(self, detector: Any, policy: Policy) -> None:  # detector: phi_guard.detect.Detector
        self.detector, self.policy, self.key = detector, policy, name_key(policy)

    def identifies(self, text: str) -> bool:
        # Separators common in exports read as spaces, so "SMITH_JOHN" reads as a name.
        readable = re.sub(r"[_+]", " ", text)
        for start, end, _kind in self.detector.find_in_text(readable, self.policy):
            words = readable[start:end].split()
            if not all(self.policy.is_allowed_word(w) for w in words):
                return True
        return False

    def neutral(self, part: str, *, is_file: bool) -> str:
        tag = hmac.new(self.key, part.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()[:12]
        if not is_file:
            return f"folder-{tag}"
        suffix = PurePosixPath(part).suffix
        return f"file-{tag}{suffix.lower() if _EXTENSION.match(suffix) else ''}"

    def part(self, part: str, *, is_file: bool) -> str:
        stem = PurePosixPath(part).stem if is_file else part
        return self.neutral(part, is_file=is_file) if self.identifies(stem) else part

    def rel(self, rel: str) -> str:
        """A relative path (forward slashes) with every identifying component replaced."""
        parts = rel.split("/")
        return "/".join(self.part(p, is_file=(i == len(parts) - 1)) for i, p in enumerate(parts))


def source_key(key: bytes, rel: str) -> str:
    """A keyed hash of a file's real relative path: how a resumed scan recognises a
    file whose shown name is neutral, without storing the real name."""
    return hmac.new(key, b"path:" + rel.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()[:24]


def scrub(value: Any, raw: str, masked: str) -> Any:
    """``value`` (a report, a message) with every occurrence of ``raw`` replaced."""
    if not raw or raw == masked:
        return value
    if isinstance(value, str):
        return value.replace(raw, masked)
    if isinstance(value, dict):
        return {k: scrub(v, raw, masked) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, raw, masked) for v in value]
    return value


def scrub_name(value: Any, raw_name: str, shown_name: str) -> Any:
    """``value`` with a file's raw name, and its stem alone, replaced by the shown name."""
    if raw_name == shown_name:
        return value
    value = scrub(value, raw_name, shown_name)
    return scrub(value, PurePosixPath(raw_name).stem, PurePosixPath(shown_name).stem)
