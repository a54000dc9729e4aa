"""Headless Chromium against servers on 127.0.0.1, with every other destination blocked and recorded.

Chromium comes from Debian's ``chromium`` package (``.ci/run`` installs it). Without it the
tests skip with the reason, except under ``CI=true`` or ``REQUIRE_BROWSER=1``, where they fail.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import socket
import socketserver
import subprocess
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn

from tests.helpers import LambdaContext

BROWSER_TIMEOUT_S = 120
# Virtual time only advances while no fetch is pending, so this is a budget of page work
# (script evaluation, timers), not wall-clock time.
VIRTUAL_TIME_BUDGET_MS = 20_000
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def _browser_required() -> bool:
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("REQUIRE_BROWSER") == "1"


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of the Chromium binary, or a skip (a failure under CI / REQUIRE_BROWSER=1)."""
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        reason = "chromium not installed (Debian: apt-get install chromium; .ci/run installs it)"
        if _browser_required():
            pytest.fail(reason + " and CI / REQUIRE_BROWSER=1 requires the browser tests", pytrace=False)
        pytest.skip(reason)
    return path


class _RecordingProxy(socketserver.ThreadingTCPServer):
    """An HTTP proxy that forwards nothing: it records each request line and answers 502.

    Chromium is pointed at it for every destination but loopback (which it always bypasses),
    so any request that would leave 127.0.0.1 lands here, IP literals included.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        self.requests: list[str] = []
        self._lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _ProxyHandler)


class _ProxyHandler(socketserver.StreamRequestHandler):
    server: _RecordingProxy

    def handle(self) -> None:
        line = self.rfile.readline(8192).decode("latin-1").strip()
        with self.server._lock:
            self.server.requests.append(line)
        self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


@pytest.fixture
def blocking_proxy() -> Iterator[_RecordingProxy]:
    proxy = _RecordingProxy()
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()
        thread.join(5)


@dataclass
class Page:
    """What Chromium rendered, and every request it made to a host other than 127.0.0.1.

    ``outside_requests`` are the page's own (initiated by a document or script);
    ``browser_requests`` are Chromium's background services (component updater, account
    lookup: their initiator is "not an origin"); ``proxied`` is what reached the blocking
    proxy, where each of them ended (nothing is forwarded).
    """

    dom: str
    outside_requests: list[str] = field(default_factory=list)
    browser_requests: list[str] = field(default_factory=list)
    proxied: list[str] = field(default_factory=list)

    def assert_offline(self) -> None:
        """The page asked for nothing beyond 127.0.0.1, and the proxy saw only Chromium's own calls."""
        assert self.outside_requests == [], f"the page requested beyond 127.0.0.1: {self.outside_requests}"
        known = {_host(url) for url in self.browser_requests}
        unexplained = [line for line in self.proxied if _proxied_host(line) not in known]
        assert not unexplained, f"requests reached the blocking proxy: {unexplained}"


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _proxied_host(request_line: str) -> str:
    """``CONNECT host:443 HTTP/1.1`` or ``GET http://host/path HTTP/1.1`` -> ``host``."""
    parts = request_line.split()
    if len(parts) < 2:
        return request_line
    target = parts[1]
    return _host(target) if "://" in target else target.rsplit(":", 1)[0].lower()


def requests_in_net_log(path: Path) -> list[tuple[str, str]]:
    """``(url, initiator)`` of every request Chromium started, from its ``--log-net-log`` file."""
    log = json.loads(path.read_text(encoding="utf-8"))
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [
        (e["params"]["url"], str(e["params"].get("initiator", "")))
        for e in log["events"]
        if e["type"] == start_job and "url" in e.get("params", {})
    ]


