"""Which files to screen, and where their outputs go (a mirror of the input tree)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError


@dataclass(frozen=True)
class Task:
    rel: str  # path relative to the input folder, with forward slashes
    src: str  # absolute input path
    size: int


def check_folders(in_dir: Path, out_dir: Path) -> tuple[Path, Path]:
    """The resolved input and output folders. Raises UsageError when the input is not a
    folder or either folder lies inside the other."""
    src = in_dir.resolve()
    if not src.is_dir():
        raise UsageError(f"{in_dir}: not a folder")
    dst = out_dir.resolve()
    if dst == src:
        raise UsageError("the output folder is the input folder; choose another -o")
    if src in dst.parents:
        raise UsageError("the output folder is inside the input folder; choose a folder outside it")
    if dst in src.parents:
        raise UsageError("the input folder is inside the output folder; choose another -o")
    return src, dst


def plan(in_dir: Path) -> tuple[list[Task], list[tuple[str, str]]]:
    """Regular files under ``in_dir`` (recursively, sorted). Symbolic links are never
    followed out of the input folder; links to files inside it are screened as the
    files they are. Returns the tasks and the entries skipped, as (path, why): every
    entry that is not screened gets a row in the reports."""
    from ..inputs import not_regular_reason

    root = in_dir.resolve()
    tasks: list[Task] = []
    skipped: list[tuple[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for d in list(dirnames):
            if (Path(dirpath) / d).is_symlink():
                dirnames.remove(d)
                skipped.append((_rel(root, Path(dirpath) / d), "symbolic link to a folder (not followed)"))
        for name in sorted(filenames):
            p = Path(dirpath) / name
            rel = _rel(root, p)
            if name.startswith(".phi_guard-"):
                continue
            if p.is_symlink():
                target = p.resolve()
                if root not in target.parents:
                    skipped.append((rel, "symbolic link pointing outside the input folder (not followed)"))
                    continue
            try:
                st = p.stat()
            except OSError:
                skipped.append((rel, "cannot be read (a broken link or no permission)"))
                continue
            reason = not_regular_reason(st.st_mode)
            if reason:
                skipped.append((rel, reason))
                continue
            tasks.append(Task(rel=rel, src=str(p), size=st.st_size))
    return tasks, skipped


def _rel(root: Path, p: Path) -> str:
    return p.relative_to(root).as_posix()
