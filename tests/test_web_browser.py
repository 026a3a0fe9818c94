"""A real browser on the page: Playwright drives Debian's Chromium (no browser download)."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "phi_guard.cli", "serve", "--port", str(port), "--workers", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/healthz", timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read().decode())
            time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_page_screens_an_upload_in_chromium(server, samples, tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"],
        )
        page = browser.new_page(viewport={"width": 1100, "height": 1400})
        page.goto(server + "/")
        page.set_input_files("#file", str(samples / "phone_photo_gps.jpg"))
        page.wait_for_selector("#verdict.REDACTED", timeout=120_000)
        assert "Safe to share after masking" in page.inner_text("#verdict")
        assert page.is_visible("#download")
        rows = page.inner_text("#findings")
        assert "PERSON" in rows and "LOCATION" in rows
        assert "GPS" in page.inner_text("#metadata")
        page.wait_for_function("document.getElementById('preview').naturalWidth > 0")
        with page.expect_download() as dl:
            page.click("#download")
        saved = tmp_path / "download.jpg"
        dl.value.save_as(saved)
        from PIL import Image, ImageOps

        from phi_guard.metadata import inventory_container

        with Image.open(saved) as im, Image.open(samples / "phone_photo_gps.jpg") as src:
            assert im.format == "JPEG" and im.size == ImageOps.exif_transpose(src).size
        assert b"Exif" not in saved.read_bytes()
        assert [m for m in inventory_container(saved.read_bytes(), "JPEG") if m.phi_risk] == []
        page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
        if os.environ.get("PHI_GUARD_SCREENSHOT"):
            shutil.copy(tmp_path / "page.png", os.environ["PHI_GUARD_SCREENSHOT"])
        # a phone-sized screen still shows the verdict without horizontal scrolling
        page.set_viewport_size({"width": 390, "height": 844})
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        browser.close()
