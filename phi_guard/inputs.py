"""Reading an input file safely: only regular files, never more than the byte limit.

Why: a device (``/dev/zero``) has size 0 on disk, so a size check never stops it and
reading it never ends; a named pipe (FIFO) with no writer blocks a reader forever; a
socket cannot be read at all. Such paths are refused before they are read, with one
clear line."""
from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import DecompressionBombError, InputError


def not_regular_reason(mode: int) -> str | None:
    """Why a file of this mode is not screened (None for a regular file)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a folder, not an image file"
    if stat.S_ISFIFO(mode):
        return "is a named pipe (FIFO), not an image file; it was not read"
    if stat.S_ISSOCK(mode):
        return "is a socket, not an image file; it was not read"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not an image file; it was not read"
    return "is not a regular file; it was not read"


def check_regular_file(path: str | Path) -> os.stat_result:
    """The file's status if it is a regular file (links followed); a typed error otherwise."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise InputError(f"{p.name}: file not found") from None
    except OSError as exc:
        raise InputError(f"{p.name}: cannot be read ({exc.strerror or exc})") from None
    reason = not_regular_reason(st.st_mode)
    if reason:
        raise InputError(f"{p.name}: {reason}")
    return st


def read_regular_file(path: str | Path, max_bytes: int, *, head: int | None = None) -> bytes:
    """The bytes of a regular file (at most ``head`` bytes if given). Non-regular files
    are refused; the file opened is checked again (it may have been swapped since the
    first check), without blocking on a pipe."""
    p = Path(path)
    st = check_regular_file(p)
    if head is None and st.st_size > max_bytes:
        raise DecompressionBombError(f"{p.name}: file is {st.st_size} bytes, over the {max_bytes}-byte limit")
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise InputError(f"{p.name}: cannot be read ({exc.strerror or exc})") from None
    try:
        reason = not_regular_reason(os.fstat(fd).st_mode)
        if reason:
            raise InputError(f"{p.name}: {reason}")
        limit = head if head is not None else max_bytes + 1
        chunks, got = [], 0
        while got < limit:
            chunk = os.read(fd, min(1 << 20, limit - got))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
    except OSError as exc:
        raise InputError(f"{p.name}: cannot be read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if head is None and len(data) > max_bytes:
        raise DecompressionBombError(f"{p.name}: file is over the {max_bytes}-byte limit")
    return data
