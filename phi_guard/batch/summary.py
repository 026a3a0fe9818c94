"""What a folder scan returns, and what its reports are made from."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ScanSummary:
    """Counts, errors and timing of one scan (files done in an earlier run included)."""

    total: int = 0
    done: int = 0
    skipped_resume: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # verdict -> count
    errors: list[dict[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "path: why", for every entry not screened
    interrupted: bool = False
    seconds: float = 0.0
    report_dir: str = ""
    strict: bool = False  # skipped files count as errors

    @property
    def exit_code(self) -> int:
        """2 if an image failed (or, with ``strict``, a file was skipped) or the scan was
        interrupted; 1 if an image was blocked; 0 otherwise. Files that are not images
        (README, JSON, ...) are SKIPPED: listed, never copied, not failures."""
        if self.counts.get("ERROR") or self.interrupted or (self.strict and self.counts.get("SKIPPED")):
            return 2
        return 1 if self.counts.get("BLOCKED") else 0