@pytest.fixture
def load_page(chromium: str, blocking_proxy: _RecordingProxy, tmp_path: Path) -> Callable[[str], Page]:
    """Load a URL in headless Chromium with the network blocked; return the rendered DOM."""

    def load(url: str) -> Page:
        run = tmp_path / f"chromium-{len(list(tmp_path.iterdir()))}"
        run.mkdir()
        profile, net_log = run / "profile", run / "net-log.json"
        host, port = blocking_proxy.server_address[:2]
        args = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            # no name resolves but 127.0.0.1, and whatever is not loopback goes to the proxy
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            f"--proxy-server=http://{host}:{port}",
            "--disable-extensions",
            "--disable-default-apps",
            "--no-pings",
            "--disable-domain-reliability",
            "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,Translate,MediaRouter",
            f"--log-net-log={net_log}",
            f"--virtual-time-budget={VIRTUAL_TIME_BUDGET_MS}",
            "--dump-dom",
            url,
        ]
        result = subprocess.run(args, capture_output=True, text=True, timeout=BROWSER_TIMEOUT_S, check=False)
        assert result.returncode == 0, f"chromium exited {result.returncode}: {result.stderr[-2000:]}"
        outside = [(u, i) for u, i in requests_in_net_log(net_log) if _host(u) not in LOOPBACK]
        outside = [(u, i) for u, i in outside if urlsplit(u).scheme in ("http", "https", "ws", "wss")]
        with blocking_proxy._lock:
            proxied = list(blocking_proxy.requests)
            blocking_proxy.requests.clear()
        return Page(
            dom=result.stdout,
            outside_requests=[u for u, i in outside if i != "not an origin"],
            browser_requests=[u for u, i in outside if i == "not an origin"],
            proxied=proxied,
        )

    return load


@pytest.fixture
def serve() -> Iterator[Callable[[Any], str]]:
    """Serve an ASGI app with uvicorn on 127.0.0.1 (a free port) until the test ends."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(app: Any) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        servers.append((server, thread))
        for _ in range(500):
            if server.started:
                break
            thread.join(0.02)
        assert server.started, "uvicorn did not start"
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(10)


class GatewayStage:
    """An ASGI app standing in for API Gateway (HTTP API, payload v2) with a named stage.

    Each request to ``/<stage>/...`` becomes the event API Gateway would send, goes through
    the Lambda handler (Mangum and the stage handling, as deployed), and the handler's
    response (base64 decoded when flagged) is sent back.
    """

    def __init__(self, handler: Callable[[dict[str, Any], Any], dict[str, Any]], stage: str) -> None:
        self.handler = handler
        self.stage = stage
        # Lambda calls the handler on a thread with an event loop set (Mangum runs on it);
        # uvicorn's own loop is running, so the handler gets a thread of its own, with a loop
        self._loop = asyncio.new_event_loop()
        self._thread = ThreadPoolExecutor(1, initializer=asyncio.set_event_loop, initargs=(self._loop,))

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        self._loop.close()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        path = scope["path"]
        event = {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": path,
            "rawQueryString": scope["query_string"].decode("latin-1"),
            "headers": headers,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "abc123",
                "domainName": headers.get("host", "127.0.0.1"),
                "http": {
                    "method": scope["method"],
                    "path": path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "127.0.0.1",
                    "userAgent": headers.get("user-agent", ""),
                },
                "requestId": "browser-test",
                "routeKey": "$default",
                "stage": self.stage,
                "time": "29/Nov/2026:00:00:00 +0000",
                "timeEpoch": 1795910400000,
            },
            "body": base64.b64encode(body).decode() if body else None,
            "isBase64Encoded": bool(body),
        }
        if not path.startswith(f"/{self.stage}/"):
            response = {"statusCode": 404, "headers": {"content-type": "text/plain"}, "body": "no such stage"}
        else:
            running = asyncio.get_running_loop()
            response = await running.run_in_executor(self._thread, self.handler, event, LambdaContext())
        out = response.get("body") or ""
        raw = base64.b64decode(out) if response.get("isBase64Encoded") else out.encode()
        out_headers = [(k.encode(), str(v).encode()) for k, v in (response.get("headers") or {}).items()]
        out_headers = [h for h in out_headers if h[0].lower() != b"content-length"]
        out_headers.append((b"content-length", str(len(raw)).encode()))
        await send({"type": "http.response.start", "status": response["statusCode"], "headers": out_headers})
        await send({"type": "http.response.body", "body": raw})
