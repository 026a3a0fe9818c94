"""A picture of a safe copy for people to look at (the web page, the scan summary):
never of the original, and with the masked areas outlined."""
from __future__ import annotations

import io
from collections.abc import Sequence

from ..policy import Policy


def outlined_preview(safe: bytes, boxes: Sequence[Sequence[int]], max_side: int, policy: Policy | None = None) -> bytes | None:
    """The first frame of the safe copy ``safe``, ``boxes`` (the report's redaction boxes)
    outlined in red, scaled to fit ``max_side``, as PNG bytes. Returns None when the copy
    has no pixels or cannot be decoded: a preview is a convenience, never a failure."""
    try:
        from PIL import Image, ImageDraw

        from ..load import load_document

        doc = load_document(safe, policy or Policy.default(), "output")
        if not doc.has_pixels:
            return None
        im = Image.fromarray(doc.frames[0]).convert("RGB")
        draw = ImageDraw.Draw(im)
        for box in boxes:
            draw.rectangle(tuple(box), outline=(255, 64, 64), width=max(2, im.width // 250))
        im.thumbnail((max_side, max_side))
        buf = io.BytesIO()
        im.save(buf, "PNG")
        return buf.getvalue()
    except Exception:  # noqa: BLE001 - a preview is a convenience
        return None
