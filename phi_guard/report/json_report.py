from __future__ import annotations

import platform
from typing import Any

from .. import __version__
from ..policy import Policy
from ..types import Decision, Finding, MetadataItem

REPORT_SCHEMA_VERSION = "1.0"


def finding_dict(f: Finding, include_phi: bool) -> dict[str, Any]:
    """One finding as the report shows it (the raw value only with ``include_phi``)."""
    d: dict[str, Any] = {
        "kind": f.kind,
        "where": f.where.value,
        "masked_value": f.masked_value,
        "score": f.score,
        "rule": f.rule,
    }
    if f.boxes:
        d["boxes"] = [list(b) for b in f.boxes]
        d["frame"] = f.frame
    if include_phi and f.raw_text:
        d["value"] = f.raw_text
    return d


def verification_checks(policy: Policy, output_format: str | None, verification: dict[str, Any]) -> list[str]:
    """What verification of the written output checked, in plain words (empty when
    nothing was verified: a blocked image has no output)."""
    if not verification.get("rounds"):
        return []
    engines = ", ".join(verification.get("engines", [])) or "none"
    focused = verification.get("reread") == "around masks and changes"
    checks = ["the encoded output was decoded again with the same loader and limits as any input"]
    if output_format == "DICOM":
        checks += ["the output header was searched for every identifying value of the input header",
                   "no private attributes, overlay planes or icon images remain in the output header"]
        checks.append("every mask is one stored value, and outside the masks every stored value of every frame "
                      f"equals the input's; around the masks and any change the frames were re-read by {engines} "
                      "and re-detected" if focused else f"every distinct output frame was re-read by {engines} and re-detected")
    else:
        checks += ["the output container was inventoried: it carries no metadata",
                   "the output has the size of the screened pixels"]
        if policy.redact.style == "fill":
            checks.append("every filled mask is solid in the output")
        checks.append("outside the masks the output's pixels equal the screened input's (within codec noise for a "
                      f"lossy format); around the masks and any change it was re-read by {engines} and re-detected"
                      if focused else f"the whole output was re-read by {engines} and re-detected")
    checks.append("around every face and code mask the output was searched again for faces and codes (none may be "
                  "found or still decode)" if focused else
                  "the output was searched again for barcodes and 2-D codes (none may still decode) and, in "
                  "photographs, for faces at the policy's threshold (none may be left outside the masks)")
    if verification.get("mask_recheck_engines"):
        checks.append("the neighbourhood of every mask was re-read by " + ", ".join(verification["mask_recheck_engines"]))
    return checks


def build_report(
    *,
    input_info: dict[str, Any],
    decision: Decision,
    findings: list[Finding],
    metadata: list[MetadataItem],
    masks: list[tuple[int, int, int, int]],
    policy: Policy,
    engines: dict[str, str],
    timings: dict[str, float],
    output_info: dict[str, Any] | None,
    verification: dict[str, Any],
    notes: list[str],
) -> dict[str, Any]:
    """The versioned JSON report of one screening (no raw PHI unless the policy asks)."""
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "tool": {"name": "phi_guard", "version": __version__, "python": platform.python_version()},
        "engines": engines,
        "policy": {"source": policy.source if policy.source == "default" else "custom", "digest": policy.digest,
                   "mode": policy.mode, "style": policy.redact.style},
        "input": input_info,
        "verdict": decision.verdict.value,
        "reasons": list(decision.reasons),
        "findings": [finding_dict(f, policy.include_phi_in_report) for f in findings],
        "metadata": [
            {"carrier": m.carrier, "key": m.key, "masked_value": m.masked_value, "action": m.action, "phi_risk": m.phi_risk}
            for m in metadata
        ],
        "redactions": {"count": len(masks), "style": policy.redact.style, "boxes": [list(b) for b in masks]},
        "verification": {**verification,
                         "checked": verification_checks(policy, (output_info or {}).get("format"), verification)},
        "notes": notes,
        "output": output_info,
        "timings_s": {k: round(v, 4) for k, v in timings.items()},
    }
