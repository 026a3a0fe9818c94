"""The HTTP API through FastAPI's test client, with real screening workers."""
from __future__ import annotations

import base64
import io
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from phi_guard import Policy
from phi_guard.formats.photo.metadata import inventory_container
from phi_guard.web import create_app
from phi_guard.web.app import ServerConfig

from conftest import DATA


@pytest.fixture(scope="module")
def client():
    app = create_app(ServerConfig(workers=1, max_upload_bytes=3 * 1024 * 1024))
    with TestClient(app) as c:
        yield c


def upload(client, path, **form):
    with open(path, "rb") as fh:
        return client.post("/v1/screen", files={"file": (path.name, fh, "application/octet-stream")}, data=form)


def test_photo_with_gps_and_burned_in_phi(client, samples):
    r = upload(client, samples / "phone_photo_gps.jpg")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["verdict"] == "REDACTED"
    safe = base64.b64decode(body["image"]["base64"])
    assert b"Exif" not in safe and b"Reyes" not in safe
    assert [m for m in inventory_container(safe, "JPEG") if m.phi_risk] == []
    kinds = {f["kind"] for f in body["report"]["findings"]}
    assert {"LOCATION", "PERSON", "MEDICAL_RECORD_NUMBER"} <= kinds
    # the same bytes are downloadable for a short time
    d = client.get(body["image_url"])
    assert d.status_code == 200 and d.content == safe
    assert "attachment" in d.headers["content-disposition"]
    assert body["preview_png_base64"]


def test_blocked_image_returns_reason_and_no_image(samples):
    cfg = ServerConfig(policy=Policy.from_table({"block": {"kinds": ["PERSON"]}}), workers=1)
    with TestClient(create_app(cfg)) as c:
        r = upload(c, samples / "xray_overlay.png")
    body = r.json()
    assert r.status_code == 200 and body["verdict"] == "BLOCKED"
    assert "image" not in body and "image_url" not in body
    assert any("PERSON" in reason for reason in body["reasons"])


def test_dicom_upload_and_style(client):
    r = upload(client, DATA / "dicom" / "2_ORIGINAL.dcm", style="pixelate", output="png")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["image"]["media_type"] == "image/png" and body["report"]["policy"]["style"] == "pixelate"


def test_max_side_is_a_form_field_the_page_sends(client, samples):
    big = io.BytesIO()
    from PIL import Image

    Image.open(samples / "clean_xray.png").resize((1200, 1200)).save(big, "PNG")
    r = client.post("/v1/screen", files={"file": ("big.png", big.getvalue(), "image/png")}, data={"max_side": "300"})
    assert r.status_code == 200, r.text
    assert Image.open(io.BytesIO(base64.b64decode(r.json()["image"]["base64"]))).size == (300, 300)
    bad = client.post("/v1/screen", files={"file": ("big.png", big.getvalue(), "image/png")}, data={"max_side": "100"})
    assert bad.status_code == 422 and "max_side" in bad.json()["error"]["message"]
    page = client.get("/").text
    assert 'id="size"' in page and 'value="2048"' in page


@pytest.mark.parametrize(
    "content,status,code",
    [(b"", 422, "empty"), (b"just some text, not an image", 422, "unsupported_format"), (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, 422, "decode_failed")],
)
def test_bad_uploads_are_clear_4xx(client, content, status, code):
    r = client.post("/v1/screen", files={"file": ("x.png", io.BytesIO(content), "image/png")})
    assert r.status_code == status
    assert r.json()["error"]["code"] == code and r.json()["error"]["message"]


def test_oversized_upload_is_413(client):
    r = client.post("/v1/screen", files={"file": ("big.png", io.BytesIO(b"\x00" * (4 * 1024 * 1024)), "image/png")})
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"


def test_decompression_bomb_is_413(client):
    r = upload(client, DATA / "malformed" / "decompression_bomb.gif")
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_many_pixels"


def test_api_key_is_checked_on_every_call(samples):
    with TestClient(create_app(ServerConfig(api_key="s3cret", workers=1), warm_up=False)) as c:
        assert c.get("/healthz").status_code == 200
        assert c.get("/v1/config").json()["api_key_required"] is True
        r = upload(c, samples / "clean_xray.png")
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        assert c.get("/v1/results/anything").status_code == 401
        with open(samples / "clean_xray.png", "rb") as fh:
            ok = c.post("/v1/screen", files={"file": ("c.png", fh)}, headers={"X-API-Key": "s3cret"})
        assert ok.status_code == 200 and ok.json()["verdict"] == "CLEAN"


def test_non_local_bind_without_key_refuses_to_start():
    r = subprocess.run([sys.executable, "-m", "phi_guard.cli", "serve", "--host", "0.0.0.0", "--port", "0"],
                       capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert r.returncode == 2 and "API key" in r.stderr


def test_healthz_openapi_and_page(client):
    assert client.get("/healthz").json()["status"] == "ok"
    schema = client.get("/openapi.json").json()
    assert "/v1/screen" in schema["paths"] and "/v1/results/{rid}" in schema["paths"]
    page = client.get("/")
    assert page.status_code == 200 and "Check an image before you share it" in page.text
    assets = [page.text] + [client.get(f"/static/{n}").text for n in ("app.js", "style.css")]
    # no external assets: nothing on the page points off this server
    assert all("http://" not in a and "https://" not in a and "//cdn" not in a for a in assets)
