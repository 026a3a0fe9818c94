"""phi_guard behind a hospital sign-in proxy: a real nginx (Debian's package) runs the
configuration shipped in docs/nginx-phi-guard.conf, with a small stand-in for
oauth2-proxy (its /oauth2/auth check and /oauth2/start sign-in, answered here at once:
the identity provider itself is out of scope). Everything stays on loopback.

Proves: requests through the proxy, signed in, are served (page, API, share);
the same requests straight to phi_guard are refused; the browser fetches the manifest
with credentials (through the proxy, signed in); a share made after the session expired
resumes after the sign-in; and no file name reaches any log."""
from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from test_web_phone import SHARE_STUB, os_share
from webserver import ROOT, free_port, launch_chromium, serve, service_worker_scope

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SITE = ROOT / "docs" / "nginx-phi-guard.conf"
SESSION = "sso-session-7f3a"  # the cookie value the stand-in accepts
USER = "dr.alice"
PHI_NAME = "Jane_Doe_MRN4417"


class FakeOAuth2Proxy(BaseHTTPRequestHandler):
    """The two endpoints of oauth2-proxy that nginx uses (with --set-xauthrequest)."""

    sign_ins = 0

    def do_GET(self) -> None:  # noqa: N802
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/oauth2/auth":
            if f"_oauth2_proxy={SESSION}" in (self.headers.get("Cookie") or ""):
                self.send_response(202)
                self.send_header("X-Auth-Request-User", USER)
            else:
                self.send_response(401)
        elif url.path == "/oauth2/start":
            # A real one goes to the identity provider first; this user signs in at once.
            FakeOAuth2Proxy.sign_ins += 1
            rd = urllib.parse.parse_qs(url.query).get("rd", ["/"])[0]
            self.send_response(302)
            self.send_header("Set-Cookie", f"_oauth2_proxy={SESSION}; Path=/; HttpOnly; SameSite=Lax")
            self.send_header("Location", rd if rd.startswith("/") else "/")
        else:
            self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass


def site_config(app_port: int, proxy_port: int, auth_port: int, access_log: Path) -> str:
    """The shipped site file with the test's ports and log path, and plain HTTP on
    loopback instead of TLS. Each replacement must apply, so the file cannot drift."""
    text = SITE.read_text()
    for old, new in [("listen 443 ssl;", f"listen 127.0.0.1:{proxy_port};"),
                     ("server 127.0.0.1:8000;", f"server 127.0.0.1:{app_port};"),
                     ("127.0.0.1:4180", f"127.0.0.1:{auth_port}"),
                     ("/var/log/nginx/phi-guard.access.log", str(access_log))]:
        assert old in text, old
        text = text.replace(old, new)
    lines = [line for line in text.splitlines() if "ssl_certificate" not in line]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def hospital(tmp_path_factory):
    if not os.path.exists(NGINX):
        pytest.fail("Debian's nginx is not installed (make test installs it)")
    tmp = tmp_path_factory.mktemp("nginx")
    auth = ThreadingHTTPServer(("127.0.0.1", 0), FakeOAuth2Proxy)
    threading.Thread(target=auth.serve_forever, daemon=True).start()
    app_port, proxy_port = free_port(), free_port()
    access_log = tmp / "access.log"
    (tmp / "site.conf").write_text(site_config(app_port, proxy_port, auth.server_address[1], access_log))
    user = "user root root;" if os.geteuid() == 0 else ""  # workers must read the test's private temp folder
    (tmp / "nginx.conf").write_text(f"""
{user}
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 64; }}
http {{
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/site.conf;
}}
""")
    nginx = subprocess.Popen([NGINX, "-e", str(tmp / "error.log"), "-p", str(tmp), "-c", str(tmp / "nginx.conf"),
                              "-g", "daemon off;"], stderr=subprocess.PIPE)
    app_url = f"http://127.0.0.1:{app_port}"
    try:
        with serve("--host", "127.0.0.1", "--port", str(app_port), "--trusted-proxy", "127.0.0.2",
                   ready=lambda: get(app_url, "/healthz")[0] == 403) as app:
            if nginx.poll() is not None:
                raise RuntimeError(nginx.stderr.read().decode())
            yield {"proxy": f"http://127.0.0.1:{proxy_port}", "app": app_url, "app_proc": app,
                   "access_log": access_log, "error_log": tmp / "error.log"}
    finally:
        nginx.terminate()
        nginx.wait(timeout=30)
        auth.shutdown()


