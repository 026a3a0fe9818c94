"""Where results are written: paths checked before screening, stale outputs removed,
and several files (a safe copy and its report) written together or not at all.

Why: a safe copy left at an output path by an earlier, weaker run must not survive a
later BLOCK or failure of the same input (the user would take it for the new result),
and a failed write must not leave half the results (a safe copy without its report)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import OutputError, UsageError


def check_writable(path: Path, what: str) -> None:
    """Refuse, before any screening, a path that cannot take a file: a folder, a
    location under a file, or a folder this process cannot create files in."""
    if path.is_dir():
        raise UsageError(f"the {what} {path} is a folder; give a file name")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent  # folders that do not exist yet are created when writing
    if not parent.is_dir():
        raise UsageError(f"cannot write the {what} {path}: {parent} is not a folder")
    try:
        with tempfile.TemporaryFile(prefix=".phi_guard-probe-", dir=parent):
            pass
    except OSError as exc:
        raise UsageError(f"cannot write the {what} {path}: {exc.strerror or exc}") from None


def remove_stale(path: Path) -> bool:
    """Remove an earlier output at ``path`` (its image was blocked or failed this time).
    True when something was removed."""
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False
    except IsADirectoryError:
        return False


def write_together(files: list[tuple[Path, bytes]]) -> None:
    """Write every file, or none: each goes to a synced temporary file beside its
    target first, and only when all are complete are they renamed into place. If a
    rename fails, the files already renamed are removed again."""
    staged: list[tuple[str, Path]] = []
    done: list[Path] = []
    try:
        for target, data in files:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".phi_guard-", suffix=".part", dir=target.parent)
            staged.append((tmp, target))
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        for tmp, target in staged:
            os.replace(tmp, target)
            done.append(target)
    except OSError as exc:
        for target in done:
            target.unlink(missing_ok=True)
        raise OutputError(f"cannot write {Path(exc.filename or '').name or 'the output'}: {exc.strerror or exc}; "
                          "nothing was written") from None
    finally:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
