"""Faces and codes as pipeline findings: what the pipeline calls on a document's frames
(in the read stage, beside OCR) and on the output (in verify).

:func:`find_in_pictures` applies the ``[faces]`` and ``[codes]`` actions: FACE and
BARCODE findings (boxes already padded to the whole object, ``whole_object=True``) to
mask, or to block on when the action is "block" (the decide stage blocks on them),
and the faces kept visible by "keep" (reported, never masked).
:func:`residual_picture_findings` is the verification check: faces the detector still
finds outside the masks, and codes that still decode.

Where they run: codes in every frame of every image (a photographed or scanned label
can be in a DICOM secondary capture too); faces only in documents whose adapter says
their frames are photographic (photos, screenshots, animated and video frames, colour
DICOM): a grey x-ray, CT or MR rendering shows anatomy, not faces, and the detector
would only add false masks there.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ..formats.base import Document
from ..ocr import OcrEngine, OcrReading, merged_boxes, read_regions
from ..policy import Policy
from ..types import Box, Finding, Rendering, Where
from .codes import CodeDetector, CodeSearch
from .faces import FaceDetector, FaceSearch

FACE = "FACE"
BARCODE = "BARCODE"


@dataclass(frozen=True)
class PictureDetectors:
    """The engines that look at the pictures themselves (built once in a Screener)."""

    faces: FaceDetector
    codes: CodeDetector

    def for_policy(self, policy: Policy) -> PictureDetectors:
        """The same engines under a screen's policy (no model is loaded again)."""
        return PictureDetectors(self.faces.with_policy(policy.faces), self.codes.with_policy(policy.codes))

    def versions(self) -> str:
        return f"{self.faces.version()}, {self.codes.version()}"


@dataclass(frozen=True)
class PictureFindings:
    """What faces and codes mean for one document under the policy."""

    findings: tuple[Finding, ...] = ()  # FACE/BARCODE: masked, or blocking by policy
    kept: tuple[Finding, ...] = ()  # faces left visible by [faces] action = "keep"
    notes: tuple[str, ...] = ()  # for the report (e.g. the smallest face size searched)


def face_findings(search: FaceSearch, frame: int = 0, kept: bool = False) -> list[Finding]:
    suffix = ", kept visible by policy]" if kept else "]"
    return [
        Finding(kind=FACE, masked_value=f"[face ~{f.width} px" + (f", turned {f.rotation} deg" if f.rotation else "") + suffix,
                boxes=(f.box,), score=f.score, rule="centerface", where=Where.PIXELS, frame=frame, whole_object=True)
        for f in search.faces
    ]


def code_findings(search: CodeSearch, frame: int = 0) -> list[Finding]:
    # The decoded value is PHI (an MRN): only the symbology and the content's kind are
    # shown; raw_text is for --include-phi audits and never reaches a default report.
    return [
        Finding(kind=BARCODE, masked_value=f"[{c.symbology}: {c.kind}]", boxes=(c.box,), score=1.0 if c.decoded else 0.5,
                rule=f"zxing-cpp:{c.found_by}" if c.decoded else "code-finder", where=Where.PIXELS, frame=frame,
                raw_text=c.value, whole_object=True)
        for c in search.codes
    ]


def picture_frames(doc: Document) -> Iterator[tuple[int, np.ndarray]]:
    """The frames to look at: a clip's spread of frames (its adapter's sample), or each
    distinct displayed frame the adapter has read (a format may give several renderings
    of one frame, and overlay planes: not pictures)."""
    if doc.picture_sample is not None:
        yield from doc.picture_sample()
        return
    indexes = sorted({r.frame for r in doc.held_renderings if r.where is Where.PIXELS})
    yield from ((i, doc.frames[i]) for i in indexes if i < len(doc.frames))


def face_paths(faces_by_frame: Sequence[tuple[int, Sequence[Box]]]) -> list[tuple[int, Box]]:
    """Where faces went between two searched frames of a clip (frame, box): each face
    of a searched frame with the nearest face of the searched frame before it, as the
    box spanning both. A clip's masks hold in every frame, so a face that moved between
    the two is under the span, not only where it was seen."""
    paths: list[tuple[int, Box]] = []
    for (_, before), (frame, now) in zip(faces_by_frame, faces_by_frame[1:]):
        for box in now:
            if before:
                near = min(before, key=lambda b: abs(b[0] + b[2] - box[0] - box[2]) + abs(b[1] + b[3] - box[1] - box[3]))
                paths.append((frame, (min(box[0], near[0]), min(box[1], near[1]), max(box[2], near[2]), max(box[3], near[3]))))
    return paths


