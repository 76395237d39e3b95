"""HTTP on aiohttp: serves what `publishing` wrote under `publish.output_dir`, health and metrics.

Paths: `/` (index.html), `/feeds.opml`, `/feeds/...` (Atom `.atom`, JSON Feed `.json`, and any
other file there with a known type), `/healthz` and `/metrics`, each also under the path of
`publish.base_url` (`/news/feeds/all.atom`), for a reverse proxy that passes the path on
unstripped. It never renders a feed: it
serves the files as they are on disk, so `syndicator run`, `syndicator serve` and any other
web server over the same directory answer the same bytes. It also serves a plain directory by
file name (`build_directory_app`), which the demo uses as its simulated newsroom.

- Files: `Content-Type` by suffix, a strong `ETag` (a hash of the bytes: stable across
  restarts and rewrites of the same bytes), `Last-Modified` (the file's mtime),
  `Cache-Control: public, max-age=60` (a reader polls every few minutes at most, and a
  minute is short enough that a new story is not hidden for long) and `Vary: Accept-Encoding`.
  `If-None-Match` and `If-Modified-Since` are answered with 304; when both are sent,
  `If-None-Match` alone decides (RFC 9110, 13.2.2). A client that accepts gzip gets the
  gzipped bytes with the ETag `"<hash>-gzip"`, so a cache never confuses the two variants
  and each has its own 304. HEAD answers the same headers without the body.
- Speed: files are not streamed by aiohttp's FileResponse but served from `FileCache`,
  keyed by path and checked on every request by one `os.stat` (inode, size, mtime_ns): ETag
  and Last-Modified are computed once per file version, the gzip bytes on the first request
  that wants them. The validators of up to 4,096 files stay in memory, so a 304 never reads
  the file; the bytes are an LRU capped at 64 MiB, read again when a 200 needs them. A file
  larger than `MAX_CACHED_FILE` (8 MiB) is streamed by FileResponse instead. The handler
  runs on aiohttp's low-level server (no router or middlewares): about 6,000 to 7,000 304s
  per second on one loaded core in `wrk` on loopback.
- Refusals: only GET and HEAD (and OPTIONS) are served; another method is answered 405 with
  `Allow`. A path segment must be a plain file name (ASCII letters, digits, `.`, `-`, `_`,
  not starting with a dot): `..`, `%2e%2e`, empty segments, backslashes, NUL and dot-files
  are 404 before the file system is touched, and a symbolic link that leads out of the
  directory is 404 too. aiohttp's parser rejects, with 400 and without reaching this code,
  a request line or header line over 8190 bytes, more than 128 headers, and a method token
  it does not know (`FOOBAR`); those are logged at debug level, never with a traceback.
- `/healthz`: the JSON the health probe returns, 200 when its `status` is "ok" and 503
  otherwise (the probe decides what healthy means: see `daemon`). `/metrics`: the Prometheus
  text exposition of a `Metrics` registry. Both `Cache-Control: no-store`.

It does not do TLS, authentication, range requests, rate limits or slow-client timeouts
beyond aiohttp's keep-alive timeout: on the open internet, put a reverse proxy in front.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import re
import stat
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from syndicator.metrics import Metrics

log = logging.getLogger(__name__)

ATOM_TYPE = "application/atom+xml; charset=utf-8"
JSON_FEED_TYPE = "application/feed+json; charset=utf-8"
_TYPES = {
    ".atom": ATOM_TYPE,
    ".json": JSON_FEED_TYPE,
    ".rss": "application/rss+xml; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}
MAX_AGE_S = 60
CACHE_MAX_BYTES = 64 * 1024 * 1024  # identity and gzip bytes of every cached version
CACHE_MAX_FILES = 4096
MAX_CACHED_FILE = 8 * 1024 * 1024
ALLOW = "GET, HEAD, OPTIONS"
_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}")
_MAX_DEPTH = 8
_PARSED_KEPT = 1024
# aiohttp's own limits, named here so that an aiohttp upgrade cannot loosen them unseen.
MAX_LINE_SIZE = 8190  # the request line, and each header line
MAX_HEADERS = 128

HealthProbe = Callable[[], Mapping[str, Any]]
Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


@dataclass
class RunningServer:
    """A started server: where it listens and how to stop it."""

    runner: web.BaseRunner
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    async def stop(self) -> None:
        await self.runner.cleanup()


@dataclass(slots=True)
class FileVersion:
    """One version of one file: what a 304 needs (always), and its bytes while cached."""

    key: tuple[int, int, int]  # (inode, size, mtime_ns) when it was read
    content_type: str
    etag: str
    last_modified: str
    modified_s: int
    body: bytes | None = field(default=None, repr=False)  # None once evicted
    gzipped: bytes | None = field(default=None, repr=False)

    @property
    def gzip_etag(self) -> str:
        return self.etag[:-1] + '-gzip"'

    @property
    def size(self) -> int:
        return len(self.body or b"") + len(self.gzipped or b"")


def read_version(path: Path, content_type: str) -> FileVersion | None:
    """Read a regular file into a `FileVersion`; None if it is missing or not a file."""
    try:
        with path.open("rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                return None
            body = handle.read()
    except OSError:
        return None
    digest = hashlib.blake2b(body, digest_size=16).hexdigest()
    modified_s = info.st_mtime_ns // 1_000_000_000
    return FileVersion(
        key=(info.st_ino, len(body), info.st_mtime_ns),
        content_type=content_type,
        etag=f'"{digest}"',
        last_modified=formatdate(modified_s, usegmt=True),
        modified_s=modified_s,
        body=body,
    )


class FileCache:
    """Files under `root` by relative path, each checked against `os.stat` on every lookup.

    Two bounds: the versions (validators and type, a few hundred bytes each) of at most
    `max_files` files, so that a 304 never needs the file's bytes; and the bytes (identity
    and gzip) of at most `max_bytes`, least recently used dropped first and read again when
    a 200 needs them. Used from the event loop's thread only; a file is read, hashed and
    gzipped in that thread: a feed is a few hundred KB at most, once per version.
    """

    def __init__(
        self, root: Path, max_bytes: int = CACHE_MAX_BYTES, max_files: int = CACHE_MAX_FILES
    ) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.max_files = max_files
        self._prefix = os.path.join(root, "")  # plain strings: pathlib costs per request
        self._versions: OrderedDict[str, FileVersion] = OrderedDict()
        self._holding: OrderedDict[str, None] = OrderedDict()  # versions with bytes, by use
        self._bytes = 0

    def lookup(self, relative: str) -> FileVersion | Path | None:
        """The current version of `root/relative` (a path already checked by `safe_relative`),
        the path itself when it is too large to cache, or None when there is no such file.
        The version's bytes may have been dropped: `with_bytes` brings them back."""
        name = self._prefix + relative
        try:
            info = os.stat(name)
        except OSError:
            self._forget(relative)
            return None
        cached = self._versions.get(relative)
        if cached is not None and cached.key == (info.st_ino, info.st_size, info.st_mtime_ns):
            self._versions.move_to_end(relative)
            return cached
        self._forget(relative)
        if not stat.S_ISREG(info.st_mode) or not self._inside_root(name):
            return None
        if info.st_size > MAX_CACHED_FILE:
            return Path(name)
        return self._load(relative)

    def with_bytes(self, relative: str, version: FileVersion, zipped: bool) -> FileVersion | None:
        """`version` with its bytes (gzipped too if `zipped`) in memory, read again if they
        were dropped (a newer version if the file changed meanwhile; None if it is gone)."""
        if version.body is None:
            reread = self._load(relative)
            if reread is None:
                return None
            version = reread
        if zipped and version.gzipped is None and version.body is not None:
            # mtime=0: the same bytes always gzip to the same bytes, as the ETag promises.
            version.gzipped = gzip.compress(version.body, compresslevel=6, mtime=0)
            self._bytes += len(version.gzipped)
        self._holding[relative] = None
        self._holding.move_to_end(relative)
        self._drop_bytes()
        return version

    @property
    def cached_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._versions)

    def _load(self, relative: str) -> FileVersion | None:
        self._forget(relative)
        version = read_version(Path(self._prefix + relative), _TYPES[Path(relative).suffix])
        if version is None:
            return None
        self._versions[relative] = version
        self._holding[relative] = None
        self._bytes += version.size
        while len(self._versions) > self.max_files:
            self._forget(next(iter(self._versions)))
        self._drop_bytes()
        return version

    def _inside_root(self, path: str) -> bool:
        """False for a symbolic link (of the file or a directory) that leads out of root."""
        real = os.path.realpath(path)
        root = os.path.realpath(self.root)
        return os.path.commonpath([real, root]) == root

    def _forget(self, relative: str) -> None:
        version = self._versions.pop(relative, None)
        self._holding.pop(relative, None)
        if version is not None:
            self._bytes -= version.size

    def _drop_bytes(self) -> None:
        """Drop the bytes of the least recently used versions (never the latest one)."""
        while self._bytes > self.max_bytes and len(self._holding) > 1:
            relative, _ = self._holding.popitem(last=False)
            version = self._versions.get(relative)
            if version is not None:
                self._bytes -= version.size
                version.body = version.gzipped = None


