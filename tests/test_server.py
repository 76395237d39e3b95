"""The HTTP server on a real loopback socket: validators, gzip, HEAD, refusals, health, metrics.

Servers run on 127.0.0.1 port 0 in an event loop on a background thread; the tests talk to
them with urllib, http.client and raw sockets. Only the daemon's clock is fake.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import http.client
import json
import logging
import os
import re
import signal
import socket
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.utils import formatdate
from pathlib import Path
from typing import Any, TypeVar

import pytest
from prometheus_client.parser import text_string_to_metric_families

from syndicator import daemon as daemon_module
from syndicator.atomic import write_atomically
from syndicator.config import load_settings
from syndicator.daemon import Daemon, ServeHealth, stall_after
from syndicator.metrics import Metrics
from syndicator.pipeline import parse_inline
from syndicator.server import (
    MAX_CACHED_FILE,
    FileCache,
    FileVersion,
    Handler,
    RunningServer,
    accepts_gzip,
    build_directory_app,
    build_feed_app,
    start_server,
)
from tests.conftest import FakeClock, FeedServer, Route, rss, write_config
from tests.processes import Running

T = TypeVar("T")
ATOM = b'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">' + (
    b"<title>All</title>" * 200 + b"</feed>\n"
)
SECRET = b"top secret: outside the output directory\n"
ALLOW = "GET, HEAD, OPTIONS"
ITEMS = [{"title": "Troops leave Kazakhstan", "guid": "w-1", "link": "https://wire.example/1"}]
START = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class LoopThread:
    """An asyncio loop on a daemon thread, for servers the blocking clients talk to."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    runner = LoopThread()
    try:
        yield runner
    finally:
        runner.close()


@contextlib.contextmanager
def serving(loop_thread: LoopThread, app: Handler) -> Iterator[str]:
    server: RunningServer = loop_thread.run(start_server(app, "127.0.0.1", 0))
    try:
        yield server.url.rstrip("/")
    finally:
        loop_thread.run(server.stop())


@pytest.fixture
def output_dir(tmp_path: Path) -> Path:
    root = tmp_path / "out"
    (root / "feeds" / "regions").mkdir(parents=True)
    (root / "index.html").write_bytes(b"<!DOCTYPE html><title>feeds</title>\n")
    (root / "feeds.opml").write_bytes(b'<?xml version="1.0"?><opml version="2.0"/>\n')
    (root / "feeds" / "all.atom").write_bytes(ATOM)
    (root / "feeds" / "all.json").write_bytes(b'{"version": "https://jsonfeed.org/version/1.1"}\n')
    (root / "feeds" / "regions" / "kz.atom").write_bytes(ATOM)
    (root / "feeds" / ".hidden.atom").write_bytes(SECRET)
    (root / "feeds" / "notes.txt").write_bytes(SECRET)
    (tmp_path / "secret.atom").write_bytes(SECRET)
    (root / "feeds" / "escape.atom").symlink_to(tmp_path / "secret.atom")
    return root


@pytest.fixture
def base(loop_thread: LoopThread, output_dir: Path) -> Iterator[str]:
    app = build_feed_app(output_dir, lambda: {"status": "ok"}, Metrics())
    with serving(loop_thread, app) as url:
        yield url


