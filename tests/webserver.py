"""Helpers for the tests that run the real server: `phi-guard serve` in a subprocess,
and Debian's Chromium driven by Playwright (no browser download)."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(*args: str, health: str | None = None, ready=None) -> Iterator[subprocess.Popen]:  # noqa: ANN001
    """Run `phi-guard serve ARGS` until the block ends; waits for `health` (a URL) or
    for `ready()` to return true. stderr is kept in a file (proc.stderr_path) so tests
    can read what the server logged."""
    err = open(os.path.join(os.environ.get("TMPDIR", "/tmp"), f"phi_guard-serve-{os.getpid()}-{time.monotonic_ns()}.log"), "w+b")
    proc = subprocess.Popen([sys.executable, "-m", "phi_guard.cli", "serve", "--workers", "1", *args],
                            stdout=subprocess.DEVNULL, stderr=err)
    proc.stderr_path = err.name  # type: ignore[attr-defined]
    try:
        deadline = time.time() + 240
        while True:
            if proc.poll() is not None:
                err.seek(0)
                raise RuntimeError(f"phi-guard serve exited: {err.read().decode()}")
            try:
                if ready is not None and ready():
                    break
                if health is not None:
                    urllib.request.urlopen(health, timeout=2)
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError("phi-guard serve did not start in time")
            time.sleep(0.5)
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        err.close()
        os.unlink(err.name)


def launch_chromium(playwright):  # noqa: ANN001, ANN201
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is not installed (make test installs it)")
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def service_worker_scope(page) -> str:  # noqa: ANN001
    """Wait, at most a minute, until the page's service worker controls it; its scope.
    `navigator.serviceWorker.ready` alone never settles if the registration failed, and
    Playwright's evaluate has no timeout: a test would hang instead of failing."""
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=60_000)
    return page.evaluate("navigator.serviceWorker.ready.then(r => r.scope)")


ROOT = Path(__file__).resolve().parent.parent