def safe_relative(path: str) -> str | None:
    """`path` (decoded, without the leading slash) if every segment is a plain file name
    with a known type suffix; None for anything else (see the module docstring)."""
    segments = path.split("/")
    if len(segments) > _MAX_DEPTH or not all(_SEGMENT.fullmatch(part) for part in segments):
        return None
    return path if os.path.splitext(segments[-1])[1] in _TYPES else None


class _Memo:
    """A parsed value per distinct text (a header value, a path), as clients repeat them
    verbatim; at most `_PARSED_KEPT` remembered."""

    def __init__(self, parse: Callable[[str], Any]) -> None:
        self._parse = parse
        self._seen: dict[str, Any] = {}

    def __call__(self, value: str) -> Any:
        try:
            return self._seen[value]
        except KeyError:
            pass
        if len(self._seen) >= _PARSED_KEPT:
            self._seen.clear()
        parsed = self._seen[value] = self._parse(value)
        return parsed


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding value allows gzip (`gzip`, `x-gzip` or `*`, q > 0)."""
    explicit: bool | None = None
    wildcard = False
    for item in accept_encoding.lower().split(","):
        name, _, params = item.partition(";")
        name = name.strip()
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if name in ("gzip", "x-gzip"):
            explicit = quality > 0 if explicit is None else explicit or quality > 0
        elif name == "*":
            wildcard = quality > 0
    return explicit if explicit is not None else wildcard


def _http_date_s(value: str) -> int | None:
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        return None  # RFC 9110 dates are GMT; a date without a zone is not one
    return int(moment.timestamp())


_accepts_gzip = _Memo(accepts_gzip)
_http_date = _Memo(_http_date_s)


def etag_matches(if_none_match: str, etag: str) -> bool:
    """If-None-Match's weak comparison (RFC 9110, 13.1.2): `*`, or any listed tag with W/."""
    if if_none_match == etag:
        return True
    for listed in if_none_match.split(","):
        candidate = listed.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False


