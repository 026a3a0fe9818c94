"""FastAPI app: the pre-post check page (``/``) and the HTTP API (``/v1/...``).

Thin over the library: every screen goes through the same Screener, in a pool of
worker processes so the event loop never blocks. Uploads and results stay in memory
(or in a private temporary folder, for large uploads) and are deleted after the
response or after a short expiry; nothing about them is logged.

The page is also an installable web app: a phone's share sheet POSTs the image to
``/share`` (a service worker usually catches it first; see static/sw.js). Behind a
hospital's sign-in proxy (``trusted_proxies``) only the proxy may talk to the app, and
only for a signed-in user."""
from __future__ import annotations

import asyncio
import contextlib
import copy
import hmac
import ipaddress
import json
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.datastructures import UploadFile as StarletteUpload
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..policy import STYLES, Policy
from ..write import default_extension
from .pool import ScreeningPool, b64

_MEDIA = {"JPEG": "image/jpeg", "PNG": "image/png", "TIFF": "image/tiff", "WEBP": "image/webp", "BMP": "image/bmp",
          "GIF": "image/gif", "HEIF": "image/heif", "AVIF": "image/avif", "DICOM": "application/dicom",
          "MPO": "image/jpeg", "MP4": "video/mp4", "WEBM": "video/webm"}
_OUTPUTS = {"same": None, "png": "PNG", "jpg": "JPEG", "dcm": "DICOM"}


@dataclass
class ServerConfig:
    policy: Policy = field(default_factory=Policy.default)
    api_key: str | None = None
    max_upload_bytes: int = 50 * 1024 * 1024
    time_limit_s: float = 120.0
    workers: int = 1
    result_ttl_s: float = 300.0
    # Hospital sign-in proxy mode: the addresses (IPs, networks, or "unix" for peers on
    # the unix socket) whose requests are trusted, and the header in which the proxy
    # names the signed-in user. Empty: no proxy mode.
    trusted_proxies: tuple[str, ...] = ()
    user_header: str = "X-Forwarded-User"


@dataclass
class _Stored:
    data: bytes
    media_type: str
    filename: str
    expires: float
    owner: str | None = None  # the signed-in user, in sign-in proxy mode


# A photo shared from a phone is screened at the size social apps post (the page's
# default size choice; a 12 MP photo read in full takes three to four times as long),
# unless the server's policy sets its own output.max_side.
SHARED_PHOTO_SIDE = 2048


