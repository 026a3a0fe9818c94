"""Screenshots of the page at a phone's size (360 x 740) for docs/phone.md: the start
screen, a share that is safe after masking, and a share that is blocked.

Uses the same server start-up, Chromium launch and simulated share sheet as
tests/test_web_phone.py. Run from the repository root:
    python tools/phone_screenshots.py            (writes docs/phone_*.png)"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from test_web_phone import POLICY, SHARE_STUB, os_share  # noqa: E402
from webserver import free_port, launch_chromium, serve  # noqa: E402

DOCS = ROOT / "docs"
SAMPLES = ROOT / "sample_images"
PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


def main() -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        policy = Path(tmp) / "policy.toml"
        policy.write_text(POLICY)  # a phone number in the picture blocks it
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with serve("--port", str(port), "--policy", str(policy), health=url + "/healthz"), sync_playwright() as p:
            browser = launch_chromium(p)
            context = browser.new_context(**PHONE)
            context.add_init_script(SHARE_STUB)
            page = context.new_page()
            page.goto(url + "/")
            page.evaluate("navigator.serviceWorker.ready")
            page.wait_for_function("navigator.serviceWorker.controller !== null")
            page.screenshot(path=str(DOCS / "phone_start.png"))
            for sample, verdict, out in [("phone_photo_gps.jpg", "REDACTED", "phone_safe.png"),
                                         ("clinical_photo_text_chunks.png", "BLOCKED", "phone_blocked.png")]:
                os_share(page, url, SAMPLES / sample)
                page.wait_for_selector(f"#verdict.{verdict}", timeout=180_000)
                page.wait_for_timeout(300)
                page.screenshot(path=str(DOCS / out))
                print(DOCS / out)
            browser.close()


if __name__ == "__main__":
    main()
