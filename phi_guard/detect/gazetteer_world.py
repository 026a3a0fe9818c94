"""World name gazetteer (prototype, issue 10): given and family names of many origins.

Source: the per-locale person-name lists of Faker (MIT licence, PyPI ``faker``), 87
locales from Nigeria, Ghana, Kenya, India, Pakistan, Iran, Vietnam, Japan, China, Korea,
Turkey, Poland, Brazil, Mexico... Faker's lists cite national statistics offices'
published name-frequency tables, Wikipedia/Wiktionary lists of common names and
baby-name pages: aggregate lists of common names, not records of people (see
docs/names.md for the candidates considered and why ``names-dataset`` is not one).

Names are folded to what an overlay shows: accents removed, upper case, letters only
(hyphen and apostrophe kept inside). Cyrillic names (Russian, Ukrainian, Bulgarian...
locales) are transliterated the ways they are written in Latin letters on a chart or
an overlay (``Олександр`` -> OLEKSANDR, ``Дмитрий`` -> DMITRIY, DMITRY...: the letters
romanised differently by the Russian and Ukrainian systems give each spelling, up to
:data:`_MAX_SPELLINGS`). Lists in other scripts (Han, Arabic, Hangul...) are kept only
through their Latin-script transliteration lists where the locale has one; a token that
does not fold to Latin letters is dropped, since OCR here reads Latin.

Loading is lazy (first call) and cached: about 0.4 s, and two frozensets of ~45k short
strings (a few MB). Matching is exact on the folded form; whether a match *is* a name
depends on where it stands (alone on a line, ``LAST^FIRST``, after a name label): the
caller decides that, this module only answers "is this token a known name".
"""
from __future__ import annotations

import functools
import importlib
import pkgutil
import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

# Faker's attribute names vary by locale (first_names_male, unisex_last_names,
# last_romanized_names...): any list attribute named like a given or family name list.
_FIRST_ATTR = re.compile(r"^(?!.*(format|prefix|suffix)).*first.*name")
_LAST_ATTR = re.compile(r"^(?!.*(format|prefix|suffix)).*(last|family|sur).*name")
_LATIN_TOKEN = re.compile(r"^[A-Z](?:[A-Z'\-]*[A-Z])?$")


@dataclass(frozen=True)
class WorldNames:
    """Folded given and family names; ``locales`` says how many locale lists fed them."""

    first: frozenset[str]
    last: frozenset[str]
    locales: int

    def is_first(self, token: str) -> bool:
        return fold(token) in self.first

    def is_last(self, token: str) -> bool:
        return fold(token) in self.last

    def is_name(self, token: str) -> bool:
        folded = fold(token)
        return folded in self.first or folded in self.last