def create_app(config: ServerConfig | None = None, *, warm_up: bool = True) -> FastAPI:
    """The FastAPI app for ``cfg``: the page, the API and its worker pool (started with the
    app; ``warm_up`` builds the engines before the first request)."""
    cfg = config or ServerConfig()
    gate = ProxyGate(cfg.trusted_proxies, cfg.user_header) if cfg.trusted_proxies else None
    policy_table = _with_time_limit(cfg.policy, cfg.time_limit_s)
    state: dict[str, Any] = {"results": {}, "pool": None}

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Large uploads spool to disk: keep them in a folder only this process can read,
        # for as long as the server runs, and remove it (and anything left in it) on stop.
        # multiprocessing keeps its own folder (the forkserver's socket) for the life of
        # the process: fix it outside the private folder before that is switched in.
        import multiprocessing.util

        multiprocessing.util.get_temp_dir()
        saved_tempdir = tempfile.tempdir
        private_tmp = tempfile.mkdtemp(prefix="phi_guard-web-")
        os.chmod(private_tmp, 0o700)
        tempfile.tempdir = private_tmp
        try:
            state["pool"] = ScreeningPool(cfg.workers)
            if warm_up:
                await asyncio.get_running_loop().run_in_executor(None, state["pool"].warm_up, policy_table)
            yield
        finally:
            if state["pool"] is not None:
                state["pool"].shutdown()
            state["results"].clear()
            tempfile.tempdir = saved_tempdir
            shutil.rmtree(private_tmp, ignore_errors=True)

    app = FastAPI(
        lifespan=lifespan,
        title="phi_guard",
        version=__version__,
        description="Screen a medical image for protected health information before it is shared: "
        "metadata stripped, burned-in identifiers masked or the image blocked, always with a report.",
    )

    # One error shape everywhere, {"error": {"code", "message"}}: for the app's own
    # errors, for unknown routes and methods (Starlette's), for invalid requests
    # (FastAPI's validation, which would answer {"detail": [...]} with the values sent)
    # and for anything unexpected.
    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.detail, dict) and "error" in exc.detail:
            content = exc.detail
        else:
            code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(exc.status_code, "http_error")
            content = _error(code, str(exc.detail))
        return JSONResponse(status_code=exc.status_code, content=content, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Field names and what is wrong only: never the values sent (they may be PHI).
        problems = []
        for e in exc.errors():
            field_name = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body", "query", "path", "header"))
            problems.append(f"'{field_name}' is missing" if e.get("type") == "missing" else f"'{field_name}' is invalid ({e.get('msg', '')})")
        return JSONResponse(status_code=422, content=_error("bad_request", "; ".join(problems) or "invalid request"))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=500, content=_error("internal", f"the server failed ({type(exc).__name__}); nothing was kept"))

    @app.middleware("http")
    async def _gate_and_limit(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if gate is not None:
            refusal = gate.refusal(request)
            if refusal is not None:
                return refusal
        length = request.headers.get("content-length")
        if request.url.path.startswith(("/v1/", "/share")) and length and length.isdigit() and int(length) > cfg.max_upload_bytes + 64 * 1024:
            return JSONResponse(status_code=413, content=_error("too_large", f"upload is larger than the {cfg.max_upload_bytes:,}-byte limit"))
        return await call_next(request)

    def _key_ok(request: Request) -> bool:
        given = request.headers.get("x-api-key") or ""
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            given = auth[7:]
        return bool(given) and hmac.compare_digest(given.encode(), (cfg.api_key or "").encode())

    def require_key(request: Request) -> None:
        if cfg.api_key and not _key_ok(request):
            raise HTTPException(status_code=401, detail=_error("unauthorized", "a valid API key is required (X-API-Key header)"))

    def _purge() -> None:
        now = time.monotonic()
        for key in [k for k, v in state["results"].items() if v.expires < now]:
            del state["results"][key]

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return _page()

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        types = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png"}
        suffix = Path(name).suffix
        if suffix not in types or "/" in name or not _static_path(name).is_file():
            raise HTTPException(status_code=404)
        return Response(_static_path(name).read_bytes(), media_type=types[suffix])

    @app.get("/manifest.webmanifest", include_in_schema=False)
    async def manifest() -> Response:
        # Relative URLs inside resolve against this address, so the app also works
        # under a path prefix on the hospital's proxy.
        return Response(_static("manifest.webmanifest"), media_type="application/manifest+json",
                        headers={"Cache-Control": "no-cache"})

    @app.get("/sw.js", include_in_schema=False)
    async def service_worker() -> Response:
        # Served beside the page (not under /static/) so its scope covers the page and /share.
        return Response(_static("sw.js"), media_type="text/javascript", headers={"Cache-Control": "no-cache"})

    @app.get("/healthz", tags=["service"])
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "workers": cfg.workers}

    @app.get("/v1/config", tags=["service"])
    async def public_config() -> dict[str, Any]:
        """What the page needs to know: whether an API key is required, and the limits."""
        return {"api_key_required": bool(cfg.api_key), "max_upload_bytes": cfg.max_upload_bytes,
                "max_pixels": cfg.policy.limits.max_pixels, "styles": list(STYLES)}

    def user_of(request: Request) -> str | None:
        return gate.user(request) if gate is not None else None

    async def run_screen(upload: StarletteUpload, style: str | None, output: str, include_image: bool,
                         owner: str | None, max_side: int | None = None) -> tuple[int, dict[str, Any]]:
        """Screen one upload; (HTTP status, body). Shared by the API and the share target.
        The safe copy is kept a few minutes for ``owner`` only (None: for the key holder)."""
        _purge()
        data = await upload.read(cfg.max_upload_bytes + 1)
        name = Path(upload.filename or "upload").name
        await upload.close()
        if len(data) > cfg.max_upload_bytes:
            return 413, _error("too_large", f"upload is larger than the {cfg.max_upload_bytes:,}-byte limit")
        if not data:
            return 422, _error("empty", "the uploaded file is empty")
        if output not in _OUTPUTS:
            return 422, _error("bad_request", "output must be same, png, jpg or dcm")
        policy = cfg.policy
        try:
            if style:
                policy = policy.with_style(style)
            if max_side is not None:
                policy = policy.with_max_side(max_side)
        except Exception as exc:  # noqa: BLE001 - PolicyError with a clear message
            return 422, _error("bad_request", str(exc))
        future = state["pool"].submit(data, name, _with_time_limit(policy, cfg.time_limit_s), _OUTPUTS[output])
        del data  # the upload lives only in the worker now
        try:
            result = await asyncio.wait_for(asyncio.wrap_future(future), timeout=cfg.time_limit_s)
        except TimeoutError:
            future.cancel()
            return 504, _error("timeout", f"screening took longer than {cfg.time_limit_s:.0f} s")
        if "error" in result:
            return result["status"], {"error": result["error"]}
        name = result["name"]  # neutral when the upload's name carries identifiers
        report = result["report"]
        body: dict[str, Any] = {"verdict": report["verdict"], "reasons": report["reasons"], "report": report}
        safe = result.get("safe_bytes")
        if safe is not None:
            fmt = result["output_format"]
            rid = secrets.token_urlsafe(18)
            filename = f"{Path(name).stem}.safe{default_extension(fmt)}"
            state["results"][rid] = _Stored(safe, _MEDIA.get(fmt, "application/octet-stream"), filename,
                                          time.monotonic() + cfg.result_ttl_s, owner)
            body["image"] = {"media_type": _MEDIA.get(fmt), "filename": filename, "base64": b64(safe) if include_image else None}
            body["image_url"] = f"/v1/results/{rid}"
            body["expires_in_s"] = cfg.result_ttl_s
            body["preview_png_base64"] = b64(result.get("preview_png"))
        return 200, body

    @app.post("/v1/screen", tags=["screening"], dependencies=[Depends(require_key)])
    async def screen(
        request: Request,
        file: UploadFile = File(..., description="the image or clip: DICOM, JPEG, PNG, TIFF, WebP, BMP, GIF, HEIC/HEIF, AVIF, MP4/MOV, WebM, AVI"),
        style: str | None = Form(None, description="redaction style: fill, blur or pixelate (default from the policy)"),
        output: str = Form("same", description="output format: same, png, jpg or dcm"),
        include_image: bool = Form(True, description="put the safe image in the response as base64"),
        max_side: int | None = Form(None, description="scale a photo longer than this (pixels, long side) down before "
                                    "screening; the safe copy is that size. 0 keeps the size (default from the policy)"),
    ) -> JSONResponse:
        """Screen one image. Returns the JSON report and, unless blocked, the safe image
        (base64 in ``image.base64``, and at ``image_url`` for a few minutes)."""
        status, body = await run_screen(file, style, output, include_image, user_of(request), max_side)
        return JSONResponse(status_code=status, content=body, headers={"Cache-Control": "no-store"})

    @app.post("/share", response_class=HTMLResponse, include_in_schema=False)
    async def share(request: Request) -> HTMLResponse:
        """The share target when no service worker caught the share (the first share
        before it is active, or a browser without one): screen the first shared file
        and answer with the page, the result already in it. The title, text and URL
        fields a share sheet adds are ignored (they may name the patient)."""
        async with request.form(max_files=20, max_fields=20) as form:
            files = [f for f in form.getlist("file") if isinstance(f, StarletteUpload)]
            if not files:
                return _page({"error": {"code": "empty", "message": "Nothing to check: share an image (photo, screenshot or DICOM file)."}})
            if cfg.api_key and not _key_ok(request):
                return _page({"error": {"code": "unauthorized", "message": "This server needs an API key: open phi_guard, "
                                        "enter the key, and choose the image there."}})
            status, body = await run_screen(files[0], None, "same", False, user_of(request),
                                            cfg.policy.output.max_side or SHARED_PHOTO_SIDE)
            if len(files) > 1:
                body["more_files"] = len(files) - 1
        return _page(body if status == 200 else {"error": body["error"]})

    @app.get("/v1/results/{rid}", tags=["screening"], dependencies=[Depends(require_key)])
    async def result(rid: str, request: Request) -> Response:
        """The safe image of a recent screen (kept a few minutes, then deleted)."""
        _purge()
        stored = state["results"].get(rid)
        if stored is None or stored.owner != user_of(request):
            raise HTTPException(status_code=404, detail=_error("not_found", "no such result (results expire after a few minutes)"))
        return Response(stored.data, media_type=stored.media_type,
                        headers={"Content-Disposition": f'attachment; filename="{stored.filename}"', "Cache-Control": "no-store"})

    return app


