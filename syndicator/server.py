"""HTTP: serves the published output directory and health, on aiohttp.

`/` is the HTML index, `/feeds/...` the Atom files, `/feeds.opml` the OPML, `/healthz` a JSON
health summary. Files are served with ETag and Last-Modified and answer conditional requests
with 304 (aiohttp's FileResponse). It never renders feeds itself: it serves what `publishing`
wrote. It also serves a plain directory, which the demo uses as its simulated newsroom.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

ATOM_TYPE = "application/atom+xml; charset=utf-8"
_TYPES = {
    ".atom": ATOM_TYPE,
    ".rss": "application/rss+xml; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}

HealthProbe = Callable[[], Mapping[str, Any]]


@dataclass
class RunningServer:
    """A started server: where it listens and how to stop it."""

    runner: web.AppRunner
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    async def stop(self) -> None:
        await self.runner.cleanup()


def _safe_file(root: Path, relative: str) -> Path | None:
    """The file under root named by a request path, or None (missing, or outside root)."""
    candidate = (root / relative).resolve()
    try:
        candidate.relative_to(root.resolve())
    except ValueError:
        return None
    return candidate if candidate.is_file() else None


def _file_response(root: Path, relative: str) -> web.StreamResponse:
    path = _safe_file(root, relative)
    if path is None or path.name.startswith("."):
        raise web.HTTPNotFound(text=f"not found: /{relative}\n")
    content_type = _TYPES.get(path.suffix, "application/octet-stream")
    return web.FileResponse(path, headers={"Content-Type": content_type})


def build_feed_app(output_dir: Path, health: HealthProbe) -> web.Application:
    """The public app: index, feeds, OPML and health for one output directory."""

    async def index(request: web.Request) -> web.StreamResponse:
        return _file_response(output_dir, "index.html")

    async def files(request: web.Request) -> web.StreamResponse:
        return _file_response(output_dir, request.path.lstrip("/"))

    async def healthz(request: web.Request) -> web.StreamResponse:
        return web.Response(
            text=json.dumps(dict(health()), default=str) + "\n", content_type="application/json"
        )

    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/feeds.opml", files)
    app.router.add_get("/feeds/{path:.+}", files)
    return app


def build_directory_app(directory: Path) -> web.Application:
    """Serve every file of one directory by name (the demo's simulated newsroom)."""

    async def files(request: web.Request) -> web.StreamResponse:
        return _file_response(directory, request.match_info["name"])

    app = web.Application()
    app.router.add_get("/{name}", files)
    return app


async def start_server(app: web.Application, host: str, port: int) -> RunningServer:
    """Listen on host:port (port 0 picks a free one). Raises OSError if the port is taken."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    bound_port = int(runner.addresses[0][1]) if runner.addresses else port
    return RunningServer(runner=runner, host=host, port=bound_port)
