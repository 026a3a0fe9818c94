"""Masking of values for reports: keep the shape, never the content."""
from __future__ import annotations

import re

_SEPARATORS = set(" .,/-:^_()[]@+#")


def mask_value(value: object, limit: int = 40) -> str:
    """Mask a value so its kind and shape show but not its content.

    Letters become ``*`` (initials are identifying too), digits become ``#``;
    separators are kept: ``DAVIDSON^DOUGLAS`` -> ``********^*******``,
    ``06.16.1976`` -> ``##.##.####``. Binary values are described by size only.
    """
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    if isinstance(value, tuple) and all(isinstance(v, (int, float)) for v in value):
        return f"<{len(value)} numbers>"
    text = str(value).strip("\x00 ")
    if not text:
        return "<empty>"
    out = []
    for ch in text[:limit]:
        if ch in _SEPARATORS or ch.isspace():
            out.append(ch)
        elif ch.isdigit():
            out.append("#")
        else:
            out.append("*")
    if len(text) > limit:
        out.append(f"…({len(text)} chars)")
    return re.sub(r"\s+", " ", "".join(out))