def get(
    url: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> tuple[int, bytes, Message]:
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers


def raw(base: str, data: bytes) -> bytes:
    """Send bytes as they are and read the answer until the server closes the connection."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        # The server may answer and close before it has read everything.
        with contextlib.suppress(OSError):
            connection.sendall(data)
        answer = b""
        while True:
            try:
                chunk = connection.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            answer += chunk
    return answer


def raw_status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def request_line(target: str, method: str = "GET") -> bytes:
    return f"{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()


# -- files and validators ----------------------------------------------------------------------


def test_feed_is_served_with_validators_and_caching_headers(base: str, output_dir: Path) -> None:
    status, body, headers = get(base + "/feeds/all.atom")
    assert status == 200
    assert body == ATOM
    assert headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    assert re.fullmatch(r'"[0-9a-f]{32}"', headers["ETag"])
    mtime = (output_dir / "feeds" / "all.atom").stat().st_mtime_ns // 1_000_000_000
    assert headers["Last-Modified"] == formatdate(mtime, usegmt=True)
    assert headers["Cache-Control"] == "public, max-age=60"
    assert headers["Vary"] == "Accept-Encoding"
    assert "Content-Encoding" not in headers
    assert int(headers["Content-Length"]) == len(ATOM)


@pytest.mark.parametrize(
    ("path", "content_type", "file"),
    [
        ("/", "text/html; charset=utf-8", "index.html"),
        ("/feeds.opml", "text/x-opml; charset=utf-8", "feeds.opml"),
        ("/feeds/all.json", "application/feed+json; charset=utf-8", "feeds/all.json"),
        ("/feeds/regions/kz.atom", "application/atom+xml; charset=utf-8", "feeds/regions/kz.atom"),
    ],
)
def test_index_opml_json_feed_and_nested_feeds(
    base: str, output_dir: Path, path: str, content_type: str, file: str
) -> None:
    status, body, headers = get(base + path)
    assert (status, headers["Content-Type"]) == (200, content_type)
    assert body == (output_dir / file).read_bytes()


def test_if_none_match_answers_304(base: str) -> None:
    _, _, headers = get(base + "/feeds/all.atom")
    etag = headers["ETag"]
    status, body, again = get(base + "/feeds/all.atom", {"If-None-Match": etag})
    assert (status, body) == (304, b"")
    assert again["ETag"] == etag
    assert again["Cache-Control"] == "public, max-age=60"
    assert again["Vary"] == "Accept-Encoding"
    for listed in (f'"other", {etag}', f"W/{etag}", "*"):
        assert get(base + "/feeds/all.atom", {"If-None-Match": listed})[0] == 304, listed
    assert get(base + "/feeds/all.atom", {"If-None-Match": '"stale"'})[0] == 200


def test_if_modified_since_answers_304_and_if_none_match_wins(base: str) -> None:
    _, _, headers = get(base + "/feeds/all.atom")
    last_modified = headers["Last-Modified"]
    assert get(base + "/feeds/all.atom", {"If-Modified-Since": last_modified})[0] == 304
    later = formatdate(time.time() + 3600, usegmt=True)
    assert get(base + "/feeds/all.atom", {"If-Modified-Since": later})[0] == 304
    earlier = formatdate(0, usegmt=True)
    assert get(base + "/feeds/all.atom", {"If-Modified-Since": earlier})[0] == 200
    assert get(base + "/feeds/all.atom", {"If-Modified-Since": "not a date"})[0] == 200
    # Both sent: If-None-Match decides (RFC 9110, 13.2.2), whatever the date says.
    both = {"If-None-Match": '"stale"', "If-Modified-Since": later}
    assert get(base + "/feeds/all.atom", both)[0] == 200
    both = {"If-None-Match": headers["ETag"], "If-Modified-Since": earlier}
    assert get(base + "/feeds/all.atom", both)[0] == 304


def test_gzip_variant_has_its_own_etag_and_304(base: str) -> None:
    _, _, identity = get(base + "/feeds/all.atom")
    status, body, headers = get(base + "/feeds/all.atom", {"Accept-Encoding": "gzip, br"})
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == ATOM
    assert len(body) < len(ATOM)
    assert headers["ETag"] == identity["ETag"][:-1] + '-gzip"'
    assert headers["Vary"] == "Accept-Encoding"
    assert headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    zipped = {"Accept-Encoding": "gzip", "If-None-Match": headers["ETag"]}
    assert get(base + "/feeds/all.atom", zipped)[:2] == (304, b"")
    # Each variant's validator matches only that variant.
    assert get(base + "/feeds/all.atom", {"If-None-Match": headers["ETag"]})[0] == 200
    plain_tag_zipped = {"Accept-Encoding": "gzip", "If-None-Match": identity["ETag"]}
    assert get(base + "/feeds/all.atom", plain_tag_zipped)[0] == 200
    refused = get(base + "/feeds/all.atom", {"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in refused[2]
    assert refused[1] == ATOM


def test_accept_encoding_parsing() -> None:
    assert accepts_gzip("gzip")
    assert accepts_gzip("deflate, GZIP;q=0.5")
    assert accepts_gzip("x-gzip")
    assert accepts_gzip("*")
    assert not accepts_gzip("br, deflate")
    assert not accepts_gzip("gzip;q=0")
    assert not accepts_gzip("*;q=0")
    assert not accepts_gzip("gzip;q=0, *")  # gzip named and refused: the wildcard is others
    assert not accepts_gzip("gzip;q=nonsense")
    assert not accepts_gzip("")


def test_head_has_the_get_headers_and_no_body(base: str) -> None:
    host, port = base.removeprefix("http://").split(":")
    for extra in ({}, {"Accept-Encoding": "gzip"}):
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            connection.request("GET", "/feeds/all.atom", headers=extra)
            got = connection.getresponse()
            got_body = got.read()
            connection.request("HEAD", "/feeds/all.atom", headers=extra)
            head = connection.getresponse()
            assert head.read() == b""
        finally:
            connection.close()
        assert head.status == 200
        for name in ("ETag", "Last-Modified", "Content-Type", "Cache-Control", "Vary"):
            assert head.getheader(name) == got.getheader(name), name
        assert head.getheader("Content-Encoding") == got.getheader("Content-Encoding")
        assert int(head.getheader("Content-Length") or -1) == len(got_body)
    assert get(base + "/feeds/all.atom", method="HEAD")[1] == b""
    assert get(base + "/healthz", method="HEAD")[:2] == (200, b"")


def test_a_changed_file_gets_a_new_etag(base: str, output_dir: Path) -> None:
    feed = output_dir / "feeds" / "all.atom"
    _, _, first = get(base + "/feeds/all.atom")
    _, _, first_zipped = get(base + "/feeds/all.atom", {"Accept-Encoding": "gzip"})
    write_atomically(feed, ATOM.replace(b"All", b"New"))
    status, body, second = get(base + "/feeds/all.atom", {"If-None-Match": first["ETag"]})
    assert status == 200
    assert b"New" in body
    assert second["ETag"] != first["ETag"]
    zipped = {"Accept-Encoding": "gzip", "If-None-Match": first_zipped["ETag"]}
    status, body, _ = get(base + "/feeds/all.atom", zipped)
    assert status == 200
    assert b"New" in gzip.decompress(body)
    # Rewritten in place with the same size: the mtime tells the cache.
    feed.write_bytes(ATOM.replace(b"All", b"Old"))
    os.utime(feed, ns=(feed.stat().st_atime_ns, feed.stat().st_mtime_ns + 5_000_000_000))
    status, body, third = get(base + "/feeds/all.atom", {"If-None-Match": second["ETag"]})
    assert (status, b"Old" in body) == (200, True)
    assert third["ETag"] not in (first["ETag"], second["ETag"])
    # The same bytes again: the same ETag as before (a hash of the bytes).
    write_atomically(feed, ATOM)
    assert get(base + "/feeds/all.atom")[2]["ETag"] == first["ETag"]
    feed.unlink()
    assert get(base + "/feeds/all.atom")[0] == 404


def test_cache_is_bounded_in_files_and_bytes(output_dir: Path) -> None:
    cache = FileCache(output_dir, max_files=2)
    for name in ("feeds/all.atom", "feeds/regions/kz.atom", "index.html", "feeds.opml"):
        assert isinstance(cache.lookup(name), FileVersion)
        assert len(cache) <= 2
    # Over the byte cap, the least recently used bytes go; the validators stay for 304s.
    small = FileCache(output_dir, max_bytes=len(ATOM) + 100)
    first = small.lookup("feeds/all.atom")
    second = small.lookup("feeds/regions/kz.atom")
    assert isinstance(first, FileVersion)
    assert isinstance(second, FileVersion)
    assert len(small) == 2
    assert small.cached_bytes <= len(ATOM) + 100
    assert first.body is None
    assert second.body == ATOM
    assert small.lookup("feeds/all.atom") is first  # still known: no read for a 304
    again = small.with_bytes("feeds/all.atom", first, zipped=True)
    assert again is not None
    assert again.body == ATOM
    assert again.etag == first.etag
    assert again.gzipped is not None
    assert gzip.decompress(again.gzipped) == ATOM
    assert second.body is None  # now the least recently used
    assert small.cached_bytes == len(ATOM) + len(again.gzipped)


def test_a_200_after_the_bytes_were_dropped_reads_the_file_again(
    loop_thread: LoopThread, output_dir: Path
) -> None:
    cache = FileCache(output_dir, max_bytes=len(ATOM) * 3)
    handler = build_feed_app(output_dir, lambda: {"status": "ok"}, cache=cache)
    with serving(loop_thread, handler) as url:
        # 40 files through a cache that holds the bytes of 3: all answer 200 and 304.
        for number in range(40):
            (output_dir / "feeds" / f"f{number}.atom").write_bytes(ATOM + b"%d" % number)
        for number in range(40):
            status, body, headers = get(url + f"/feeds/f{number}.atom")
            assert (status, body) == (200, ATOM + b"%d" % number)
            assert get(url + f"/feeds/f{number}.atom", {"If-None-Match": headers["ETag"]})[0] == 304
            assert cache.cached_bytes <= len(ATOM) * 3 + 10
        assert len(cache) == 40
        status, body, _ = get(url + "/feeds/f0.atom", {"Accept-Encoding": "gzip"})
        assert (status, gzip.decompress(body)) == (200, ATOM + b"0")


def test_a_file_too_large_to_cache_is_still_served(base: str, output_dir: Path) -> None:
    big = b"<feed>" + b"x" * (MAX_CACHED_FILE + 1) + b"</feed>"
    (output_dir / "feeds" / "big.atom").write_bytes(big)
    status, body, headers = get(base + "/feeds/big.atom")
    assert (status, len(body)) == (200, len(big))
    assert headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    assert get(base + "/feeds/big.atom", {"If-None-Match": headers["ETag"]})[0] == 304


# -- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/feeds/../secret.atom",
        "/feeds/../../etc/passwd",
        "/feeds/%2e%2e/secret.atom",
        "/feeds/%2E%2E/%2E%2E/etc/passwd",
        "/feeds/..%2fsecret.atom",
        "/feeds/regions/..%2f..%2fsecret.atom",
        "/feeds/..%5csecret.atom",
        "/feeds/..\\secret.atom",
        "/feeds/%00.atom",
        "/feeds/all.atom%00.html",
        "/feeds//etc/passwd",
        "//etc/passwd",
        "/etc/passwd",
        "/feeds/%2fetc%2fpasswd",
        "http://evil.example/etc/passwd",
        "/feeds/.hidden.atom",
        "/feeds/%2ehidden.atom",
        "/feeds/escape.atom",
        "/feeds/notes.txt",
        "/feeds/all.atom/",
        "/feeds/",
        "/feeds",
        "/secret.atom",
        "/../secret.atom",
    ],
)
def test_paths_outside_the_feeds_are_refused(base: str, target: str) -> None:
    answer = raw(base, request_line(target))
    assert raw_status(answer) in (400, 404), answer[:200]
    assert b"top secret" not in answer


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "TRACE", "PROPFIND", "PATCH", "MKCOL"])
@pytest.mark.parametrize("path", ["/feeds/all.atom", "/", "/healthz", "/metrics", "/nowhere"])
def test_other_methods_are_405_with_allow(base: str, method: str, path: str) -> None:
    answer = raw(base, request_line(path, method))
    head = answer.split(b"\r\n\r\n", 1)[0].decode()
    assert raw_status(answer) == 405, head
    assert f"Allow: {ALLOW}" in head.split("\r\n")


def test_options_answers_allow_and_a_made_up_method_is_a_bad_request(base: str) -> None:
    status, body, headers = get(base + "/feeds/all.atom", method="OPTIONS")
    assert (status, body, headers["Allow"]) == (204, b"", ALLOW)
    # aiohttp's parser (llhttp) knows the registered method names only: an unknown token is
    # a malformed request, 400, before any handler runs.
    assert raw_status(raw(base, request_line("/feeds/all.atom", "FOOBAR"))) == 400
    assert get(base + "/feeds/all.atom")[0] == 200


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(
            b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n",
            id="100KB-header",
        ),
        pytest.param(
            b"GET / HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-%d: 1\r\n" % number for number in range(5000))
            + b"\r\n",
            id="5000-headers",
        ),
        pytest.param(b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", id="100KB-url"),
        pytest.param(b"\x00\x01\x02\x03 garbage\r\n\r\n", id="garbage"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", id="no-colon"),
    ],
)
def test_absurd_requests_are_refused_without_harm(
    base: str, request_bytes: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    answer = raw(base, request_bytes)
    assert raw_status(answer) in (400, 414, 431), answer[:200]
    assert get(base + "/feeds/all.atom")[0] == 200  # still serving
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert not [record for record in caplog.records if record.exc_info]


def test_directory_app_serves_flat_files_only(loop_thread: LoopThread, output_dir: Path) -> None:
    with serving(loop_thread, build_directory_app(output_dir / "feeds")) as url:
        status, body, headers = get(url + "/all.atom")
        assert (status, body) == (200, ATOM)
        assert get(url + "/all.atom", {"If-None-Match": headers["ETag"]})[0] == 304
        assert get(url + "/regions/kz.atom")[0] == 404
        assert raw_status(raw(url, request_line("/../secret.atom"))) == 404
        assert get(url + "/all.atom", method="POST")[0] == 405


# -- /healthz and /metrics ---------------------------------------------------------------------


class RunningDaemon:
    """A `Daemon` on a background thread's event loop, stopped like SIGTERM would."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(30), f"the daemon did not start: {self.error!r}"

    def _run(self) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            await self.daemon.run_async(lambda _: self.ready.set(), handle_signals=False)

        try:
            asyncio.run(main())
        except BaseException as e:
            self.error = e
            self.ready.set()

    @property
    def url(self) -> str:
        assert self.daemon.server is not None
        return self.daemon.server.url.rstrip("/")

    def health(self) -> tuple[int, dict[str, Any]]:
        status, body, headers = get(self.url + "/healthz")
        assert headers["Content-Type"].startswith("application/json")
        assert headers["Cache-Control"] == "no-store"
        return status, json.loads(body)

    def wait_until(self, condition: Callable[[], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.loop is not None and self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.daemon.stop)
        self.thread.join(timeout=20)
        assert not self.thread.is_alive()
        assert self.error is None, self.error


def _daemon(tmp_path: Path, feed_server: FeedServer, tick: str, clock: FakeClock) -> Daemon:
    feed_server.routes["/wire.rss"] = Route(rss(ITEMS), etag='"v1"')
    config = write_config(tmp_path, [feed_server.url("/wire.rss")])
    config.write_text(config.read_text().replace('min_interval = "1s"', f'min_interval = "{tick}"'))
    return Daemon(config, load_settings(config), clock=clock, parser=parse_inline)


def _metrics(url: str) -> dict[str, float]:
    status, body, headers = get(url + "/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain")
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            labels = ",".join(f"{key}={value}" for key, value in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


def test_metrics_count_a_real_poll_and_publish(tmp_path: Path, feed_server: FeedServer) -> None:
    clock = FakeClock(START)
    running = RunningDaemon(_daemon(tmp_path, feed_server, "1s", clock))
    try:
        running.wait_until(
            lambda: _metrics(running.url)["syndicator_fetches_total{status=200}"] == 1
        )
        running.wait_until(
            lambda: _metrics(running.url)["syndicator_publish_duration_seconds_count"] >= 1
        )
        samples = _metrics(running.url)
        assert samples["syndicator_stories_ingested_total{kind=new}"] == 1
        assert samples["syndicator_stories_ingested_total{kind=updated}"] == 0
        assert samples["syndicator_clusters_created_total"] == 1
        assert samples["syndicator_fetch_duration_seconds_count"] == 1
        assert samples["syndicator_fetch_not_modified_ratio"] == 0
        assert samples["syndicator_feeds_written_total"] >= 1
        assert samples["syndicator_alerts_sent_total"] == 0
        assert samples["syndicator_alerts_failed_total"] == 0
        # An hour later (on the fake clock) the source is due again; the server says 304.
        clock.advance(timedelta(hours=1))
        running.wait_until(
            lambda: _metrics(running.url)["syndicator_fetches_total{status=304}"] == 1
        )
        assert _metrics(running.url)["syndicator_fetch_not_modified_ratio"] == 0.5
        status, report = running.health()
        assert (status, report["status"], report["problems"]) == (200, "ok", [])
        assert report["stories"] == 1
        assert report["checks"]["database"]["status"] in ("ok", "writing")
    finally:
        running.stop()


def test_what_the_retention_job_removes_leaves_the_published_feeds(
    tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operator shortens `storage.retention` to remove old stories: the hourly job
    removed them from the database, but the feeds went on listing them until a poll
    happened to change stories (a quiet feed, such as a country's, for good)."""
    monkeypatch.setattr(daemon_module, "RETENTION_EVERY", timedelta(seconds=1))
    clock = FakeClock(START)
    daemon = _daemon(tmp_path, feed_server, "1s", clock)
    all_feed = daemon.settings.publish.output_dir / "feeds" / "all.atom"
    running = RunningDaemon(daemon)
    try:
        running.wait_until(lambda: all_feed.exists() and b"Troops" in all_feed.read_bytes())
        clock.advance(timedelta(days=91))  # past the default retention; the feed 304s
        running.wait_until(lambda: running.health()[1]["stories"] == 0)
        running.wait_until(lambda: b"Troops" not in all_feed.read_bytes(), timeout=10)
    finally:
        running.stop()


def test_a_slow_publish_spaces_the_next_one_out(
    tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Publishing takes at most `PUBLISH_SHARE` of the daemon's time: new stories wait for
    the publish job's tick once the gap a publish of its duration asks for has passed."""
    monkeypatch.setattr(daemon_module, "PUBLISH_SHARE", 1e-9)  # any publish: a gap of years
    clock = FakeClock(START)
    daemon = _daemon(tmp_path, feed_server, "1s", clock)
    running = RunningDaemon(daemon)
    feed = tmp_path / "feeds" / "feeds" / "all.atom"
    publishes = "syndicator_publish_duration_seconds_count"
    try:
        running.wait_until(lambda: _metrics(running.url)[publishes] >= 1)
        daemon._next_publish_at = 0.0  # the gap after the start-up publish is over
        running.wait_until(lambda: feed.exists() and b"Troops leave" in feed.read_bytes())
        running.wait_until(lambda: not daemon._publishing)  # the feed is out before the index
        # One more publish, asked for now: its duration sets the gap (years here). Waiting for
        # it keeps the gap from being the one this test cleared above, had the first poll's
        # publish already run by then (a slow machine).
        before = _metrics(running.url)[publishes]
        daemon._needs_publish = True
        daemon._next_publish_at = 0.0
        running.wait_until(
            lambda: _metrics(running.url)[publishes] > before and not daemon._publishing
        )
        published = _metrics(running.url)[publishes]
        later = [*ITEMS, {"title": "Fuel prices rise", "guid": "w-2", "link": "https://w/2"}]
        feed_server.routes["/wire.rss"] = Route(rss(later), etag='"v2"')
        clock.advance(timedelta(hours=1))
        running.wait_until(
            lambda: _metrics(running.url)["syndicator_stories_ingested_total{kind=new}"] == 2
        )
        time.sleep(2.5)  # two more ticks of the publish job: still within the gap
        assert b"Fuel prices rise" not in feed.read_bytes()
        assert _metrics(running.url)[publishes] == published
        daemon._next_publish_at = 0.0  # the gap is over
        running.wait_until(lambda: b"Fuel prices rise" in feed.read_bytes())
    finally:
        running.stop()


def test_healthz_503_when_the_scheduler_stalls(tmp_path: Path, feed_server: FeedServer) -> None:
    clock = FakeClock(START)
    daemon = _daemon(tmp_path, feed_server, "5m", clock)  # a 30 s tick: no second tick here
    running = RunningDaemon(daemon)
    try:
        running.wait_until(
            lambda: running.health()[1]["checks"]["scheduler"]["last_poll_finished_at"] is not None
        )
        status, report = running.health()
        assert (status, report["status"]) == (200, "ok")
        limit = stall_after(daemon.settings)
        assert report["checks"]["scheduler"]["stalled_after_s"] == limit.total_seconds()
        clock.advance(limit - timedelta(seconds=1))
        assert running.health()[0] == 200
        clock.advance(timedelta(seconds=2))
        status, report = running.health()
        assert (status, report["status"]) == (503, "failing")
        assert report["checks"]["scheduler"]["status"] == "failing"
        assert "stalled" in report["problems"][0]
    finally:
        running.stop()


def test_healthz_database_busy_is_healthy_and_removed_is_503(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    clock = FakeClock(START)
    daemon = _daemon(tmp_path, feed_server, "5m", clock)
    running = RunningDaemon(daemon)
    try:
        running.wait_until(
            lambda: running.health()[1]["checks"]["scheduler"]["last_poll_finished_at"] is not None
        )
        # Another process holds the write lock: writable, but waiting; answered quickly.
        other = sqlite3.connect(daemon.settings.storage.path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            started = time.monotonic()
            status, report = running.health()
            assert time.monotonic() - started < 2
            assert (status, report["checks"]["database"]["status"]) == (200, "busy")
        finally:
            other.execute("ROLLBACK")
            other.close()
        # The database file removed under the running daemon: its writes would be lost.
        daemon.settings.storage.path.unlink()
        status, report = running.health()
        assert (status, report["status"]) == (503, "failing")
        assert report["checks"]["database"]["status"] == "failing"
        assert "removed" in report["checks"]["database"]["error"]
    finally:
        running.stop()


def test_a_health_probe_that_raises_is_503(loop_thread: LoopThread, output_dir: Path) -> None:
    def broken() -> dict[str, Any]:
        raise RuntimeError("probe exploded")

    with serving(loop_thread, build_feed_app(output_dir, broken)) as url:
        status, body, _ = get(url + "/healthz")
        assert status == 503
        assert "probe exploded" in json.loads(body)["problems"][0]
        assert get(url + "/metrics")[0] == 404  # no Metrics object: no /metrics


def test_serve_health_without_a_scheduler(
    tmp_path: Path, loop_thread: LoopThread, output_dir: Path
) -> None:
    config = write_config(tmp_path, [])
    config.write_text(config.read_text().replace(str(tmp_path / "feeds"), str(output_dir)))
    settings = load_settings(config)
    with serving(loop_thread, build_feed_app(output_dir, ServeHealth(settings))) as url:
        status, body, _ = get(url + "/healthz")
        report = json.loads(body)
        assert (status, report["status"]) == (200, "ok")
        assert report["checks"]["scheduler"]["status"] == "not applicable"
        assert report["checks"]["database"]["status"] == "absent"
        settings.storage.path.parent.mkdir(parents=True)
        sqlite3.connect(settings.storage.path).execute("CREATE TABLE t (x)").connection.close()
        assert get(url + "/healthz")[0] == 200
        settings.storage.path.write_bytes(b"this is not an SQLite database, it is text" * 100)
        status, body, _ = get(url + "/healthz")
        assert status == 503
        assert json.loads(body)["checks"]["database"]["status"] == "failing"
        settings.storage.path.unlink()
        os.rename(output_dir, tmp_path / "moved")
        status, body, _ = get(url + "/healthz")
        assert status == 503
        assert "output_dir" in json.loads(body)["problems"][0]


def test_syndicator_serve_command(tmp_path: Path) -> None:
    config = write_config(tmp_path, [])
    (tmp_path / "feeds" / "feeds").mkdir(parents=True)
    (tmp_path / "feeds" / "feeds" / "all.atom").write_bytes(ATOM)
    running = Running(["--config", str(config), "serve", "--host", "127.0.0.1"], cwd=tmp_path)
    try:
        url = running.wait_for(r"serving .* at (http://127\.0\.0\.1:\d+/)").group(1)
        status, body, headers = get(url + "feeds/all.atom")
        assert (status, body) == (200, ATOM)
        assert get(url + "feeds/all.atom", {"If-None-Match": headers["ETag"]})[0] == 304
        assert get(url + "healthz")[0] == 200
        assert running.stop(signal.SIGTERM) == 0
        running.wait_for("stopped")
        assert not any("Traceback" in line for line in running.seen)
    finally:
        running.kill()


def _index_with_stories(response: tuple[int, bytes, Message]) -> bool:
    status, body = response[0], response[1]
    return (
        status == 200 and re.search(rb'<tr><td><a href="[^"]*/feeds/all\.atom"', body) is not None
    )


def test_every_link_of_the_index_works_behind_a_proxy_at_a_path(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """`publish.base_url = "https://news.example/news/"`: the index, the OPML and the feeds
    link to /news/feeds/... A reverse proxy that passes the path on as it is (nginx's
    `proxy_pass http://127.0.0.1:8080;`) sent exactly that to the daemon, which answered 404
    to every subscribe link; one that strips the prefix sends /feeds/..., which still works."""
    feed_server.routes["/wire.rss"] = Route(rss(ITEMS))
    config = write_config(tmp_path, [feed_server.url("/wire.rss")])
    base_url = 'base_url = "https://news.example/news"'  # no final slash: added
    config.write_text(re.sub(r'base_url = "[^"]*"', base_url, config.read_text()))
    settings = load_settings(config)
    running = RunningDaemon(Daemon(config, settings, clock=FakeClock(START), parser=parse_inline))
    try:
        # The poll's publish, not the empty one at start (the index it wrote is rewritten).
        running.wait_until(lambda: _index_with_stories(get(running.url + "/news/")))
        running.wait_until(lambda: get(running.url + "/feeds.opml")[0] == 200)  # written last
        index = get(running.url + "/news/")[1].decode()
        links = set(re.findall(r'href="https://news\.example(/news/[^"]*)"', index))
        assert {"/news/feeds/all.atom", "/news/feeds.opml", "/news/feeds/all.json"} <= links
        for path in sorted(links):
            assert get(running.url + path)[0] == 200, path  # the path passed on as it is
            assert get(running.url + path.removeprefix("/news"))[0] == 200, path  # stripped
        assert get(running.url + "/news")[1].decode() == index
        assert get(running.url + "/news/healthz")[0] == 200
        for outside in ("/newsfeeds/all.atom", "/news/../feeds.opml", "/news/feeds/../x.atom"):
            assert get(running.url + outside)[0] == 404, outside
    finally:
        running.stop()
