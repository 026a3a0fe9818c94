"""A real browser on the page: Playwright drives Debian's Chromium (no browser download)."""
from __future__ import annotations

import os
import shutil

import pytest
from webserver import free_port, launch_chromium, serve


@pytest.fixture(scope="module")
def server():
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with serve("--port", str(port), health=url + "/healthz"):
        yield url


def test_page_screens_an_upload_in_chromium(server, samples, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
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

        from phi_guard.formats.photo.metadata import inventory_container

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
