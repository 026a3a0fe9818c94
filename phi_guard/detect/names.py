"""Person-name gazetteer from the 1990 US Census name lists (public domain data,
shipped in the MIT-licensed ``names`` package on PyPI).

A NER model alone misses names on overlays: they are all caps, out of any
sentence, and often misread. A gazetteer hit does not depend on context.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class NameGazetteer:
    first: frozenset[str]
    last: frozenset[str]
    first_one_edit: frozenset[str]  # deletion neighbourhood of first names, for OCR slips

    def is_first(self, token: str) -> bool:
        """True for a first name of the census lists (upper case)."""
        return token in self.first

    def is_last(self, token: str) -> bool:
        """True for a last name of the census lists (upper case)."""
        return token in self.last

    def is_first_fuzzy(self, token: str) -> bool:
        """True for a first name with one character misread, dropped or added."""
        if token in self.first:
            return True
        if len(token) < 5:
            return False
        if token in self.first_one_edit:  # one extra character in the token
            return True
        return any(token[:i] + token[i + 1 :] in self.first_one_edit for i in range(len(token)))


def _read(name: str) -> list[str]:
    text = resources.files("names").joinpath(name).read_text("latin-1")
    return [line.split()[0] for line in text.splitlines() if line.strip()]


@functools.lru_cache(maxsize=1)
def load_gazetteer() -> NameGazetteer:
    """The census first and last names, loaded once per process."""
    first = set(_read("dist.male.first")) | set(_read("dist.female.first"))
    last = set(_read("dist.all.last"))
    # Two-letter census "names" are mostly initials and abbreviations; they are not names here.
    first = {n for n in first if len(n) >= 3}
    last = {n for n in last if len(n) >= 3}
    deletions = {n[:i] + n[i + 1 :] for n in first if len(n) >= 5 for i in range(len(n))}
    return NameGazetteer(frozenset(first), frozenset(last), frozenset(deletions | first))
