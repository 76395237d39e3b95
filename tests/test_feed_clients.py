"""Real clients against our published feeds, all on loopback.

One `run --once` polls a loopback feed server; its output directory is served by the app from
`syndicator.server` (`start_server(build_feed_app(...))` on 127.0.0.1, port 0), started before
the run so that `publish.base_url` is the address it is really served at. Then:

- lemon24/reader, a real feed reader library, subscribes to `/feeds/all.atom` and a region feed
  over HTTP (its own requests-based retriever and its vendored feedparser), and must see our
  entries with their tag-URI ids, titles, links, sources and categories, and get a 304 on its
  second update;
- headless Chromium renders `/`: the DOM must list every published feed with its title, and a
  screenshot is kept (see `ARTIFACTS`);
- plain HTTP conditional GET: 200 with an ETag, then 304 for If-None-Match with that ETag.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import html5lib
import pytest
from lxml import etree

from syndicator.server import RunningServer, build_feed_app, start_server
from tests.atom_checks import ATOM
from tests.conftest import ROOT, FeedServer, Route, rss, syndicator, write_config

pytestmark = pytest.mark.slow  # every test here needs the module's `run --once`

ARTIFACTS = ROOT / ".artifacts"  # gitignored: the screenshot of the last run, for a human
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY")

KZ = {
    "title": "Protesters clash with police in Kazakhstan's largest city",
    "link": "https://steppe.example/news/almaty-unrest",
    "guid": "steppe-1",
    "description": "ALMATY (Reuters) - Security forces fired on protesters in Almaty on "
    "Wednesday as unrest over fuel prices spread across Kazakhstan, and the government "
    "declared a state of emergency. Troops patrolled the streets after clashes left dozens "
    "dead, officials said. An oil pipeline near the city was shut down.",
}
KZ_COPY = {
    "title": "Kazakhstan: police and protesters clash in Almaty",
    "link": "https://steppe.example/news/almaty-unrest?utm_source=copycat",
    "guid": "copy-1",
}
FOOTBALL = {
    "title": "Liverpool beat Chelsea 3-1 in the Premier League",
    "link": "https://world.example/football/liverpool-chelsea",
    "guid": "world-1",
    "description": "Mohamed Salah scored twice as Liverpool beat Chelsea 3-1 at Anfield on "
    "Saturday. The striker's second goal came in the final minutes of the football match, "
    "lifting the club to the top of the league table in England.",
}
SECTIONS = """
[[sections]]
slug = "central-asia"
title = "Central Asia desk"
regions = ["Central Asia"]
"""


class ServedDirectory:
    """`syndicator.server`'s feed app over one directory, on its own event loop thread."""

    def __init__(self, output_dir: Path) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        app = build_feed_app(output_dir, lambda: {"status": "ok"})
        self._server: RunningServer = self._call(start_server(app, "127.0.0.1", 0))

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=15)

    @property
    def url(self) -> str:
        return self._server.url

    def stop(self) -> None:
        self._call(self._server.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()


@dataclass
class Site:
    url: str
    output_dir: Path
    feeds: list[str] = field(default_factory=list)  # paths of the .atom files, e.g. feeds/all.atom


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("clients")
    output_dir = tmp / "feeds"
    output_dir.mkdir()
    sources = FeedServer()
    sources.start()
    served = ServedDirectory(output_dir)
    try:
        sources.routes["/steppe.rss"] = Route(rss([KZ], "Steppe Wire"))
        # The copy arrives about a second later (1 ms a byte), so the wire story is always
        # first seen and represents the cluster: both are polled in one cycle.
        sources.routes["/copy.rss"] = Route(rss([KZ_COPY], "Copycat Daily"), drip_s=0.001)
        sources.routes["/world.rss"] = Route(rss([FOOTBALL], "World Desk"))
        config = write_config(tmp, [sources.url(path) for path in sources.routes], SECTIONS)
        text = config.read_text(encoding="utf-8")
        config.write_text(text.replace("http://feeds.test/", served.url), encoding="utf-8")
        result = syndicator("--config", str(config), "run", "--once", cwd=tmp)
        assert result.returncode == 0, result.stderr
        feeds = sorted(str(p.relative_to(output_dir)) for p in output_dir.rglob("*.atom"))
        yield Site(served.url, output_dir, feeds)
    finally:
        served.stop()
        sources.stop()


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, Message]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, no proxy
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read(), error.headers


