"""The per-installation secret that keys DICOM UID replacement and date shifts.

Replacement UIDs and date shifts are HMACs of identifiers under this key: anyone who
knows it and the patient can recompute (and undo) them, so no usable key is shipped.
On first use a random key is generated and stored, readable by its owner only, at
``$XDG_CONFIG_HOME/phi_guard/secret`` (``~/.config/phi_guard/secret`` when
XDG_CONFIG_HOME is unset). A policy may set ``dicom.secret`` explicitly instead
(to link studies across installations)."""
from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from .errors import PolicyError


def secret_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "phi_guard" / "secret"


def installation_secret() -> str:
    """This installation's key, created on first use (mode 0600 in a 0700 folder)."""
    path = secret_path()
    if not path.exists():
        _create(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise PolicyError(f"the phi_guard secret {path} is readable by other users; run: chmod 600 {path}")
    value = path.read_text("ascii").strip()
    if len(value) < 32:
        raise PolicyError(f"the phi_guard secret {path} is damaged (too short); remove it to make a new one")
    return value


def _create(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    tmp = path.with_name(f".secret-{os.getpid()}-{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_hex(32) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # atomic, and never replaces a key another process made first
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)
