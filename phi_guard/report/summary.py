from __future__ import annotations

from collections import Counter
from typing import Any


def human_summary(report: dict[str, Any], output_path: str | None = None) -> str:
    """The few lines ``phi-guard check`` prints for a report."""
    verdict = report["verdict"]
    name = report["input"].get("name", "input")
    head = {
        "CLEAN": f"CLEAN     {name}: no identifiers found in the pixels",
        "REDACTED": f"REDACTED  {name}: identifiers masked",
        "BLOCKED": f"BLOCKED   {name}: not safe to share",
        "ERROR": f"ERROR     {name}",
    }.get(verdict, f"{verdict} {name}")
    lines = [head]
    for reason in report.get("reasons", []):
        lines.append(f"  - {reason}")
    pixel = Counter(f["kind"] for f in report.get("findings", []) if f["where"] == "pixels")
    meta = Counter(f["kind"] for f in report.get("findings", []) if f["where"] == "metadata")
    if pixel:
        lines.append("  pixels:   " + ", ".join(f"{k} x{n}" for k, n in sorted(pixel.items())))
    if meta:
        lines.append("  metadata: " + ", ".join(f"{k} x{n}" for k, n in sorted(meta.items())))
    if output_path:
        lines.append(f"  safe copy: {output_path}")
    elif verdict == "BLOCKED":
        lines.append("  no output was written")
    t = report.get("timings_s", {}).get("total")
    if t is not None:
        lines.append(f"  ({t:.2f} s)")
    return "\n".join(lines)
