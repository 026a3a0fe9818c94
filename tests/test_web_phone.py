"""The phone share path in a real browser (Debian's headless Chromium via Playwright):
the installable app's manifest, the service worker catching the share sheet's POST,
the page screening the kept file and handing the safe copy back to the share sheet
(navigator.share is stubbed: headless Linux has none), and the server answering the
share itself when no service worker is there."""
from __future__ import annotations

import base64
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from webserver import free_port, launch_chromium, serve, service_worker_scope

# One server for all: a phone number in the picture blocks it, so one sample is blocked
# (clinical_photo_text_chunks.png shows a phone number) and the others are redacted.
POLICY = '[block]\nkinds = ["PHONE_NUMBER"]\n'

# navigator.share stub: keeps the shared files' bytes for the test to read.
SHARE_STUB = """
window.__shared = [];
Object.defineProperty(navigator, "canShare", {configurable: true, value: (d) => !!(d && d.files && d.files.length)});
Object.defineProperty(navigator, "share", {configurable: true, value: async (d) => {
  for (const f of d.files) {
    const bytes = new Uint8Array(await f.arrayBuffer());
    let s = ""; for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
    window.__shared.push({name: f.name, type: f.type, b64: btoa(s)});
  }
}});
"""

# What the OS does when the user picks phi_guard in the share sheet: a navigation POST,
# multipart, to the manifest's share_target action, with the title/text fields a share
# sheet adds (here naming a patient: they must be ignored).
OS_SHARE_FORM = """(action) => {
  const f = document.createElement("form");
  Object.assign(f, {method: "post", enctype: "multipart/form-data", action, id: "os-share"});
  const file = Object.assign(document.createElement("input"), {type: "file", name: "file"});
  f.append(file);
  for (const [k, v] of [["title", "Jane Doe bed 12"], ["text", "MRN 123456"]])
    f.append(Object.assign(document.createElement("input"), {type: "hidden", name: k, value: v}));
  document.body.append(f);
}"""


@pytest.fixture(scope="module")
def phone_server(tmp_path_factory):
    policy = tmp_path_factory.mktemp("policy") / "policy.toml"
    policy.write_text(POLICY)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with serve("--port", str(port), "--policy", str(policy), health=url + "/healthz") as proc:
        yield url, proc


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()


def os_share(page, url: str, path) -> None:  # noqa: ANN001
    page.evaluate(OS_SHARE_FORM, url + "/share")
    page.set_input_files("#os-share input[type=file]", str(path))
    with page.expect_navigation():
        page.evaluate("document.getElementById('os-share').submit()")


def shared_files(page) -> list[dict]:  # noqa: ANN001
    page.click("#share")
    page.wait_for_function("window.__shared.length > 0")
    return page.evaluate("window.__shared")


def downloaded_report(page, tmp_path) -> dict:  # noqa: ANN001
    with page.expect_download() as dl:
        page.click("#report")
    dl.value.save_as(tmp_path / "report.json")
    return json.loads((tmp_path / "report.json").read_text())


def test_manifest_is_an_installable_share_target(phone_server, browser):
    url, _ = phone_server
    page = browser.new_page()
    page.goto(url + "/")
    link = page.locator("link[rel=manifest]")
    assert link.get_attribute("crossorigin") == "use-credentials"
    manifest_url = page.evaluate("document.querySelector('link[rel=manifest]').href")
    manifest = page.evaluate("(u) => fetch(u, {credentials: 'include'}).then(r => r.json())", manifest_url)
    # The browser's own parse of the manifest (what installation uses).
    cdp = page.context.new_cdp_session(page)
    parsed = cdp.send("Page.getAppManifest")
    assert parsed["errors"] == [], parsed["errors"]
    assert json.loads(parsed["data"]) == manifest
    assert manifest["scope"] == "./" and manifest["start_url"] == "./" and manifest["display"] == "standalone"
    target = manifest["share_target"]
    assert target["method"] == "POST" and target["enctype"] == "multipart/form-data" and target["action"] == "share"
    files = target["params"]["files"]
    assert files[0]["name"] == "file" and {"image/*", ".dcm", "application/dicom"} <= set(files[0]["accept"])
    sizes = {}
    for icon in manifest["icons"]:
        png = page.evaluate("(u) => fetch(u).then(r => r.arrayBuffer()).then(b => Array.from(new Uint8Array(b)))",
                            page.evaluate("(s) => new URL(s, document.baseURI).href", icon["src"]))
        im = Image.open(io.BytesIO(bytes(png)))
        assert im.format == "PNG" and f"{im.width}x{im.height}" == icon["sizes"]
        sizes[im.width] = icon
    assert {192, 512} <= set(sizes)
    page.close()