class ProxyGate:
    """Sign-in proxy mode: answer only requests that come from a trusted proxy address
    (or over the unix socket, when "unix" is trusted) and name a signed-in user. The
    user header is trusted because only the proxy can reach the app and the proxy sets
    it; from anyone else the header means nothing, so the request is refused."""

    def __init__(self, trusted: tuple[str, ...], user_header: str) -> None:
        self.unix = "unix" in trusted
        self.networks = [ipaddress.ip_network(t, strict=False) for t in trusted if t != "unix"]
        self.user_header = user_header.lower()

    def refusal(self, request: Request) -> JSONResponse | None:
        if not self._trusted_peer(request.client.host if request.client else None):
            return JSONResponse(status_code=403, content=_error(
                "not_from_proxy", "this server only answers through the hospital's sign-in proxy"))
        if not self.user(request):
            return JSONResponse(status_code=401, content=_error("not_signed_in", "sign in through the hospital's portal first"))
        return None

    def user(self, request: Request) -> str:
        return request.headers.get(self.user_header, "").strip()

    def _trusted_peer(self, host: str | None) -> bool:
        if not host:  # a peer on the unix socket has no address
            return self.unix
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)


def parse_trusted_proxies(values: list[str]) -> tuple[str, ...]:
    """Check --trusted-proxy values (IP, network, or "unix"); a clear error for a typo."""
    for value in values:
        if value == "unix":
            continue
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ValueError(f"--trusted-proxy {value!r} is not an IP address, a network (10.0.0.0/8) or 'unix'") from None
    return tuple(values)


def _with_time_limit(policy: Policy, seconds: float) -> dict[str, Any]:
    """The policy table for the workers, its per-image limit no longer than the
    request's, so a worker never goes on screening an image nobody waits for."""
    table = copy.deepcopy(policy.table)
    limit = min(float(table["limits"]["max_seconds_per_image"]), max(1.0, float(seconds)))
    table["limits"]["max_seconds_per_image"] = limit
    return table


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _page(result: dict[str, Any] | None = None) -> HTMLResponse:
    """The page; with a result, the result is embedded for the page's script to show
    (escaped so nothing in it can end the script element)."""
    html = _static("index.html")
    if result is not None:
        data = json.dumps(result).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        html = html.replace('<script id="server-result" type="application/json">null</script>',
                            f'<script id="server-result" type="application/json">{data}</script>')
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


def _static_path(name: str) -> Traversable:
    return resources.files("phi_guard.web").joinpath("static", name)


def _static(name: str) -> str:
    return _static_path(name).read_text("utf-8")