def _feed_title(site: Site, path: str) -> str:
    return etree.parse(str(site.output_dir / path)).getroot().findtext(f"{ATOM}title") or ""


# ---------------------------------------------------------------------------------------------
# lemon24/reader.


def _reader_plugins(seen: list[tuple[str, int | None]]) -> list[Any]:
    """A reader plugin that records every request and status reader's HTTP retriever makes,
    refusing any that is not for 127.0.0.1 (reader's own plugins use the same hooks)."""

    def request_hook(session: Any, request: Any, **kwargs: Any) -> None:
        host = urlsplit(request.url).hostname
        seen.append((request.url, None))
        if host != "127.0.0.1":
            raise AssertionError(f"reader tried a non-loopback address: {request.url}")

    def response_hook(session: Any, response: Any, request: Any, **kwargs: Any) -> None:
        seen.append((request.url, response.status_code))

    def plugin(reader: Any) -> None:
        @reader._parser.lazy_init
        def init(parser: Any) -> None:
            retriever = parser.get_retriever("http://")
            retriever.request_hooks.append(request_hook)
            retriever.response_hooks.append(response_hook)

    return [plugin]


class CategoryRecorder:
    """reader keeps no atom:category of an entry (its Entry has no tags field), so this wraps
    reader's own feedparser parser: reader parses as always, and the categories its vendored
    feedparser read from the same bytes are kept by entry id."""

    def __init__(self) -> None:
        from reader._parser.feedparser import FeedparserParser, feedparser

        self._parser = FeedparserParser()
        self._feedparser = feedparser
        self.accept = self._parser.accept
        self.categories: dict[str, set[tuple[str, str, str]]] = {}

    def __call__(self, url: str, resource: Any, headers: Any = None) -> Any:
        data = resource.read()
        parsed = self._feedparser.parse(io.BytesIO(data), response_headers=headers or {})
        for entry in parsed.entries:
            self.categories[entry.id] = {
                (tag.term, tag.scheme, tag.label) for tag in entry.get("tags", [])
            }
        return self._parser(url, io.BytesIO(data), headers)


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.mark.usefixtures("no_proxy")
def test_reader_subscribes_over_http_and_sees_our_entries(site: Site, tmp_path: Path) -> None:
    from reader import make_reader

    seen: list[tuple[str, int | None]] = []
    reader = make_reader(str(tmp_path / "reader.sqlite"), plugins=_reader_plugins(seen))
    recorder = CategoryRecorder()
    reader._parser.mount_parser_by_mime_type(recorder)
    all_url, kz_url = site.url + "feeds/all.atom", site.url + "feeds/regions/kz.atom"
    try:
        for url in (all_url, kz_url):
            reader.add_feed(url)
        reader.update_feeds()
        for url in (all_url, kz_url):
            feed = reader.get_feed(url)
            assert feed.last_exception is None, feed.last_exception
        assert reader.get_feed(all_url).title == "All stories"
        assert reader.get_feed(kz_url).title == _feed_title(site, "feeds/regions/kz.atom")

        everything = {entry.title: entry for entry in reader.get_entries(feed=all_url)}
        assert set(everything) == {KZ["title"], FOOTBALL["title"]}  # the copy folded in
        for entry in everything.values():
            assert entry.id.startswith("tag:127.0.0.1,"), entry.id
        kz, football = everything[KZ["title"]], everything[FOOTBALL["title"]]
        assert kz.link == KZ["link"]
        assert football.link == FOOTBALL["link"]
        assert kz.source is not None
        assert kz.source.title == "Steppe Wire"
        content = kz.get_content()
        assert content is not None
        assert "Security forces fired on protesters" in content.value

        (regional,) = reader.get_entries(feed=kz_url)
        assert (regional.id, regional.title, regional.link) == (kz.id, kz.title, kz.link)

        regions, topics = site.url + "regions", site.url + "topics"
        assert ("KZ", regions, "Kazakhstan") in recorder.categories[kz.id]
        assert any(scheme == topics for _, scheme, _ in recorder.categories[kz.id])
        assert not any(term == "KZ" for term, _, _ in recorder.categories[football.id])

        # Again at once: reader honours Cache-Control max-age when it schedules updates, so
        # only an unscheduled update asks; it sends its validators and gets a 304.
        reader.update_feeds(scheduled=False)
        statuses = [status for url, status in seen if url == all_url and status is not None]
        assert statuses == [200, 304]
        assert all(urlsplit(url).hostname == "127.0.0.1" for url, _ in seen)
    finally:
        reader.close()


