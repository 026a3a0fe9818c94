"""The installable app's server side through FastAPI's test client: manifest, service
worker and icons are served by the app itself, and the share target answers a share
(multipart POST, as a phone's share sheet sends it) with the page, the result in it."""
from __future__ import annotations

import io
import json
import re

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from phi_guard.web import create_app
from phi_guard.web.app import ServerConfig


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(ServerConfig(workers=1))) as c:
        yield c


def embedded_result(html: str) -> dict:
    m = re.search(r'<script id="server-result" type="application/json">(.*?)</script>', html, re.DOTALL)
    assert m, "no result in the page"
    return json.loads(m.group(1))


def test_manifest_service_worker_and_icons(client):
    page = client.get("/").text
    assert '<link rel="manifest" href="manifest.webmanifest" crossorigin="use-credentials">' in page
    m = client.get("/manifest.webmanifest")
    assert m.headers["content-type"].startswith("application/manifest+json")
    manifest = m.json()
    assert manifest["share_target"]["action"] == "share" and manifest["share_target"]["method"] == "POST"
    sw = client.get("/sw.js")
    assert sw.headers["content-type"].startswith("text/javascript") and "share" in sw.text
    for icon in manifest["icons"]:
        r = client.get("/" + icon["src"])
        assert r.headers["content-type"] == "image/png"
        im = Image.open(io.BytesIO(r.content))
        assert f"{im.width}x{im.height}" == icon["sizes"]
    assert client.get("/static/nothing.png").status_code == 404
    # nothing on the page or in its assets points off this server
    for asset in ("/manifest.webmanifest", "/sw.js", "/static/share-store.js"):
        text = client.get(asset).text
        assert "http://" not in text and "https://" not in text


def test_share_post_is_answered_with_the_page_and_the_result(client, samples):
    # a share sheet's POST: title and text fields, and a file name that could break out
    # of the script element the result is embedded in
    name = "</script><script>alert(1)</script>.png"
    with open(samples / "xray_overlay.png", "rb") as fh:
        r = client.post("/share", files={"file": (name, fh, "image/png")}, data={"title": "Jane Doe", "text": "bed 12"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-store"
    assert "<script>alert(1)" not in r.text
    result = embedded_result(r.text)
    assert result["verdict"] == "REDACTED" and result["report"]["schema_version"]
    assert result["image"]["base64"] is None  # the page fetches the safe copy from image_url
    safe = client.get(result["image_url"])
    assert safe.status_code == 200 and Image.open(io.BytesIO(safe.content)).format == "PNG"
    assert "Jane Doe" not in r.text


def test_share_of_several_files_checks_the_first_and_says_so(client, samples):
    files = [("file", ("a.png", (samples / "clean_xray.png").read_bytes(), "image/png")),
             ("file", ("b.png", (samples / "clean_xray.png").read_bytes(), "image/png"))]
    result = embedded_result(client.post("/share", files=files).text)
    assert result["verdict"] == "CLEAN" and result["more_files"] == 1


def test_share_without_a_file_or_with_bad_input(client):
    result = embedded_result(client.post("/share", data={"title": "x"}).text)
    assert result["error"]["code"] == "empty"
    bad = client.post("/share", files={"file": ("x.png", b"not an image", "image/png")})
    assert embedded_result(bad.text)["error"]["code"] == "unsupported_format"


def test_share_to_a_server_with_an_api_key_asks_for_the_page(samples):
    with TestClient(create_app(ServerConfig(api_key="s3cret", workers=1), warm_up=False)) as c:
        with open(samples / "clean_xray.png", "rb") as fh:
            r = c.post("/share", files={"file": ("c.png", fh, "image/png")})
    assert embedded_result(r.text)["error"]["code"] == "unauthorized"


def test_ios_shortcut_exchange(samples):
    """What the iOS Shortcut in docs/phone.md sends and reads: a form with the shared
    photo as `file` (an iPhone photo is HEIF) and output=jpg, the key in X-API-Key;
    back: `verdict`, `reasons`, and the safe JPEG in `image.base64` with `image.filename`."""
    import base64

    from conftest import DATA

    with TestClient(create_app(ServerConfig(api_key="s3cret", workers=1))) as c:
        with open(DATA / "photos" / "hopper.heif", "rb") as fh:
            r = c.post("/v1/screen", files={"file": ("IMG_0001.HEIC", fh, "image/heic")},
                       data={"output": "jpg"}, headers={"X-API-Key": "s3cret"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["verdict"] in ("CLEAN", "REDACTED") and body["image"]["filename"].endswith(".safe.jpg")
        safe = base64.b64decode(body["image"]["base64"])
        assert Image.open(io.BytesIO(safe)).format == "JPEG" and b"Exif" not in safe
        # without the key, nothing is screened
        with open(samples / "xray_overlay.png", "rb") as fh:
            r = c.post("/v1/screen", files={"file": ("x.png", fh)}, data={"output": "jpg"})
        assert r.status_code == 401


def test_share_of_a_dicom_file(client):
    from conftest import DATA

    with open(DATA / "dicom" / "2_ORIGINAL.dcm", "rb") as fh:
        r = client.post("/share", files={"file": ("study.dcm", fh, "application/dicom")})
    result = embedded_result(r.text)
    assert result["verdict"] in ("CLEAN", "REDACTED") and result["image"]["media_type"] == "application/dicom"
    assert client.get(result["image_url"]).content[128:132] == b"DICM"
