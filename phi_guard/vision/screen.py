"""Faces and codes as pipeline findings: what the pipeline calls on a photo frame
(after load, beside OCR) and on the output (in verify).

``screen_photo`` applies the ``[faces]`` and ``[codes]`` actions: what to mask (FACE and
BARCODE findings with boxes already padded: do not pad them again as text), what
blocks (reasons a person can read, no values), and what was kept (faces with consent:
the report must say so). ``residual_photo_findings`` is the verification check: faces
the detector still finds outside the masks, and codes that still decode.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..types import Box, Finding, Where
from .codes import CodeDetector, CodeSearch
from .faces import FaceDetector, FaceSearch

FACE = "FACE"
BARCODE = "BARCODE"


@dataclass(frozen=True)
class PhotoScreen:
    """What faces and codes mean for one frame under the policy."""

    to_mask: tuple[Finding, ...]  # FACE/BARCODE findings whose (padded) boxes get masked
    kept: tuple[Finding, ...]  # faces left visible by [faces] action = "keep"
    block_reasons: tuple[str, ...]  # non-empty: the image is blocked
    notes: tuple[str, ...]  # for the report (e.g. the smallest face size searched)


def face_findings(search: FaceSearch, frame: int = 0) -> list[Finding]:
    return [
        Finding(kind=FACE, masked_value=f"[face ~{f.width} px" + (f", turned {f.rotation} deg]" if f.rotation else "]"),
                boxes=(f.box,), score=f.score, rule="centerface", where=Where.PIXELS, frame=frame)
        for f in search.faces
    ]


def code_findings(search: CodeSearch, frame: int = 0) -> list[Finding]:
    # The decoded value is PHI (an MRN): only the symbology and the content's kind are
    # shown; raw_text is for --include-phi audits and never reaches a default report.
    return [
        Finding(kind=BARCODE, masked_value=f"[{c.symbology}: {c.kind}]", boxes=(c.box,), score=1.0 if c.decoded else 0.5,
                rule=f"zxing-cpp:{c.found_by}" if c.decoded else "code-finder", where=Where.PIXELS, frame=frame,
                raw_text=c.value)
        for c in search.codes
    ]


def screen_photo(image: np.ndarray, faces: FaceDetector, codes: CodeDetector, frame: int = 0) -> PhotoScreen:
    """Search one frame for faces and codes and apply the detectors' policies."""
    face_search = faces.search(image)
    code_search = codes.search(image)
    found_faces = face_findings(face_search, frame)
    found_codes = code_findings(code_search, frame)
    to_mask: list[Finding] = []
    kept: list[Finding] = []
    reasons: list[str] = []
    notes = [f"faces searched down to {face_search.smallest_face} px wide"]
    if found_faces:
        action = faces.policy.action
        if action == "block":
            reasons.append(f"policy blocks photos with a face ({len(found_faces)} found)")
        elif action == "keep":
            kept.extend(found_faces)
            notes.append(f"{len(found_faces)} face(s) kept visible (policy: faces.action = keep, for documented consent)")
        else:
            to_mask.extend(found_faces)
    if found_codes:
        if codes.policy.action == "block":
            reasons.append(f"policy blocks photos with a barcode or 2-D code ({len(found_codes)} found)")
        else:
            to_mask.extend(found_codes)
    return PhotoScreen(tuple(to_mask), tuple(kept), tuple(reasons), tuple(notes))


def residual_photo_findings(image: np.ndarray, masks: list[Box], faces: FaceDetector, codes: CodeDetector, frame: int = 0) -> list[Finding]:
    """Verification of an output frame: faces still detected outside the masks (unless
    faces are kept by policy) and codes that still decode. Each comes back as a
    finding, so the pipeline masks it in another round or blocks."""
    out: list[Finding] = []
    if faces.policy.action != "keep":
        left = faces.faces_outside_masks(image, masks)
        out.extend(face_findings(FaceSearch(tuple(left), 0.0, 0, 0, 0.0), frame))
    left_codes = codes.decodable_codes(image, masks)
    out.extend(code_findings(CodeSearch(tuple(left_codes), 0.0), frame))
    return out
