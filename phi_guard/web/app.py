"""FastAPI app: the pre-post check page (``/``) and the HTTP API (``/v1/...``).

Thin over the library: every screen goes through the same Screener, in a pool of
worker processes so the event loop never blocks. Uploads and results stay in memory
(or in a private temporary folder, for large uploads) and are deleted after the
response or after a short expiry; nothing about them is logged."""
from __future__ import annotations

import asyncio
import contextlib
import copy
import hmac
import os
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..policy import Policy
from ..write import default_extension
from .pool import ScreeningPool, b64

_MEDIA = {"JPEG": "image/jpeg", "PNG": "image/png", "TIFF": "image/tiff", "WEBP": "image/webp", "BMP": "image/bmp",
          "GIF": "image/gif", "HEIF": "image/heif", "AVIF": "image/avif", "DICOM": "application/dicom"}
_OUTPUTS = {"same": None, "png": "PNG", "jpg": "JPEG", "dcm": "DICOM"}


@dataclass
class ServerConfig:
    policy: Policy = field(default_factory=Policy.default)
    api_key: str | None = None
    max_upload_bytes: int = 50 * 1024 * 1024
    time_limit_s: float = 120.0
    workers: int = 1
    result_ttl_s: float = 300.0


@dataclass
class _Stored:
    data: bytes
    media_type: str
    filename: str
    expires: float


def create_app(config: ServerConfig | None = None, *, warm_up: bool = True) -> FastAPI:
    cfg = config or ServerConfig()
    policy_table = _with_time_limit(cfg.policy, cfg.time_limit_s)
    state: dict[str, Any] = {"results": {}, "pool": None}

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):  # noqa: ANN202
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
    async def _limit_body(request: Request, call_next):  # noqa: ANN001, ANN202
        length = request.headers.get("content-length")
        if request.url.path.startswith("/v1/") and length and length.isdigit() and int(length) > cfg.max_upload_bytes + 64 * 1024:
            return JSONResponse(status_code=413, content=_error("too_large", f"upload is larger than the {cfg.max_upload_bytes:,}-byte limit"))
        return await call_next(request)

    def require_key(request: Request) -> None:
        if not cfg.api_key:
            return
        given = request.headers.get("x-api-key") or ""
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            given = auth[7:]
        if not given or not hmac.compare_digest(given.encode(), cfg.api_key.encode()):
            raise HTTPException(status_code=401, detail=_error("unauthorized", "a valid API key is required (X-API-Key header)"))

    def _purge() -> None:
        now = time.monotonic()
        for key in [k for k, v in state["results"].items() if v.expires < now]:
            del state["results"][key]

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(_static("index.html"), headers={"Cache-Control": "no-store"})

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        types = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
        suffix = Path(name).suffix
        if suffix not in types or "/" in name:
            raise HTTPException(status_code=404)
        return Response(_static(name), media_type=types[suffix])

    @app.get("/healthz", tags=["service"])
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "workers": cfg.workers}

    @app.get("/v1/config", tags=["service"])
    async def public_config() -> dict[str, Any]:
        """What the page needs to know: whether an API key is required, and the limits."""
        return {"api_key_required": bool(cfg.api_key), "max_upload_bytes": cfg.max_upload_bytes,
                "max_pixels": cfg.policy.limits.max_pixels, "styles": ["fill", "blur", "pixelate"]}

    @app.post("/v1/screen", tags=["screening"], dependencies=[Depends(require_key)])
    async def screen(
        file: UploadFile = File(..., description="the image: DICOM, JPEG, PNG, TIFF, WebP, BMP, GIF, HEIC/HEIF, AVIF"),
        style: str | None = Form(None, description="redaction style: fill, blur or pixelate (default from the policy)"),
        output: str = Form("same", description="output format: same, png, jpg or dcm"),
        include_image: bool = Form(True, description="put the safe image in the response as base64"),
    ) -> JSONResponse:
        """Screen one image. Returns the JSON report and, unless blocked, the safe image
        (base64 in ``image.base64``, and at ``image_url`` for a few minutes)."""
        _purge()
        data = await file.read(cfg.max_upload_bytes + 1)
        name = Path(file.filename or "upload").name
        await file.close()
        if len(data) > cfg.max_upload_bytes:
            return JSONResponse(status_code=413, content=_error("too_large", f"upload is larger than the {cfg.max_upload_bytes:,}-byte limit"))
        if not data:
            return JSONResponse(status_code=422, content=_error("empty", "the uploaded file is empty"))
        if output not in _OUTPUTS:
            return JSONResponse(status_code=422, content=_error("bad_request", "output must be same, png, jpg or dcm"))
        policy = cfg.policy
        if style:
            try:
                policy = policy.with_style(style)
            except Exception as exc:  # noqa: BLE001 - PolicyError with a clear message
                return JSONResponse(status_code=422, content=_error("bad_request", str(exc)))
        future = state["pool"].submit(data, name, _with_time_limit(policy, cfg.time_limit_s), _OUTPUTS[output])
        del data  # the upload lives only in the worker now
        try:
            result = await asyncio.wait_for(asyncio.wrap_future(future), timeout=cfg.time_limit_s)
        except asyncio.TimeoutError:
            future.cancel()
            return JSONResponse(status_code=504, content=_error("timeout", f"screening took longer than {cfg.time_limit_s:.0f} s"))
        if "error" in result:
            return JSONResponse(status_code=result["status"], content={"error": result["error"]})
        name = result["name"]  # neutral when the upload's name carries identifiers
        report = result["report"]
        body: dict[str, Any] = {"verdict": report["verdict"], "reasons": report["reasons"], "report": report}
        safe = result.get("safe_bytes")
        if safe is not None:
            fmt = result["output_format"]
            rid = secrets.token_urlsafe(18)
            filename = f"{Path(name).stem}.safe{default_extension(fmt)}"
            state["results"][rid] = _Stored(safe, _MEDIA.get(fmt, "application/octet-stream"), filename, time.monotonic() + cfg.result_ttl_s)
            body["image"] = {"media_type": _MEDIA.get(fmt), "filename": filename, "base64": b64(safe) if include_image else None}
            body["image_url"] = f"/v1/results/{rid}"
            body["expires_in_s"] = cfg.result_ttl_s
            body["preview_png_base64"] = b64(result.get("preview_png"))
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    @app.get("/v1/results/{rid}", tags=["screening"], dependencies=[Depends(require_key)])
    async def result(rid: str) -> Response:
        """The safe image of a recent screen (kept a few minutes, then deleted)."""
        _purge()
        stored = state["results"].get(rid)
        if stored is None:
            raise HTTPException(status_code=404, detail=_error("not_found", "no such result (results expire after a few minutes)"))
        return Response(stored.data, media_type=stored.media_type,
                        headers={"Content-Disposition": f'attachment; filename="{stored.filename}"', "Cache-Control": "no-store"})

    return app


def _with_time_limit(policy: Policy, seconds: float) -> dict[str, Any]:
    """The policy table for the workers, its per-image limit no longer than the
    request's, so a worker never goes on screening an image nobody waits for."""
    table = copy.deepcopy(policy.table)
    limit = min(float(table["limits"]["max_seconds_per_image"]), max(1.0, float(seconds)))
    table["limits"]["max_seconds_per_image"] = limit
    return table


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _static(name: str) -> str:
    return resources.files("phi_guard.web").joinpath("static", name).read_text("utf-8")