def request(base: str, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
            source: str | None = None) -> tuple[int, dict, bytes]:
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=180,
                                      source_address=(source, 0) if source else None)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def get(base: str, path: str, **kw) -> tuple[int, dict, bytes]:  # noqa: ANN003
    try:
        return request(base, "GET", path, **kw)
    except OSError:
        return 0, {}, b""


def multipart(path: Path, name: str) -> tuple[bytes, str]:
    boundary = "----phi-guard-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode() + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


SIGNED_IN = {"Cookie": f"_oauth2_proxy={SESSION}"}


def test_served_through_the_proxy_refused_straight(hospital, samples):
    proxy, app = hospital["proxy"], hospital["app"]
    body, ctype = multipart(samples / "xray_overlay.png", f"{PHI_NAME}.png")
    # signed in, through the proxy: page, manifest and API are served
    for path in ("/", "/manifest.webmanifest", "/sw.js", "/static/app.js", "/v1/config"):
        status, _, _ = request(proxy, "GET", path, headers=SIGNED_IN)
        assert status == 200, path
    status, _, answer = request(proxy, "POST", "/v1/screen", body, {**SIGNED_IN, "Content-Type": ctype})
    assert status == 200 and json.loads(answer)["verdict"] == "REDACTED"
    # the safe copy is kept for the user who made it only
    image_url = json.loads(answer)["image_url"]
    assert request(proxy, "GET", image_url, headers=SIGNED_IN)[0] == 200
    assert request(app, "GET", image_url, headers={"X-Forwarded-User": "dr.bob"}, source="127.0.0.2")[0] == 404
    # not signed in: sent to the sign-in, even with a forged user header
    status, headers, _ = request(proxy, "GET", "/", headers={"X-Forwarded-User": USER})
    assert status == 302 and headers["Location"].endswith("/oauth2/start?rd=/")
    status, headers, _ = request(proxy, "POST", "/v1/screen", body, {"Content-Type": ctype, "X-Forwarded-User": USER})
    assert status == 302 and "/oauth2/start" in headers["Location"]
    # the same requests straight to phi_guard (from 127.0.0.1, not the proxy's 127.0.0.2): refused
    forged = {"X-Forwarded-User": USER}
    for path in ("/", "/manifest.webmanifest", "/sw.js", "/healthz", "/v1/config"):
        status, _, answer = request(app, "GET", path, headers=forged)
        assert status == 403 and json.loads(answer)["error"]["code"] == "not_from_proxy", path
    status, _, answer = request(app, "POST", "/v1/screen", body, {**forged, "Content-Type": ctype})
    assert status == 403
    status, _, answer = request(app, "POST", "/share", body, {**forged, "Content-Type": ctype})
    assert status == 403
    # from the proxy's address but without the user header: refused too
    status, _, answer = request(app, "GET", "/", source="127.0.0.2")
    assert status == 401 and json.loads(answer)["error"]["code"] == "not_signed_in"
    status, _, _ = request(app, "GET", "/", headers=forged, source="127.0.0.2")
    assert status == 200
    # no file name in any log (nginx's access and error logs, phi_guard's output)
    time.sleep(0.5)
    for log in (hospital["access_log"], hospital["error_log"], Path(hospital["app_proc"].stderr_path)):
        text = log.read_text(errors="replace")
        assert PHI_NAME not in text and "Jane" not in text, log
    assert re.search(r'"POST /v1/screen" 200 user=dr\.alice', hospital["access_log"].read_text())


