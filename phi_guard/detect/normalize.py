"""OCR-confusion tolerant views of text. Each view has exactly the same length as
the input, so a match found in a view is a span of the original text."""
from __future__ import annotations

import re

_TO_DIGIT = str.maketrans({"O": "0", "o": "0", "D": "0", "Q": "0", "I": "1", "l": "1", "i": "1", "|": "1",
                           "!": "1", "S": "5", "s": "5", "B": "8", "Z": "2", "z": "2", "g": "9", "G": "6"})
_TO_LETTER = str.maketrans({"0": "O", "1": "I", "5": "S", "8": "B", "2": "Z", "6": "G", "|": "I", "$": "S"})
_TOKEN = re.compile(r"\S+")


def digit_view(text: str) -> str:
    """Read letters as the digits they are often confused with, inside tokens that
    are mostly digits already (``O6.l6.1976`` -> ``06.16.1976``)."""

    def fix(m: re.Match[str]) -> str:
        tok = m.group(0)
        digits = sum(c.isdigit() for c in tok)
        alnum = sum(c.isalnum() for c in tok)
        if digits and digits * 2 >= alnum:
            return tok.translate(_TO_DIGIT)
        return tok

    return _TOKEN.sub(fix, text)


def letter_view(text: str) -> str:
    """Read digits as letters inside tokens that are mostly letters (``5M1TH`` -> ``SMITH``),
    and ``*``/``~`` between letters as the DICOM name separator ``^``."""

    def fix(m: re.Match[str]) -> str:
        tok = m.group(0)
        letters = sum(c.isalpha() for c in tok)
        alnum = sum(c.isalnum() for c in tok)
        if letters and letters * 2 > alnum:
            tok = tok.translate(_TO_LETTER)
        return re.sub(r"(?<=[A-Za-z])[*~\"](?=[A-Za-z])", "^", tok)

    return _TOKEN.sub(fix, text)
