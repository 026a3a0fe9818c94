"""The resume manifest: one JSON line per finished input (with the policy digest
and the phi_guard version it was screened under), appended and fsynced as each file
completes, so an interrupted scan leaves a consistent record."""
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
                self.entries[entry.get("key") or entry["rel"]] = entry

    def is_done(self, key: str, size: int, sha256: str, policy_digest: str, tool_version: str) -> bool:
        """Done when the same bytes were screened under the same policy by the same
        phi_guard version: an output made under an earlier, weaker policy or by an
        older version is not kept."""
        e = self.entries.get(key)
        return (e is not None and e.get("size") == size and e.get("sha256") == sha256
                and e.get("policy_digest") == policy_digest and e.get("tool_version") == tool_version)

    def record(self, entry: dict[str, Any]) -> None:
        """Append a finished file's record (with its report) to the manifest."""
        self.entries[entry.get("key") or entry["rel"]] = entry
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def reset(self) -> None:
        """Forget earlier runs (a scan without --resume)."""
        self.entries.clear()
        if self.path.exists():
            self.path.unlink()
