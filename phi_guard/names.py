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
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any

from .policy import Policy
from .write import EXTENSION_FORMATS, VIDEO_EXTENSIONS

_EXTENSION = re.compile(r"^\.[A-Za-z0-9]{1,5}$")
# Extensions of the files phi_guard reads (images, DICOM, clips), and of the documents
# and data files found beside them in an export: never part of a name.
_KNOWN_SUFFIXES = frozenset({*EXTENSION_FORMATS, *VIDEO_EXTENSIONS, ".dcm", ".dicom", ".jfif", ".dng",
                             ".txt", ".md", ".json", ".csv", ".xml", ".html", ".htm", ".pdf", ".doc", ".docx",
                             ".xls", ".xlsx", ".rtf", ".odt", ".zip", ".gz", ".tar", ".log", ".ini", ".toml",
                             ".yaml", ".yml", ".db", ".sqlite"})


def name_key(policy: Policy) -> bytes:
    from .secret import installation_secret

    return (policy.dicom.secret or installation_secret()).encode()


# A name screened without the detector may hold only whole words (no digits: the
# detector reads "1649" as a phone number and "3 Day" as a date) and at most this many.
_PLAIN_WORD = re.compile(r"^[A-Za-z]+$")
_PLAIN_MAX_WORDS = 4
# A camera's own file counter (the DCF standard's prefix and four digits, as iPhones,
# Canon, Nikon and Fujifilm name photos and clips), with a copy's " (1)" or "-1":
# it numbers pictures, not people. Names with a date or a longer number are not this.
_CAMERA_COUNTER = re.compile(r"^(IMG|DSC|DSCN|DSCF|MVI|MVIMG|VID)[_-]?\d{4}( ?\(\d{1,2}\)|-\d{1,2})?$", re.IGNORECASE)


def plainly_generic(text: str, policy: Policy) -> bool:
    """True when a file or folder name (without its extension) is made only of words
    that identify no one (the policy's ``file_name_words``, at most four, no digits), or
    is a camera's file counter (``IMG_0042``). Such a name needs no detector, so
    ``phi-guard check chest_xray_final.png`` never loads Presidio and spaCy. Anything
    else (a date, a longer number, a word not on the list, a denied word) goes to the
    detector."""
    if _CAMERA_COUNTER.match(text.strip()):
        return True
    words = _readable(text).split()
    return 0 < len(words) <= _PLAIN_MAX_WORDS and all(_PLAIN_WORD.match(w) and policy.is_name_word(w) for w in words)


def screened_text(part: str, *, is_file: bool) -> str:
    """The text of a file or folder name that is screened. A file's extension is left out
    when it is one phi_guard reads (or a common document's); anything else after the
    last dot may be part of the name ("final.SMITH"). Dots inside a name separate its
    words ("jane.doe", "scan.2026-11-28")."""
    known = is_file and PurePosixPath(part).suffix.lower() in _KNOWN_SUFFIXES
    return (PurePosixPath(part).stem if known else part).replace(".", " ")


def _readable(text: str) -> str:
    # Separators common in exports read as spaces, so "SMITH_JOHN" reads as a name.
    return re.sub(r"[_+]", " ", text)


class NameScreen:
    """Masks identifying file and folder names with a detector's ``find_in_text``.
    ``get_detector`` returns the phi_guard.detect.Detector; it is called only when a
    name is neither plainly generic nor denied (most names never load Presidio)."""

    def __init__(self, policy: Policy, get_detector: Callable[[], Any]) -> None:
        self.policy, self.key = policy, name_key(policy)
        self._get_detector = get_detector
        self._detector: Any = None

    def identifies(self, text: str) -> bool:
        readable = _readable(text)
        if any(self.policy.is_denied_word(w) for w in re.split(r"[^A-Za-z0-9]+", text)) or any(
                p.search(readable) for p in self.policy.detect.deny_patterns):
            return True  # the policy's deny list (a ward, a colleague) hides a name too
        if plainly_generic(text, self.policy):
            return False
        return self._found_by_detector(readable)

    def _found_by_detector(self, readable: str) -> bool:
        """A finding counts unless the words it touches (whole words: a span may end
        inside one) all identify no one, as in a plainly generic name. The name is also
        read in title case: the recognizers are made for overlays, and "jane.doe" or
        "priya_iyer_wound" is a name all the same; there spaCy calls any pair of words a
        person ("Broken Truncated", "Link Out") and a single word too ("Plain"), so a
        finding of that reading counts only where it touches a given name and another
        word that is a family name of phi_guard's name lists."""
        if self._detector is None:
            self._detector = self._get_detector()
        words = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+", readable)]
        for text in dict.fromkeys((readable, readable.title())):
            for start, end, _kind in self._detector.find_in_text(text, self.policy):
                touched = [w for ws, we, w in words if ws < end and we > start]
                if all(self.policy.is_name_word(w) for w in touched):
                    continue
                if text == readable or _given_and_family(touched):
                    return True
        return False

    def neutral(self, part: str, *, is_file: bool) -> str:
        tag = hmac.new(self.key, part.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()[:12]
        if not is_file:
            return f"folder-{tag}"
        suffix = PurePosixPath(part).suffix
        return f"file-{tag}{suffix.lower() if _EXTENSION.match(suffix) else ''}"

    def part(self, part: str, *, is_file: bool) -> str:
        return self.neutral(part, is_file=is_file) if self.identifies(screened_text(part, is_file=is_file)) else part

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


def _given_and_family(words: list[str]) -> bool:
    """A given name and, among the other words, a family name of the census or world
    name lists (loaded with the detector): JANE DOE, PRIYA IYER."""
    from .detect.gazetteer_world import load_shipped_world_names
    from .detect.names import load_gazetteer

    census, world = load_gazetteer(), load_shipped_world_names()
    tokens = [re.sub(r"[^A-Za-z'-]", "", w).upper() for w in words]
    for i, token in enumerate(tokens):
        if census.is_first(token) or world.is_first(token):
            if any(census.is_last(o) or world.is_last(o) for j, o in enumerate(tokens) if j != i):
                return True
    return False