def not_modified(request: web.BaseRequest, etag: str, modified_s: int) -> bool:
    """RFC 9110, 13.2.2: If-None-Match decides when present; else If-Modified-Since."""
    headers = request.headers
    if_none_match = headers.get("If-None-Match")
    if if_none_match is not None:
        return etag_matches(if_none_match, etag)
    since = headers.get("If-Modified-Since")
    if since is None:
        return False
    since_s = _http_date(since)
    return since_s is not None and modified_s <= since_s


def _version_response(
    request: web.BaseRequest, cache: FileCache, relative: str, version: FileVersion, max_age: str
) -> web.Response:
    encoding = request.headers.get("Accept-Encoding")
    zipped = encoding is not None and _accepts_gzip(encoding)
    etag = version.gzip_etag if zipped else version.etag
    if not_modified(request, etag, version.modified_s):
        return web.Response(
            status=304,
            headers={"ETag": etag, "Cache-Control": max_age, "Vary": "Accept-Encoding"},
        )
    loaded = cache.with_bytes(relative, version, zipped)
    if loaded is None or loaded.body is None:
        return _not_found()
    headers = {
        "ETag": loaded.gzip_etag if zipped else loaded.etag,
        "Cache-Control": max_age,
        "Vary": "Accept-Encoding",
        "Last-Modified": loaded.last_modified,
        "Content-Type": loaded.content_type,
    }
    if zipped:
        headers["Content-Encoding"] = "gzip"
    return web.Response(body=loaded.gzipped if zipped else loaded.body, headers=headers)


