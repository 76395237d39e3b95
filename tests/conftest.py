"""Shared fixtures: a real loopback HTTP server that serves feeds and records what it received."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """A test that runs the CLI in-process (`main([...])`) points the root logger at that
    test's captured stderr; once pytest closes it, a later test's background thread (the
    aiosmtpd controller) logging there printed "--- Logging error ---" tracebacks."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@dataclass
class Route:
    """What the server answers on one path. An `etag` makes it honour If-None-Match."""

    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    etag: str | None = None
    last_modified: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    drip_s: float = 0.0  # seconds between bytes of the body: a slow-drip server
    hang: bool = False  # accept the request and never answer
    delay_s: float = 0.0  # seconds before the answer: a slow (not dripping) server


@dataclass
class SeenRequest:
    method: str
    path: str
    headers: dict[str, str]


class FeedServer:
    """A ThreadingHTTPServer on 127.0.0.1, port 0. Tests set `routes` and read `requests`."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[SeenRequest] = []
        self._lock = threading.Lock()
        self.hung = threading.Event()  # set at stop, releasing hanging and dripping handlers
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/"

    def url(self, path: str) -> str:
        return self.base_url + path.lstrip("/")

    def requests_to(self, path: str) -> list[SeenRequest]:
        with self._lock:
            return [request for request in self.requests if request.path == path]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server._lock:
                    server.requests.append(
                        SeenRequest(
                            "GET", self.path, {k.lower(): v for k, v in self.headers.items()}
                        )
                    )
                route = server.routes.get(self.path)
                if route is None:
                    self.send_error(404)
                    return
                if route.hang:
                    server.hung.wait(timeout=60)
                    return
                if route.delay_s and server.hung.wait(timeout=route.delay_s):
                    return
                if route.etag and self.headers.get("If-None-Match") == route.etag:
                    self.send_response(304)
                    self.send_header("ETag", route.etag)
                    self.end_headers()
                    return
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(route.body)))
                if route.etag:
                    self.send_header("ETag", route.etag)
                if route.last_modified:
                    self.send_header("Last-Modified", route.last_modified)
                for name, value in route.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if route.drip_s:
                    self._drip(route)
                else:
                    self.wfile.write(route.body)

            def _drip(self, route: Route) -> None:
                for byte in route.body:
                    if server.hung.wait(timeout=route.drip_s):
                        return
                    try:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                    except OSError:
                        return

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep test output clean

        return Handler

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.hung.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def rss(items: list[dict[str, str]], title: str = "Test Wire") -> bytes:
    """A small RSS 2.0 document; each item dict may have title, link, guid, description, date."""
    rendered = []
    for item in items:
        parts = [f"<title>{item['title']}</title>"]
        if "link" in item:
            parts.append(f"<link>{item['link']}</link>")
        if "guid" in item:
            parts.append(f'<guid isPermaLink="false">{item["guid"]}</guid>')
        parts.append(f"<description>{item.get('description', '')}</description>")
        parts.append(f"<pubDate>{item.get('date', 'Mon, 23 Nov 2026 10:00:00 GMT')}</pubDate>")
        rendered.append("<item>" + "".join(parts) + "</item>")
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{title}</title><link>https://wire.example/</link>"
        "<description>test</description>" + "".join(rendered) + "</channel></rss>"
    ).encode()


def syndicator(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a fresh interpreter, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "syndicator", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def write_config(tmp: Path, sources: Sequence[str | tuple[str, str]], extra: str = "") -> Path:
    """A config file under tmp pointing at the given source URLs, with loopback allowed. A
    source may be (URL, more TOML lines for its table)."""
    pairs = [(source, "") if isinstance(source, str) else source for source in sources]
    source_tables = "".join(f'\n[[sources]]\nurl = "{url}"\n{lines}\n' for url, lines in pairs)
    path = tmp / "syndicator.toml"
    path.write_text(
        f"""
[storage]
path = "{tmp / "db" / "syndicator.db"}"

[publish]
output_dir = "{tmp / "feeds"}"
base_url = "http://feeds.test/"

[server]
port = 0

[polling]
min_interval = "1s"
timeout = "5s"
allow_private_addresses = true
{source_tables}
{extra}
""",
        encoding="utf-8",
    )
    return path


@dataclass(frozen=True)
class ProxiedRequest:
    method: str
    target: str  # absolute form ("http://host/path"): what a proxy is asked for
    authorization: str | None  # the Proxy-Authorization header
    headers: dict[str, str]
    body: bytes


class LoopbackProxy:
    """A forward HTTP proxy on loopback that answers absolute-form requests itself, never
    connecting anywhere: the bodies of `answers` by target URL (200), a 302 to
    `redirects[target]`, else 502. Every request is recorded in `seen`."""

    def __init__(self) -> None:
        self.answers: dict[str, bytes] = {}
        self.redirects: dict[str, str] = {}
        self.seen: list[ProxiedRequest] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer(b"")

            def do_POST(self) -> None:
                self._answer(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

            def _answer(self, body: bytes) -> None:
                proxy.seen.append(
                    ProxiedRequest(
                        self.command,
                        self.path,
                        self.headers.get("Proxy-Authorization"),
                        {key.lower(): value for key, value in self.headers.items()},
                        body,
                    )
                )
                answer = b""
                if self.path in proxy.redirects:
                    self.send_response(302)
                    self.send_header("Location", proxy.redirects[self.path])
                elif self.path in proxy.answers:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/rss+xml")
                    answer = proxy.answers[self.path]
                else:
                    self.send_response(502)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, credentials: str = "") -> str:
        return f"http://{credentials}127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy() -> Iterator[LoopbackProxy]:
    running = LoopbackProxy()
    yield running
    running.stop()


class FakeClock:
    """A clock the test moves by hand: the only thing the tests fake."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta
