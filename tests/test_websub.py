"""WebSub publishing against a real hub on loopback: pings after a feed changes, none
after an unchanged publish, and a failing hub never fails the publish."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from lxml import etree

from syndicator.websub import notify_hub

from .conftest import FeedServer, Route, rss, syndicator, write_config


class Hub:
    """A hub that records publish pings (form fields) and answers `status`."""

    def __init__(self) -> None:
        self.pings: list[dict[str, list[str]]] = []
        self.status = 204
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode()
                hub.pings.append(parse_qs(body))
                self.send_response(hub.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/hub"

    def topics(self) -> list[str]:
        return sorted(url for ping in self.pings for url in ping.get("hub.url", []))

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def hub() -> Iterator[Hub]:
    hub = Hub()
    yield hub
    hub.close()


def test_notify_hub_sends_one_publish_ping_per_topic(hub: Hub) -> None:
    topics = ["http://feeds.test/feeds/a.atom", "http://feeds.test/feeds/a.json"]
    problems = asyncio.run(notify_hub(hub.url, topics))
    assert problems == []
    assert all(ping["hub.mode"] == ["publish"] for ping in hub.pings)
    assert hub.topics() == sorted(topics)


def test_a_refusing_or_absent_hub_is_reported_not_raised(hub: Hub) -> None:
    hub.status = 500
    [refused] = asyncio.run(notify_hub(hub.url, ["http://feeds.test/feeds/a.atom"]))
    assert "HTTP 500" in refused
    assert "feeds/a.atom" in refused
    [unreachable] = asyncio.run(notify_hub("http://127.0.0.1:9/hub", ["http://x.test/a.atom"]))
    assert "unreachable" in unreachable


def _config(tmp: Path, feed_server: FeedServer, hub_url: str) -> Path:
    path = write_config(tmp, [feed_server.url("world.xml")])
    text = path.read_text(encoding="utf-8")
    base = 'base_url = "http://feeds.test/"\n'
    path.write_text(text.replace(base, f'{base}hub = "{hub_url}"\n'), encoding="utf-8")
    return path


def test_run_once_pings_the_hub_for_changed_feeds_only(
    tmp_path: Path, feed_server: FeedServer, hub: Hub
) -> None:
    items = [{"title": "Kazakhstan lifts the state of emergency", "guid": "kz-1"}]
    feed_server.routes["/world.xml"] = Route(body=rss(items))
    config = _config(tmp_path, feed_server, hub.url)
    result = syndicator("run", "--once", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    topics = hub.topics()
    assert "http://feeds.test/feeds/all.atom" in topics
    assert "http://feeds.test/feeds/all.json" in topics
    assert not any("/archive/" in topic for topic in topics)
    all_atom = etree.parse(str(tmp_path / "feeds" / "feeds" / "all.atom")).getroot()
    hubs = [
        link.get("href")
        for link in all_atom.findall("{http://www.w3.org/2005/Atom}link")
        if link.get("rel") == "hub"
    ]
    assert hubs == [hub.url]

    hub.pings.clear()  # nothing new: nothing written, nobody pinged
    result = syndicator("run", "--once", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert hub.pings == []


def test_a_dead_hub_never_fails_the_cycle(tmp_path: Path, feed_server: FeedServer) -> None:
    feed_server.routes["/world.xml"] = Route(body=rss([{"title": "A story", "guid": "1"}]))
    config = _config(tmp_path, feed_server, "http://127.0.0.1:9/hub")
    result = syndicator("run", "--once", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "websub" in result.stderr
    assert "unreachable" in result.stderr
    assert (tmp_path / "feeds" / "feeds" / "all.atom").exists()