# ---------------------------------------------------------------------------------------------
# Headless Chromium.

CHROMIUM = next(
    (found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))), None
)


def _chromium(profile: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """Chromium headless, kept on loopback: no proxy, every host name but 127.0.0.1 unresolvable,
    no background network (updates, sync, field trials)."""
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--no-proxy-server",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        f"--user-data-dir={profile}",
        "--window-size=1200,900",
        *arguments,
    ]
    environment = {**os.environ, "HOME": str(profile)}
    return subprocess.run(
        command, capture_output=True, text=True, timeout=90, check=False, env=environment
    )


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_chromium_renders_the_index_with_every_feed(site: Site, tmp_path: Path) -> None:
    dumped = _chromium(tmp_path / "profile", "--dump-dom", site.url)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    document = html5lib.parse(dumped.stdout, treebuilder="lxml", namespaceHTMLElements=False)
    links = {
        anchor.get("href"): "".join(anchor.itertext()).strip()
        for anchor in document.iter("a")
        if (anchor.get("href") or "").endswith(".atom")
        and "subscribe" not in anchor.get("class", "")
    }
    listed = {href.removeprefix(site.url): title for href, title in links.items()}
    for path in ("feeds/all.atom", "feeds/central-asia.atom", "feeds/regions/kz.atom"):
        assert path in listed, f"{path} is not linked from the index"
    for path, title in listed.items():
        assert (site.output_dir / path).is_file(), f"the index links a missing feed: {path}"
        assert title == _feed_title(site, path), path
    archives = {path for path in site.feeds if "/archive" in path}
    assert set(site.feeds) - archives <= set(listed), "a published feed is not in the index"

    screenshot = tmp_path / "index.png"
    shot = _chromium(tmp_path / "profile", f"--screenshot={screenshot}", site.url)
    assert shot.returncode == 0, shot.stderr[-2000:]
    png = screenshot.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 10_000  # a rendered page, not a blank one
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(screenshot, ARTIFACTS / "index.png")


# ---------------------------------------------------------------------------------------------
# Conditional GET.


@pytest.mark.parametrize("path", ["feeds/all.atom", "feeds/regions/kz.atom", ""])
@pytest.mark.parametrize("encoding", [None, "gzip"], ids=["identity", "gzip"])
def test_a_second_request_with_the_etag_gets_304(
    site: Site, path: str, encoding: str | None
) -> None:
    """RFC 9110 13.1.2: GET -> 200 with an ETag; the same GET with If-None-Match: that ETag
    (as sent, in a list, or weak) -> 304 without a body; another ETag -> 200. The Accept-Encoding
    of both requests is the same, so it holds whether or not the server gzips."""
    base = {"Accept-Encoding": encoding} if encoding else {}
    status, body, headers = _get(site.url + path, base)
    assert status == 200
    assert body
    etag = headers["ETag"]
    assert etag, "no ETag"
    opaque = etag.removeprefix("W/")
    for validator in (etag, f'"no-such-version", {etag}', f"W/{opaque}"):
        again, again_body, again_headers = _get(
            site.url + path, {**base, "If-None-Match": validator}
        )
        assert again == 304, validator
        assert again_body == b""
        assert again_headers["ETag"] in (etag, opaque, f"W/{opaque}")
    other, other_body, _ = _get(site.url + path, {**base, "If-None-Match": '"no-such-version"'})
    assert other == 200
    assert other_body == body