def test_browser_installs_and_shares_through_the_sign_in(hospital, samples, tmp_path):
    from playwright.sync_api import sync_playwright

    proxy, log = hospital["proxy"], hospital["access_log"]
    with sync_playwright() as p:
        browser = launch_chromium(p)
        context = browser.new_context(viewport={"width": 360, "height": 740})
        context.add_init_script(SHARE_STUB)
        page = context.new_page()
        FakeOAuth2Proxy.sign_ins = 0
        page.goto(proxy + "/")  # not signed in: the proxy sends us to the sign-in and back
        assert page.url == proxy + "/" and FakeOAuth2Proxy.sign_ins == 1
        assert page.get_attribute("link[rel=manifest]", "crossorigin") == "use-credentials"

        # The browser's own manifest fetch (what installation uses) carries the session
        # cookie: nginx served it to the signed-in user and the browser parsed it.
        before = log.read_text().count('"GET /manifest.webmanifest" 200 user=dr.alice')
        parsed = context.new_cdp_session(page).send("Page.getAppManifest")
        assert parsed["errors"] == [] and json.loads(parsed["data"])["share_target"]["action"] == "share"
        assert parsed["url"] == proxy + "/manifest.webmanifest"
        time.sleep(0.5)
        assert log.read_text().count('"GET /manifest.webmanifest" 200 user=dr.alice') == before + 1
        # without credentials the same fetch gets the sign-in redirect, not the manifest
        assert page.evaluate("fetch('manifest.webmanifest', {credentials: 'omit', redirect: 'manual'}).then(r => r.type)") == "opaqueredirect"

        assert service_worker_scope(page) == proxy + "/"
        shared = tmp_path / f"{PHI_NAME}.png"
        shutil.copy(samples / "xray_overlay.png", shared)
        os_share(page, proxy, shared)
        page.wait_for_selector("#verdict.REDACTED", timeout=180_000)
        assert page.is_visible("#share")

        # The session expires; the user shares again. The service worker keeps the file,
        # the proxy sends the page to the sign-in, and the page resumes after it.
        context.clear_cookies()
        os_share(page, proxy, shared)
        page.wait_for_selector("#verdict.REDACTED", timeout=180_000)
        assert FakeOAuth2Proxy.sign_ins == 2
        page.wait_for_selector("#kept", state="visible")  # shown once the stored file is deleted
        assert page.evaluate("shareStore.count()") == 0

        # The session expires while the page is open with a shared file in hand: the
        # check is answered by the sign-in redirect, so the page keeps the file, says
        # so, and resumes after the user signs in again.
        # (the file as the service worker stores it; fetched before the session ends,
        # since a fetch would follow the stand-in's instant sign-in)
        page.evaluate("""async () => {
            const png = await fetch("static/icon-192.png").then(r => r.blob());
            await shareStore.put({file: new File([png], "held.png", {type: "image/png"}), more: 0, at: Date.now()});
        }""")
        context.clear_cookies()
        page.evaluate("takeSharedFile()")
        page.wait_for_selector("#pending", state="visible")
        assert "held on this phone" in page.inner_text("#pending")
        assert page.evaluate("shareStore.count()") == 1
        with page.expect_navigation(url=proxy + "/?share=pending"):
            page.click("#resume")
        page.wait_for_selector("#verdict.CLEAN, #verdict.REDACTED, #verdict.BLOCKED", timeout=180_000)
        assert FakeOAuth2Proxy.sign_ins == 3
        page.wait_for_selector("#kept", state="visible")  # shown once the stored file is deleted
        assert page.evaluate("shareStore.count()") == 0
        browser.close()
    time.sleep(0.5)
    text = log.read_text()
    assert "/oauth2/start" in text and PHI_NAME not in text
    # the share itself never reached the network: the service worker took it
    assert '"POST /share"' not in text


def test_unix_socket_mode(tmp_path):
    """--uds: the socket is created owner+group only (give nginx's user the group), and
    with --trusted-proxy unix its peers still need the user header."""
    import httpx

    sock = tmp_path / "phi-guard.sock"

    def answers() -> bool:
        return sock.exists() and client().get("http://phi-guard/healthz").status_code == 401

    def client() -> httpx.Client:
        return httpx.Client(transport=httpx.HTTPTransport(uds=str(sock)), timeout=60)

    with serve("--uds", str(sock), "--trusted-proxy", "unix", ready=answers):
        assert oct(sock.stat().st_mode & 0o777) == "0o660"
        with client() as c:
            assert c.get("http://phi-guard/").status_code == 401
            r = c.get("http://phi-guard/v1/config", headers={"X-Forwarded-User": USER})
            assert r.status_code == 200 and r.json()["max_upload_bytes"] > 0


@pytest.mark.parametrize("args,message", [
    (["--host", "0.0.0.0", "--api-key", "k", "--trusted-proxy", "10.0.0.1"], "localhost or a unix socket"),
    (["--trusted-proxy", "proxy.hospital"], "not an IP address"),
])
def test_trusted_proxy_misuse_refuses_to_start(args, message):
    import sys

    r = subprocess.run([sys.executable, "-m", "phi_guard.cli", "serve", "--port", "0", *args],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and message in r.stderr


def test_docs_show_the_tested_config():
    """docs/phone.md prints the site file this test runs, unchanged."""
    assert SITE.read_text() in (ROOT / "docs" / "phone.md").read_text()