def fold(text: str) -> str:
    """``'Nguyễn'`` -> ``'NGUYEN'``; ``"O'Brien"`` -> ``"O'BRIEN"``: accents off, upper case."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return stripped.upper().replace("\u2019", "'").strip()


def _name_lists(cls: type, pattern: re.Pattern[str]) -> Iterator[str]:
    seen: set[str] = set()
    for klass in cls.__mro__:
        for attr, value in vars(klass).items():
            if attr in seen or not pattern.match(attr) or not isinstance(value, (tuple, list, dict)):
                continue
            seen.add(attr)
            yield from (v for v in value if isinstance(v, str))  # OrderedDicts map names to weights


def _person_providers() -> Iterator[type]:
    import faker.providers.person as person  # imported here: loading is lazy

    for module in pkgutil.iter_modules(person.__path__):
        provider = getattr(importlib.import_module(f"{person.__name__}.{module.name}"), "Provider", None)
        if provider is not None:
            yield provider


def _keep(names: Iterable[str], min_len: int) -> set[str]:
    kept = set()
    for name in names:
        for raw in str(name).split():  # "DE LA CRUZ", "VAN DER BERG": each word
            # Cyrillic is romanised before folding (folding takes the breve off Й).
            part = raw.upper()
            for spelling in romanised(part) if _CYRILLIC_TOKEN.match(part) else (fold(raw),):
                if len(spelling) >= min_len and _LATIN_TOKEN.match(spelling):
                    kept.add(spelling)
    return kept


_CYRILLIC_TOKEN = re.compile(r"^[\u0400-\u04ff'\-]+$")
# Latin spellings of Cyrillic letters: Ukrainian and Russian national and passport
# systems, and the common English forms (the first one listed is the most common).
_CYRILLIC_LATIN: dict[str, tuple[str, ...]] = {
    "ИЙ": ("IY", "Y", "II", "YI"), "ЫЙ": ("Y", "IY"),
    "А": ("A",), "Б": ("B",), "В": ("V",), "Г": ("G", "H"), "Ґ": ("G",), "Д": ("D",), "Е": ("E",), "Ё": ("E", "YO"),
    "Є": ("YE", "IE"), "Ж": ("ZH",), "З": ("Z",), "И": ("I", "Y"), "І": ("I",), "Ї": ("YI", "I"), "Й": ("Y", "I"),
    "К": ("K",), "Л": ("L",), "М": ("M",), "Н": ("N",), "О": ("O",), "П": ("P",), "Р": ("R",), "С": ("S",),
    "Т": ("T",), "У": ("U",), "Ф": ("F",), "Х": ("KH", "H"), "Ц": ("TS",), "Ч": ("CH",), "Ш": ("SH",),
    "Щ": ("SHCH", "SCH"), "Ъ": ("",), "Ы": ("Y",), "Ь": ("",), "Э": ("E",), "Ю": ("YU", "IU"), "Я": ("YA", "IA"),
    "'": ("",), "-": ("-",),
}
# Spellings kept per Cyrillic name at most (ambiguous letters multiply them).
_MAX_SPELLINGS = 16


def romanised(token: str) -> list[str]:
    """Latin spellings of an upper-case Cyrillic ``token`` ([] for a letter not in the table)."""
    spellings = [""]
    i = 0
    while i < len(token):
        pair = token[i:i + 2]
        options = _CYRILLIC_LATIN.get(pair) if len(pair) == 2 else None
        step = 2 if options else 1
        options = options or _CYRILLIC_LATIN.get(token[i])
        if options is None:
            return []
        spellings = [s + o for s in spellings for o in options][:_MAX_SPELLINGS]
        i += step
    return spellings


@functools.lru_cache(maxsize=4)
def load_world_names(min_len: int = 3) -> WorldNames:
    """All Latin-script given and family names of Faker's locales, folded. Tokens shorter
    than ``min_len`` are left out: two-letter "names" are mostly initials and particles."""
    first: set[str] = set()
    last: set[str] = set()
    locales = 0
    before = set(sys.modules)
    try:
        for provider in _person_providers():
            locales += 1
            first |= _keep(_name_lists(provider, _FIRST_ATTR), min_len)
            last |= _keep(_name_lists(provider, _LAST_ATTR), min_len)
    finally:
        # Keep the folded sets, not Faker's 87 locale modules (most of the memory).
        for name in set(sys.modules) - before:
            if name.startswith("faker.providers.person."):
                del sys.modules[name]
    return WorldNames(frozenset(first), frozenset(last), locales)


_DATA_FILE = "world_names.txt.gz"


@functools.lru_cache(maxsize=1)
def load_shipped_world_names() -> WorldNames:
    """The same lists, from the data file made at build time by ``tools/build_world_names.py``
    (``phi_guard/data/world_names.txt.gz``): tens of milliseconds, no Faker import."""
    import gzip
    from importlib import resources

    raw = resources.files("phi_guard").joinpath("data", _DATA_FILE).read_bytes()
    first: set[str] = set()
    last: set[str] = set()
    for line in gzip.decompress(raw).decode().splitlines():
        if line.startswith("F "):
            first.add(line[2:])
        elif line.startswith("L "):
            last.add(line[2:])
    return WorldNames(frozenset(first), frozenset(last), 0)
