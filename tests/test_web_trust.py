"""The HTTP API: one error shape for every error, a private temporary folder removed
when the server stops, and a per-image time limit that frees the worker."""
from __future__ import annotations

import glob
import io
import tempfile
import time

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw

from phi_guard import Policy
from phi_guard.web import create_app
from phi_guard.web.app import ServerConfig


def _shape(r) -> dict:  # noqa: ANN001
    body = r.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"} and body["error"]["message"], body
    return body["error"]


def test_every_error_has_the_documented_shape(samples):
    with TestClient(create_app(ServerConfig(workers=1), warm_up=False)) as c:
        r = c.post("/v1/screen", data={"style": "fill"})  # no file field
        assert r.status_code == 422
        err = _shape(r)
        assert "file" in err["message"]
        r = c.post("/v1/screen", files={"upload": ("x.png", b"abc", "image/png")})  # a wrong field name
        assert r.status_code == 422 and "file" in _shape(r)["message"]
        r = c.post("/v1/screen", files={"file": ("x.png", b"abc", "image/png")}, data={"include_image": "perhaps"})
        assert r.status_code == 422 and _shape(r)["code"] == "bad_request"
        assert c.get("/no/such/page").status_code == 404 and _shape(c.get("/no/such/page"))["code"] == "not_found"
        r = c.get("/v1/screen")
        assert r.status_code == 405 and _shape(r)
        r = c.get("/v1/results/nope")
        assert r.status_code == 404 and _shape(r)["code"] == "not_found"


def test_the_server_removes_its_temporary_folder_when_it_stops():
    pattern = f"{tempfile.gettempdir()}/phi_guard-web-*"
    before = set(glob.glob(pattern))
    app = create_app(ServerConfig(workers=1), warm_up=False)
    with TestClient(app) as c:
        assert c.get("/healthz").status_code == 200
        during = set(glob.glob(pattern)) - before
        assert len(during) == 1  # its private folder exists while it runs
    assert set(glob.glob(pattern)) - before == set(), "the temporary folder was left behind"
    assert tempfile.gettempdir() == tempfile.gettempdir()  # the process's default is usable again


def _big_text_image() -> bytes:
    rng = np.random.default_rng(0)
    im = Image.fromarray(rng.integers(0, 255, (5000, 5000), dtype=np.uint8))
    d = ImageDraw.Draw(im)
    for y in range(0, 5000, 60):
        d.text((10, y), "PATIENT DOE JANE MRN 00482913 " * 8, fill=255)
    buf = io.BytesIO()
    im.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def _small_image() -> bytes:
    buf = io.BytesIO()
    Image.new("L", (64, 64), 128).save(buf, "PNG")
    return buf.getvalue()


def test_a_slow_image_ends_as_an_error_and_frees_its_worker():
    policy = Policy.from_table({"limits": {"max_seconds_per_image": 10.0}})
    with TestClient(create_app(ServerConfig(policy=policy, workers=1, time_limit_s=60.0))) as c:
        t0 = time.monotonic()
        r = c.post("/v1/screen", files={"file": ("big.png", _big_text_image(), "image/png")})
        assert r.status_code == 504, r.text
        assert _shape(r)["code"] == "timeout"
        assert time.monotonic() - t0 < 50  # the worker's own limit ended it, not the request's
        r = c.post("/v1/screen", files={"file": ("small.png", _small_image(), "image/png")})
        assert r.status_code == 200, r.text  # the same (only) worker is free again