def test_share_via_service_worker_gives_a_clean_masked_copy_to_share(phone_server, browser, samples, tmp_path):
    url, proc = phone_server
    context = browser.new_context(viewport={"width": 360, "height": 740}, accept_downloads=True)
    context.add_init_script(SHARE_STUB)
    page = context.new_page()
    page.goto(url + "/")
    assert service_worker_scope(page) == url + "/"

    # A phone photo with GPS in its EXIF and a name, MRN and dates burned into it,
    # under a file name that names the patient.
    original = tmp_path / "Jane_Doe_MRN4417.jpg"
    shutil.copy(samples / "phone_photo_gps.jpg", original)
    os_share(page, url, original)
    # The service worker took it (the page was not rendered by the server) ...
    assert page.evaluate("document.getElementById('server-result').textContent") == "null"
    page.wait_for_selector("#verdict.REDACTED", timeout=180_000)
    assert "Safe to share after masking" in page.inner_text("#verdict")
    # ... and nothing is left in the browser once it is checked, as the page says.
    page.wait_for_selector("#kept", state="visible")  # shown once the stored file is deleted
    assert page.evaluate("shareStore.count()") == 0
    assert "deleted from this phone" in page.inner_text("#kept")
    assert page.evaluate("location.search") == ""
    # the verdict and the share button are above the fold on a 360 x 740 screen
    for sel in ("#verdict", "#share"):
        box = page.locator(sel).bounding_box()
        assert box["y"] + box["height"] <= 740, sel
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")

    report = downloaded_report(page, tmp_path)
    assert report["schema_version"] and report["verdict"] == "REDACTED"
    assert {"PERSON", "MEDICAL_RECORD_NUMBER"} <= {f["kind"] for f in report["findings"] if f["where"] == "pixels"}
    shared = shared_files(page)
    assert len(shared) == 1 and shared[0]["type"] == "image/jpeg"
    assert shared[0]["name"].endswith(".safe.jpg")
    safe_bytes = base64.b64decode(shared[0]["b64"])
    safe = Image.open(io.BytesIO(safe_bytes))
    # no metadata: no EXIF (so no GPS), no comments, no XMP
    assert not safe.getexif() and b"Exif" not in safe_bytes and b"GPS" not in safe_bytes
    assert not {"exif", "comment", "xmp", "icc_profile"} & set(safe.info)
    # the burned-in identifiers are masked: every mask box is solid black in the shared
    # copy, where the original had text (light and dark pixels)
    before = np.asarray(Image.open(original).convert("L"), dtype=float)
    after = np.asarray(safe.convert("L"), dtype=float)
    assert before.shape == after.shape
    boxes = report["redactions"]["boxes"]
    assert boxes
    for x0, y0, x1, y1 in boxes:
        inner_after = after[y0 + 2:y1 - 2, x0 + 2:x1 - 2]
        inner_before = before[y0 + 2:y1 - 2, x0 + 2:x1 - 2]
        assert inner_after.mean() < 25 and inner_before.std() > 20, (x0, y0, x1, y1)
    # nothing about the upload in the server's output: not its name, not the share's title
    log = Path(proc.stderr_path).read_text(errors="replace")
    assert "Jane_Doe" not in log and "MRN4417" not in log and "Jane Doe" not in log
    context.close()


def test_blocked_share_offers_no_share_button(phone_server, browser, samples):
    url, _ = phone_server
    context = browser.new_context(viewport={"width": 360, "height": 740})
    context.add_init_script(SHARE_STUB)
    page = context.new_page()
    page.goto(url + "/")
    service_worker_scope(page)
    os_share(page, url, samples / "clinical_photo_text_chunks.png")
    page.wait_for_selector("#verdict.BLOCKED", timeout=180_000)
    assert "Do not share this image" in page.inner_text("#verdict")
    assert "PHONE_NUMBER" in page.inner_text("#reasons")
    assert not page.is_visible("#share") and not page.is_visible("#download") and not page.is_visible("#preview")
    assert page.is_visible("#advice") and "Crop the picture" in page.inner_text("#advice")
    page.wait_for_selector("#kept", state="visible")  # shown once the stored file is deleted
    assert page.evaluate("shareStore.count()") == 0
    assert page.evaluate("window.__shared.length") == 0
    context.close()


def test_share_without_service_worker_is_answered_by_the_server(phone_server, browser, samples):
    url, _ = phone_server
    context = browser.new_context(viewport={"width": 360, "height": 740}, service_workers="block")
    context.add_init_script(SHARE_STUB)
    page = context.new_page()
    page.goto(url + "/")
    os_share(page, url, samples / "xray_overlay.png")
    # the server screened it and answered with the page, the result in it
    assert page.url == url + "/share"
    assert json.loads(page.evaluate("document.getElementById('server-result').textContent"))["verdict"] == "REDACTED"
    page.wait_for_selector("#verdict.REDACTED")
    page.wait_for_selector("#share", state="visible")
    shared = shared_files(page)
    assert Image.open(io.BytesIO(base64.b64decode(shared[0]["b64"]))).format == "PNG"
    assert "Nothing of the shared image was kept" in page.inner_text("#kept")
    context.close()
