"""Merging findings: the same identifier read by several engines, or in several
frames, is one finding. Light on imports (no Presidio), so the pipeline can use it
while the detector is still loading."""
from __future__ import annotations

from dataclasses import replace

from ..types import Box, Finding, coverage, iou


def _same_place(a: Box, b: Box) -> bool:
    return iou(a, b) > 0.3 or coverage(a, b) > 0.8 or coverage(b, a) > 0.8


def merge_findings(findings: list[Finding], across_frames: bool = False) -> list[Finding]:
    """Merge the same identifier read by several engines (same kind, same place), and
    drop a weaker finding of another kind whose boxes a stronger one already covers
    (a date that Presidio's phone recognizer also matched)."""
    merged: list[Finding] = []
    for f in sorted(findings, key=lambda f: (-f.score, f.kind)):
        if f.boxes and any(
            m.kind != f.kind and (across_frames or m.frame == f.frame) and m.score > f.score
            and all(any(coverage(b, a) > 0.8 for a in m.boxes) for b in f.boxes)
            for m in merged
        ):
            continue
        for i, m in enumerate(merged):
            if m.kind == f.kind and (across_frames or m.frame == f.frame) and any(_same_place(a, b) for a in m.boxes for b in f.boxes):
                boxes = m.boxes + tuple(b for b in f.boxes if all(iou(b, a) < 0.9 for a in m.boxes))
                rule = m.rule if f.rule in m.rule.split("+") else f"{m.rule}+{f.rule}"
                merged[i] = replace(m, boxes=boxes, rule=rule, level=m.level and f.level)
                break
        else:
            merged.append(f)
    return merged
