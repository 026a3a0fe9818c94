"""The resume manifest: one JSON line per finished input, appended and fsynced as
each file completes, so an interrupted scan leaves a consistent record."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

MANIFEST_NAME = ".phi_guard_manifest.jsonl"


class Manifest:
    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / MANIFEST_NAME
        self.entries: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            for line in self.path.read_text("utf-8").splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by a crash: that file is simply redone
                self.entries[entry["rel"]] = entry

    def is_done(self, rel: str, size: int, sha256: str) -> bool:
        """True when ``rel`` was finished by an earlier run and its size and digest are unchanged."""
        e = self.entries.get(rel)
        return e is not None and e.get("size") == size and e.get("sha256") == sha256

    def record(self, entry: dict[str, Any]) -> None:
        """Append a finished file's record (with its report) to the manifest."""
        self.entries[entry["rel"]] = entry
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def reset(self) -> None:
        """Forget earlier runs (a scan without --resume)."""
        self.entries.clear()
        if self.path.exists():
            self.path.unlink()
