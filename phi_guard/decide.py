"""Decide stage: CLEAN, REDACTED or BLOCKED, with reasons a person can read.

Reasons name kinds and counts, never values."""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from .policy import Policy
from .types import Box, Decision, Finding, MetadataItem, Verdict, VerifyOutcome


def masked_fraction(boxes: list[Box], width: int, height: int) -> float:
    """Fraction of the image covered by the union of boxes (exact, via a coarse grid)."""
    if not boxes:
        return 0.0
    import numpy as np

    grid = np.zeros((height, width), dtype=bool)
    for x0, y0, x1, y1 in boxes:
        grid[max(y0, 0) : min(y1, height), max(x0, 0) : min(x1, width)] = True
    return float(grid.mean())


def kinds_summary(findings: list[Finding]) -> str:
    """``DATE x2, PERSON``: the kinds found and how often (for reasons; never values)."""
    counts = Counter(f.kind for f in findings)
    return ", ".join(f"{k} x{n}" if n > 1 else k for k, n in sorted(counts.items()))


def decide(
    pixel_findings: list[Finding], metadata: Sequence[MetadataItem], padded_boxes: list[Box], width: int, height: int,
    policy: Policy, *, overlay_findings: Sequence[Finding] = (), verification: VerifyOutcome | None = None, rounds: int = 0,
    kept: Sequence[Finding] = (),
) -> Decision:
    """The verdict for one redaction round, with reasons.

    Takes the findings in the pixels and in planes drawn over them (overlays), the
    metadata removed, the padded masks over text and the frame size (faces and codes
    are masked whole and do not count toward ``block.max_masked_fraction``: that limit
    guards against a picture that is mostly text, a form or a list, where a missed word
    is likely; a close-up face covers most of a photo and leaves nothing half-masked),
    and the faces kept visible by policy (``kept``, said in the reasons); after a verification
    (``verification``, the ``rounds`` done so far) it blocks on a fault of the output or
    on identifiers still readable once the policy's rounds are used up."""
    decision = _decide_pixels(pixel_findings, metadata, padded_boxes, width, height, policy)
    if kept:
        decision = Decision(decision.verdict, decision.reasons + (
            f"{len(kept)} face(s) left visible: the policy keeps faces (faces.action = keep, for documented consent)",))
    if overlay_findings and not policy.dicom.remove_overlays:
        return Decision(Verdict.BLOCKED, decision.reasons + ("identifiers in a DICOM overlay plane that the policy keeps",))
    if decision.verdict is Verdict.BLOCKED or verification is None or verification.ok:
        return decision
    if verification.problems:
        return Decision(Verdict.BLOCKED, decision.reasons + ("verification failed: " + "; ".join(verification.problems),))
    if rounds >= policy.verify.max_rounds:
        kinds = ", ".join(sorted({f.kind for f in verification.residual}))
        return Decision(Verdict.BLOCKED, decision.reasons + (f"identifiers still readable after {rounds} redaction round(s): {kinds}",))
    return decision


def _decide_pixels(
    pixel_findings: list[Finding], metadata: Sequence[MetadataItem], padded_boxes: list[Box], width: int, height: int, policy: Policy
) -> Decision:
    reasons: list[str] = []
    risky = [m for m in metadata if m.phi_risk]
    if risky:
        carriers = Counter(m.carrier for m in risky)
        reasons.append("metadata removed: " + ", ".join(f"{c} ({n})" for c, n in sorted(carriers.items())))
    blocking = sorted({f.kind for f in pixel_findings} & policy.blocking_kinds)
    if blocking:
        return Decision(Verdict.BLOCKED, tuple(reasons + [f"policy blocks images containing {', '.join(blocking)}"]))
    unreadable = [f for f in pixel_findings if f.kind == "UNREADABLE_TEXT"]
    if unreadable and policy.ocr.unreadable_text == "block":
        return Decision(Verdict.BLOCKED, tuple(reasons + [f"{len(unreadable)} text region(s) could not be read with confidence"]))
    identifiers = [f for f in pixel_findings if f.kind != "UNREADABLE_TEXT"]
    if len(identifiers) > policy.block.max_pixel_findings:
        return Decision(
            Verdict.BLOCKED,
            tuple(reasons + [f"too many identifiers in the image ({len(identifiers)} > {policy.block.max_pixel_findings}) to trust a redaction"]),
        )
    frac = masked_fraction(padded_boxes, width, height)
    if frac > policy.block.max_masked_fraction:
        return Decision(
            Verdict.BLOCKED,
            tuple(reasons + [f"redaction would cover {frac:.0%} of the image (limit {policy.block.max_masked_fraction:.0%})"]),
        )
    if pixel_findings:
        text = f"identifiers masked in the pixels: {kinds_summary(identifiers)}" if identifiers else ""
        if unreadable:
            text = (text + "; " if text else "") + f"{len(unreadable)} unreadable text region(s) masked"
        return Decision(Verdict.REDACTED, tuple(reasons + [text]))
    if width == 0:
        return Decision(Verdict.CLEAN, tuple(reasons + ["no pixel data; the header was de-identified"]))
    return Decision(Verdict.CLEAN, tuple(reasons + ["no identifiers found in the pixels"]))