def find_in_pictures(detectors: PictureDetectors, doc: Document, policy: Policy) -> PictureFindings:
    """Faces (in photographic documents) and codes (in every image) in the document's
    frames, under the policy's ``[faces]`` and ``[codes]`` actions."""
    engines = detectors.for_policy(policy)
    findings: list[Finding] = []
    kept: list[Finding] = []
    smallest: set[int] = set()
    keep = policy.faces.action == "keep"
    faces_by_frame: list[tuple[int, list[Box]]] = []
    for i, pixels in picture_frames(doc):
        findings += code_findings(engines.codes.search(pixels), i)
        if doc.photographic:
            search = engines.faces.search(pixels)
            smallest.add(search.smallest_face)
            (kept if keep else findings).extend(face_findings(search, i, kept=keep))
            faces_by_frame.append((i, [f.box for f in search.faces]))
    if doc.picture_sample is not None and not keep:
        findings += [Finding(kind=FACE, masked_value="[a face's path between two searched frames]", boxes=(box,), score=1.0,
                             rule="centerface:path", where=Where.PIXELS, frame=frame, whole_object=True)
                     for frame, box in face_paths(faces_by_frame)]
    notes = [f"faces searched down to {max(smallest)} px wide"] if smallest else []
    if doc.picture_sample is not None:
        notes.append(f"faces and codes searched in {len(faces_by_frame) or 'a spread of'} frames of the clip")
    if kept:
        notes.append(f"{len(kept)} face(s) kept visible (policy: faces.action = keep, for documented consent)")
    return PictureFindings(tuple(findings), tuple(kept), tuple(notes))


# The surroundings of a code read again: its box grown by this share of its longer side.
BESIDE_CODE_MARGIN = 0.5


def read_beside_codes(engines: list[OcrEngine], doc: Document, findings: tuple[Finding, ...]) -> list[tuple[Rendering, OcrReading]]:
    """The text around each code, read again as a crop of its own: wristbands and labels
    print the name, MRN and birth date next to their code, often small, and an engine
    enlarges a small crop before detecting text (RapidOCR to 736 px on the short side),
    where in the whole photo that print is below its detector's size. One reading per
    frame with codes (a rendering of that frame, for detection)."""
    with_codes = {f.frame for f in findings if f.kind == BARCODE}
    if not with_codes:
        return []  # (a clip's frames are decoded again only when one had a code)
    out = []
    for i, pixels in picture_frames(doc):
        if i not in with_codes:
            continue
        h, w = pixels.shape[:2]
        around = []
        for f in findings:
            if f.kind != BARCODE or f.frame != i:
                continue
            for x0, y0, x1, y1 in f.boxes:
                m = int(BESIDE_CODE_MARGIN * max(x1 - x0, y1 - y0))
                around.append((max(0, x0 - m), max(0, y0 - m), min(w, x1 + m), min(h, y1 + m)))
        if around:
            reading = read_regions(engines, pixels, merged_boxes(around), i)
            out.append((Rendering(np.zeros((0, 0), np.uint8), frame=i, label="around codes"), reading))
    return out


def residual_picture_findings(pixels: np.ndarray, frame: int, masks: list[Box], policy: Policy, detectors: PictureDetectors,
                              photographic: bool = True) -> list[Finding]:
    """Verification of one output frame: faces still found outside the masks (unless the
    policy keeps faces) and codes that still decode. Each comes back as a finding, so
    the pipeline masks it in another round or blocks."""
    engines = detectors.for_policy(policy)
    out: list[Finding] = []
    if photographic and policy.faces.action != "keep":
        left = engines.faces.faces_outside_masks(pixels, masks)
        out += face_findings(FaceSearch(tuple(left), 0.0, 0, 0, 0.0), frame)
    out += code_findings(CodeSearch(tuple(engines.codes.decodable_codes(pixels, masks)), 0.0), frame)
    return out
