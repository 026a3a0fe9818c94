"""Summary outputs of a scan: report.jsonl, summary.csv, summary.html, terminal summary.

The HTML shows, for each redacted or blocked file, a thumbnail of the *output* (never
of the original) with the masked boxes drawn; a blocked file has no output, so it is
listed with its reasons and no picture."""
from __future__ import annotations

import base64
import csv
import html
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

from ..write import atomic_write
from .summary import ScanSummary


def write_reports(report_dir: Path, out_dir: Path, records: list[dict[str, Any]], summary: ScanSummary) -> None:
    """Write report.jsonl, summary.csv and summary.html (atomically) into ``report_dir``."""
    report_dir.mkdir(parents=True, exist_ok=True)
    records = sorted(records, key=lambda r: r["rel"])
    lines = [json.dumps(r.get("report") or {k: v for k, v in r.items()}, sort_keys=True) for r in records]
    atomic_write(report_dir / "report.jsonl", ("\n".join(lines) + "\n").encode())
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["path", "format", "verdict", "findings_by_kind", "seconds", "output", "error", "skipped_because"])
    for r in records:
        kinds = Counter(f["kind"] for f in (r.get("report") or {}).get("findings", [])) if r.get("report") else Counter(r.get("kinds", {}))
        w.writerow([r["rel"], r.get("format", ""), r.get("verdict", "ERROR"), ";".join(f"{k}={n}" for k, n in sorted(kinds.items())),
                    r.get("seconds", ""), r.get("output", ""), r.get("error", ""), r.get("reason", "")])
    atomic_write(report_dir / "summary.csv", buf.getvalue().encode())
    atomic_write(report_dir / "summary.html", _html(out_dir, records, summary).encode())


def _thumb(out_dir: Path, rec: dict[str, Any]) -> str:
    """A data-URI thumbnail of the output with the masked boxes outlined."""
    from ..report.preview import outlined_preview

    try:
        data = (out_dir / rec["output"]).read_bytes()
    except OSError:
        return ""
    boxes = (rec.get("report") or {}).get("redactions", {}).get("boxes", [])
    png = outlined_preview(data, boxes, 240)
    return "data:image/png;base64," + base64.b64encode(png).decode() if png else ""


def _html(out_dir: Path, records: list[dict[str, Any]], summary: ScanSummary) -> str:
    counts = Counter(r.get("verdict", "ERROR") for r in records)
    reasons = Counter(reason for r in records for reason in (r.get("report") or {}).get("reasons", [])
                      if not reason.startswith("metadata removed"))
    rows = []
    for r in records:
        verdict = r.get("verdict", "ERROR")
        if verdict not in ("REDACTED", "BLOCKED", "ERROR", "SKIPPED"):
            continue
        img = _thumb(out_dir, r) if verdict == "REDACTED" and r.get("output") else ""
        why = "; ".join((r.get("report") or {}).get("reasons", [])) or r.get("error", "") or r.get("reason", "")
        pic = f'<img alt="safe copy of {html.escape(r["rel"])}" src="{img}">' if img else "<span>no output</span>"
        rows.append(f"<tr><td>{html.escape(r['rel'])}</td><td class='{verdict}'>{verdict}</td><td>{html.escape(why)}</td><td>{pic}</td></tr>")
    count_rows = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in sorted(counts.items()))
    reason_rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in reasons.most_common(20))
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>phi_guard scan summary</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;margin:1.5rem;max-width:70rem}}table{{border-collapse:collapse;margin:1rem 0}}
td,th{{border:1px solid #ccc;padding:.3rem .6rem;vertical-align:top}}.BLOCKED{{color:#a00;font-weight:bold}}
.ERROR{{color:#a60;font-weight:bold}}.SKIPPED{{color:#666}}.REDACTED{{color:#063}}img{{max-width:240px}}</style></head><body>
<h1>phi_guard scan summary</h1><p>{len(records)} file(s) in {summary.seconds:.1f} s{' (interrupted: rerun with --resume)' if summary.interrupted else ''}.
Thumbnails show the safe copies (never the originals), masked areas outlined in red.</p>
<h2>By verdict</h2><table><tr><th>verdict</th><th>files</th></tr>{count_rows}</table>
<h2>Reasons</h2><table><tr><th>reason</th><th>files</th></tr>{reason_rows}</table>
<h2>Redacted, blocked, failed and skipped files</h2><table><tr><th>file</th><th>verdict</th><th>why</th><th>safe copy</th></tr>{''.join(rows)}</table>
</body></html>"""


def terminal_summary(summary: ScanSummary) -> str:
    """The few lines a scan prints when it ends: counts, errors, where the reports are."""
    parts = [f"{v} {n}" for v, n in sorted(summary.counts.items())]
    scanned = f"{summary.done + summary.skipped_resume} of {summary.total}" if summary.interrupted else f"{summary.total}"
    lines = [f"scanned {scanned} file(s) in {summary.seconds:.1f} s: " + (", ".join(parts) or "nothing to do")]
    if summary.skipped_resume:
        lines.append(f"  {summary.skipped_resume} already done in an earlier run (resumed)")
    for e in summary.errors[:10]:
        lines.append(f"  error: {e['path']}: {e['error']}")
    if len(summary.errors) > 10:
        lines.append(f"  ... and {len(summary.errors) - 10} more errors (see summary.csv)")
    for s in summary.skipped[:5]:
        lines.append(f"  skipped: {s}")
    if len(summary.skipped) > 5:
        lines.append(f"  ... and {len(summary.skipped) - 5} more skipped (see summary.csv)")
    if summary.interrupted:
        lines.append("  interrupted: finished files are recorded; rerun with --resume to complete")
    lines.append(f"  reports: {summary.report_dir}/summary.html, summary.csv, report.jsonl")
    return "\n".join(lines)
