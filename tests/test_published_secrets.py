"""A source's credential never reaches the published feeds: a paid wire's or a private feed's
URL carries a key (`?apikey=${FEED_KEY}`, from the environment so that the config file
holds none), and the daemon polls it with the key, but every subscriber of every feed reads
what is published: an entry's `atom:source` id and self link, the JSON Feed's `feed` of each
source, and the links of its content resolved against the feed's URL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from syndicator.logs import mask_credentials
from syndicator.normalize import public_feed_url
from tests.conftest import FeedServer, Route, rss, write_config

ATOM = "{http://www.w3.org/2005/Atom}"
KEY = "k3y-5ecret-0f-the-paid-wire"


def test_a_feeds_key_is_polled_with_but_never_published(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    body = 'Paid wire text. <a href="">this feed</a> <a href="?page=2">more</a> <img src="p.png">'
    path = f"/paid.rss?cat=world&apikey={KEY}"
    feed_server.routes[path] = Route(
        rss([{"title": "Kazakhstan raises fuel prices", "link": "https://wire.example/1",
              "guid": "w1", "description": body.replace("<", "&lt;")}])
    )  # fmt: skip
    config = write_config(tmp_path, [feed_server.url("/paid.rss?cat=world&apikey=${FEED_KEY}")])
    result = subprocess.run(
        [sys.executable, "-m", "syndicator", "--config", str(config), "run", "--once"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "FEED_KEY": KEY},
    )
    assert result.returncode == 0, result.stderr
    assert feed_server.requests_to(path), "the source is polled with its key"
    published = [p for p in (tmp_path / "feeds").rglob("*") if p.is_file()]
    assert len(published) > 10
    leaking = [str(p) for p in published if KEY.encode() in p.read_bytes()]
    assert not leaking
    public = feed_server.url("/paid.rss?cat=world")
    root = etree.parse(str(tmp_path / "feeds/feeds/all.atom")).getroot()
    [entry] = root.findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}source/{ATOM}id") == public  # the other parameters stay
    assert entry.find(f"{ATOM}source/{ATOM}link[@rel='self']").get("href") == public
    content = entry.findtext(f"{ATOM}content") or ""
    assert f'href="{public}"' in content
    assert f'href="{feed_server.url("/paid.rss?page=2")}"' in content
    [item] = json.loads((tmp_path / "feeds/feeds/all.json").read_text())["items"]
    assert item["_syndicator"]["sources"][0]["feed"] == public


@pytest.mark.parametrize(
    ("url", "published"),
    [
        ("https://wire.example/rss", "https://wire.example/rss"),
        ("https://wire.example/rss?cat=world&lang=en", "https://wire.example/rss?cat=world&lang=en"),
        ("https://wire.example/rss?apikey=S&cat=world", "https://wire.example/rss?cat=world"),
        ("https://wire.example/rss?cat=1&access_token=S#top", "https://wire.example/rss?cat=1#top"),
        ("https://wire.example/rss?apiKey=S", "https://wire.example/rss"),
        ("https://wire.example/rss?api%5Fkey=S", "https://wire.example/rss"),
        ("https://patreon.example/rss/x?auth=S", "https://patreon.example/rss/x"),
        ("https://s3.example/f.xml?X-Amz-Credential=A&X-Amz-Signature=S&X-Amz-Date=1",
         "https://s3.example/f.xml?X-Amz-Date=1"),
        ("https://ttrss.example/public.php?op=rss&key=S", "https://ttrss.example/public.php?op=rss"),
        ("https://news.example/search?keywords=kazakhstan", "https://news.example/search?keywords=kazakhstan"),
        ("https://news.example/rss?monkey=1&passport=2", "https://news.example/rss?monkey=1&passport=2"),
        ("https://news.example/rss?", "https://news.example/rss?"),
    ],
)  # fmt: skip
def test_public_feed_url_drops_credential_parameters_only(url: str, published: str) -> None:
    assert public_feed_url(url) == published


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_feeds_key_never_reaches_a_log_line(
    tmp_path: Path, feed_server: FeedServer, log_format: str
) -> None:
    """The logs name a source by its URL (a parser warning, a move, a failure): the key in
    it is written `…`, in both log formats."""
    feed_server.routes[f"/broken.rss?apikey={KEY}"] = Route(b"<rss><channel><item>", status=200)
    feed_server.routes[f"/moved.rss?access_token={KEY}"] = Route(
        status=301, headers={"Location": f"/gone.rss?lang=en&access_token={KEY}"}
    )
    config = write_config(
        tmp_path,
        [
            feed_server.url("/broken.rss?apikey=${FEED_KEY}"),
            feed_server.url("/moved.rss?access_token=${FEED_KEY}"),
        ],
    )
    result = subprocess.run(
        [sys.executable, "-m", "syndicator", "--config", str(config), "--log-format",
         log_format, "run", "--once"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "FEED_KEY": KEY},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "broken.rss?apikey=…" in result.stderr
    assert "moved.rss?access_token=…" in result.stderr
    assert KEY not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("source http://w.test/rss?apikey=S1 failed", "source http://w.test/rss?apikey=… failed"),
        ("http://w.test/r?cat=1&token=S2&lang=en: x", "http://w.test/r?cat=1&token=…&lang=en: x"),
        ("https://w.test/search?keywords=kz&monkey=1", "https://w.test/search?keywords=kz&monkey=1"),
        ("'http://w.example/r?sig=S3'", "'http://w.example/r?sig=…'"),
        ("cycle: 3 source(s) polled, 0 failed", "cycle: 3 source(s) polled, 0 failed"),
    ],
)  # fmt: skip
def test_mask_credentials(line: str, shown: str) -> None:
    assert mask_credentials(line) == shown