def file_response(
    request: web.BaseRequest, cache: FileCache, relative: str, max_age_s: int = MAX_AGE_S
) -> web.StreamResponse:
    """The file `relative` (already checked by `safe_relative`) under the cache's root."""
    found = cache.lookup(relative)
    if found is None:
        return _not_found()
    if isinstance(found, Path):  # too large to cache: streamed, aiohttp's own validators
        return web.FileResponse(
            found,
            headers={
                "Content-Type": _TYPES[found.suffix],
                "Cache-Control": f"public, max-age={max_age_s}",
            },
        )
    return _version_response(request, cache, relative, found, f"public, max-age={max_age_s}")


def _not_found() -> web.Response:
    return web.Response(status=404, text="not found\n")


def _refuse_method(request: web.BaseRequest) -> web.StreamResponse | None:
    """None for GET and HEAD; OPTIONS answered with Allow; any other method 405."""
    if request.method in ("GET", "HEAD"):
        return None
    if request.method == "OPTIONS":
        return web.Response(status=204, headers={"Allow": ALLOW})
    return web.Response(status=405, headers={"Allow": ALLOW}, text="method not allowed\n")


def _health_response(health: HealthProbe) -> web.Response:
    try:
        report = dict(health())
    except Exception as e:  # a probe that breaks is itself a failing health check
        log.exception("health probe failed")
        report = {"status": "failing", "problems": [f"health probe failed: {e}"]}
    return web.Response(
        status=200 if report.get("status") == "ok" else 503,
        text=json.dumps(report, default=str, indent=2) + "\n",
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def base_path_of(base_url: str) -> str:
    """The path of `publish.base_url` without its final slash, decoded as aiohttp decodes a
    request's path: "/news" for https://example.org/news/, "" at the root."""
    return unquote(urlsplit(base_url).path).rstrip("/")


def build_feed_app(
    output_dir: Path,
    health: HealthProbe,
    metrics: Metrics | None = None,
    max_age_s: int = MAX_AGE_S,
    cache: FileCache | None = None,
    *,
    base_path: str = "",
) -> Handler:
    """The public server's request handler: index, feeds, OPML, health and metrics for one
    output directory. `/metrics` is 404 without a `Metrics` object; `cache` defaults to a
    `FileCache` of the output directory with the default bounds.

    `base_path` (`base_path_of(publish.base_url)`): every path is also served under it, so
    that the links the feeds and the index carry (`/news/feeds/all.atom`) work whether a
    reverse proxy passes that path on as it is or strips the prefix (then `/feeds/all.atom`).

    A plain handler for aiohttp's low-level server rather than a `web.Application`: no
    router, middlewares or signals to run, which is a third more requests per second."""
    files = FileCache(output_dir) if cache is None else cache
    feed_path = _Memo(safe_relative)
    top_level = {"/": "index.html", "/index.html": "index.html", "/feeds.opml": "feeds.opml"}

    async def dispatch(request: web.BaseRequest) -> web.StreamResponse:
        if (refused := _refuse_method(request)) is not None:
            return refused
        path = request.path
        inside = _inside_base_path(path, base_path)
        if inside is not None:
            response = answer(request, inside)
            # Only when nothing is there: a prefix that is also one of our own directories
            # ("/feeds") must not hide what a stripping proxy asks for.
            if response.status != 404:
                return response
        return answer(request, path)

    def answer(request: web.BaseRequest, path: str) -> web.StreamResponse:
        if path.startswith("/feeds/"):
            relative = feed_path(path[1:])
            if relative is None:
                return _not_found()
            return file_response(request, files, relative, max_age_s)
        if path in top_level:
            return file_response(request, files, top_level[path], max_age_s)
        if path == "/healthz":
            return _health_response(health)
        if path == "/metrics" and metrics is not None:
            return web.Response(
                body=metrics.render(),
                headers={"Content-Type": metrics.content_type, "Cache-Control": "no-store"},
            )
        return _not_found()

    return dispatch


def _inside_base_path(path: str, base_path: str) -> str | None:
    """`path` relative to `base_path` ("/news/feeds/all.atom" -> "/feeds/all.atom", "/news"
    -> "/"), or None when it is not under it (or there is no base path)."""
    if not base_path or not path.startswith(base_path):
        return None
    rest = path[len(base_path) :]
    if rest and not rest.startswith("/"):
        return None  # "/newsletter" is not under "/news"
    return rest or "/"


class HandlerSlot:
    """A handler that passes each request to `handler`, which may be replaced while the
    server runs: the daemon points its server at a reloaded `publish.output_dir` without
    closing the listening socket (requests in progress finish on the old one)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        return await self.handler(request)


def build_directory_app(directory: Path) -> Handler:
    """Serve every file of one directory by name (the demo's simulated newsroom)."""
    cache = FileCache(directory)

    async def dispatch(request: web.BaseRequest) -> web.StreamResponse:
        if (refused := _refuse_method(request)) is not None:
            return refused
        relative = safe_relative(request.path[1:])
        if relative is None or "/" in relative:
            return _not_found()
        return file_response(request, cache, relative)

    return dispatch


class _QuietClientErrors(logging.Filter):
    """aiohttp logs a request its parser rejects (a 100 KB header line, thousands of headers)
    as an error with a traceback; that is the client's mistake, worth one debug line."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not isinstance(error, HttpProcessingError):
            return True
        if not logging.getLogger(record.name).isEnabledFor(logging.DEBUG):
            return False
        peer = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
        record.msg, record.args = "bad request from %s: %s", (peer, error.message[:200])
        record.exc_info, record.exc_text = None, None
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


_HTTP_LOG = logging.getLogger("syndicator.http")
_HTTP_LOG.addFilter(_QuietClientErrors())


async def start_server(handler: Handler, host: str, port: int) -> RunningServer:
    """Listen on host:port (port 0 picks a free one). Raises OSError if the port is taken."""
    server = web.Server(
        handler,
        access_log=None,
        logger=_HTTP_LOG,
        max_line_size=MAX_LINE_SIZE,
        max_field_size=MAX_LINE_SIZE,
        max_headers=MAX_HEADERS,
    )
    runner = web.ServerRunner(server)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    bound_port = int(runner.addresses[0][1]) if runner.addresses else port
    return RunningServer(runner=runner, host=host, port=bound_port)


async def listen(handler: Handler, host: str, port: int) -> RunningServer:
    """`start_server`, with an error that names the address that could not be had."""
    try:
        return await start_server(handler, host, port)
    except OSError as e:
        raise OSError(f"server: cannot listen on {host}:{port}: {e.strerror or e}") from e
