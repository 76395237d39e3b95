"""A farm of synthetic news feeds on a loopback aiohttp server, for the polling benchmark.

`start_farm(n, seed)` starts a separate process that renders `n` RSS 2.0 documents once (seeded,
so a run is reproducible), serves them at `http://127.0.0.1:<port>/feeds/<i>.xml` with an ETag
and a Last-Modified header, answers `If-None-Match` / `If-Modified-Since` with 304, and sends a
pre-compressed gzip body when the client accepts it (as most news sites do). `GET /_stats`
returns JSON counters (responses by status, bytes sent, server CPU seconds) so a benchmark can
check from the server's side what a client actually did.

The feeds look like news: 20-50 items, each with a title, an HTML description of a few
paragraphs, guid, link, pubDate, author and 1-3 categories. About one item in ten is a wire
story whose link is shared by several feeds (the same story republished), as in real newsrooms.
`render_item` and `render_document` are `render_feed`'s parts, for farms whose feeds gain
entries over time (`soak.py`).

Titles and sentences come from a word chain (first-order Markov) trained on the BBC News
articles of ../shared/corpus/labelled-news/, so the text has real word frequencies and real
phrase repetition: new sentences every time, whose four-word phrases recur only as often as
they do in news. (Sentences from a small built-in vocabulary, used before and still used
when the corpus is missing, made every story share phrases with thousands of others: a
near-duplicate index sees nothing like that in real feeds.)
"""

from __future__ import annotations

import asyncio
import csv
import functools
import gzip
import hashlib
import json
import multiprocessing
import os
import random
import re
import socket
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

BASE_DATE = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # fixed: bodies are byte-reproducible
WIRE_SHARE = 0.1  # fraction of items that are copies of a shared wire story
WIRE_POOL = 2000  # distinct wire stories

PLACES = (
    "Almaty", "Astana", "Bishkek", "Osh", "Tashkent", "Samarkand", "Dushanbe", "Ashgabat",
    "Moscow", "St Petersburg", "Kyiv", "Kharkiv", "Odesa", "Minsk", "Tbilisi", "Yerevan",
    "Baku", "Ankara", "Istanbul", "Tehran", "Kabul", "Islamabad", "Delhi", "Beijing",
    "Shanghai", "Tokyo", "Seoul", "Jakarta", "Manila", "Lagos", "Abuja", "Nairobi",
    "Addis Ababa", "Cairo", "Johannesburg", "Berlin", "Paris", "London", "Brussels",
    "Warsaw", "Washington", "New York", "Brasilia", "Buenos Aires", "Mexico City",
)  # fmt: skip
COUNTRIES = (
    "Kazakhstan", "Kyrgyzstan", "Uzbekistan", "Tajikistan", "Turkmenistan", "Russia",
    "Ukraine", "Belarus", "Georgia", "Armenia", "Azerbaijan", "Turkey", "Iran", "China",
    "Japan", "Nigeria", "Kenya", "Ethiopia", "Egypt", "Germany", "France", "Poland",
    "the United States", "Brazil", "India", "Pakistan",
)  # fmt: skip
ACTORS = (
    "the government", "the central bank", "opposition leaders", "protesters", "the ministry",
    "the parliament", "energy regulators", "the president", "election officials", "police",
    "local authorities", "the prime minister", "trade unions", "investors", "farmers",
    "the security council", "prosecutors", "the national oil company", "aid agencies",
)  # fmt: skip
VERBS = (
    "announced", "rejected", "approved", "warned of", "denied", "signed", "postponed",
    "condemned", "welcomed", "launched", "suspended", "extended", "demanded", "criticised",
    "proposed", "confirmed", "investigated", "blocked", "cut", "raised",
)  # fmt: skip
OBJECTS = (
    "fuel price rises", "a state of emergency", "new sanctions", "a gas pipeline deal",
    "a curfew", "the election results", "emergency talks", "a border agreement",
    "an interest rate hike", "a wheat export ban", "a protest ban", "a prisoner exchange",
    "an anti-corruption probe", "a power grid upgrade", "a ceasefire proposal",
    "a trade corridor", "a new constitution", "internet shutdowns", "a water-sharing accord",
    "a bond issue", "the budget", "a vaccination campaign", "flood relief",
)  # fmt: skip
TOPICS = (
    "Politics", "Economy", "Energy", "Conflict", "Protests", "Elections", "Business",
    "Markets", "Diplomacy", "Security", "Health", "Climate", "Agriculture", "Technology",
    "Human rights", "Migration", "World", "Region", "Opinion", "Analysis",
)  # fmt: skip
FILLER = (
    "according to", "officials said", "on Tuesday", "late on Monday", "earlier this week",
    "in a statement", "amid growing", "tensions over", "sources told reporters",
    "the decision follows", "analysts expect", "a spokesperson added", "in the capital",
    "in recent months", "despite", "the move comes as", "witnesses described",
    "it was not immediately clear", "the report said", "residents said",
)  # fmt: skip
NOUNS = (
    "prices", "wages", "inflation", "demonstrations", "negotiations", "reserves", "exports",
    "imports", "pipelines", "refineries", "railways", "markets", "courts", "ministers",
    "lawmakers", "journalists", "activists", "soldiers", "diplomats", "companies", "banks",
    "households", "shortages", "tariffs", "subsidies", "investigations", "reforms",
)  # fmt: skip
FIRST_NAMES = (
    "Aigerim", "Nursultan", "Daniyar", "Gulnara", "Timur", "Aziza", "Olena", "Dmitry",
    "Chinedu", "Amina", "Kenji", "Yuki", "Maria", "James", "Fatima", "Rustam", "Zarina",
)  # fmt: skip
LAST_NAMES = (
    "Nurlanova", "Abenov", "Karimov", "Usmonova", "Petrenko", "Ivanov", "Okafor", "Adeyemi",
    "Tanaka", "Sato", "Smith", "Rahimova", "Saidov", "Bekova", "Kowalski", "Mwangi",
)  # fmt: skip
SECTIONS = ("world", "asia", "europe", "africa", "business", "politics", "energy", "region")


BBC_CSV = (
    Path(__file__).resolve().parent.parent.parent
    / "shared" / "corpus" / "labelled-news" / "bbc_news" / "bbc_news.csv"
)  # fmt: skip
_END = ""  # the successor that ends a sentence


class _WordChain:
    """Successor lists of a first-order word chain over the corpus sentences."""

    def __init__(self, sentences: list[list[str]]) -> None:
        self.starts = [words[0] for words in sentences]
        self.successors: dict[str, list[str]] = {}
        for words in sentences:
            for word, following in zip(words, [*words[1:], _END], strict=True):
                self.successors.setdefault(word, []).append(following)

    def sentence(self, rng: random.Random, limit: int = 40) -> list[str]:
        words = [rng.choice(self.starts)]
        while len(words) < limit:
            following = rng.choice(self.successors[words[-1]])
            if following == _END:
                break
            words.append(following)
        return words


@functools.cache
def _chain() -> _WordChain | None:
    """The chain trained on the BBC corpus, or None when the corpus is not beside the repo."""
    if not BBC_CSV.exists():
        return None
    csv.field_size_limit(10**8)
    sentences = []
    with BBC_CSV.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            for paragraph in row["text"].split("\n")[1:]:
                for sentence in _SENTENCE_END.split(paragraph.strip()):
                    words = sentence.split()
                    if 6 <= len(words) <= 60:
                        sentences.append(words)
    return _WordChain(sentences)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"])")


def _sentence(rng: random.Random) -> str:
    chain = _chain()
    if chain is None:
        return _vocabulary_sentence(rng)
    text = " ".join(chain.sentence(rng))
    return text if text.endswith((".", "!", "?", '"')) else text + "."


def _vocabulary_sentence(rng: random.Random) -> str:
    words: list[str] = [
        rng.choice(ACTORS).capitalize(),
        rng.choice(VERBS),
        rng.choice(OBJECTS),
        "in",
        rng.choice(PLACES),
        rng.choice(FILLER),
    ]
    for _ in range(rng.randint(3, 9)):
        words.append(rng.choice(NOUNS if rng.random() < 0.5 else FILLER))
    words.append(rng.choice(COUNTRIES))
    return " ".join(words) + "."


def _description(rng: random.Random) -> str:
    paragraphs = []
    for _ in range(rng.randint(2, 4)):
        text = " ".join(_sentence(rng) for _ in range(rng.randint(1, 2)))
        if rng.random() < 0.2:
            place = rng.choice(PLACES)
            text += f' <a href="https://maps.example/{place.lower().replace(" ", "-")}">{place}</a>'
        paragraphs.append(f"<p>{text}</p>")
    if rng.random() < 0.3:
        paragraphs.insert(0, f"<p><strong>{rng.choice(PLACES).upper()}</strong> —</p>")
    return "".join(paragraphs)


def _title(rng: random.Random) -> str:
    chain = _chain()
    if chain is not None:  # the opening words of a new sentence, as a headline
        words = chain.sentence(rng, limit=rng.randint(6, 11))
        title = " ".join(words).rstrip(".,;:!?\"'")
        return title[0].upper() + title[1:] if title else "News"
    place = rng.choice(PLACES)
    title = f"{place}: {rng.choice(ACTORS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}"
    if rng.random() < 0.5:
        title += f" as {rng.choice(NOUNS)} {rng.choice(('rise', 'fall', 'stall', 'surge'))}"
    return title[0].upper() + title[1:]


def _slug(text: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in text.lower()).split())[:60]


def render_feed(index: int, seed: int) -> bytes:
    """One RSS 2.0 document, a pure function of (index, seed)."""
    rng = random.Random(f"{seed}:{index}")
    host = f"news{index}.example"
    built = BASE_DATE - timedelta(minutes=rng.randint(0, 180))
    items = []
    count = rng.randint(20, 50)
    permalink_guids = rng.random() < 0.5
    published = built
    wires: set[int] = set()

    def pick_wire(rng: random.Random) -> str:
        wire = rng.randrange(WIRE_POOL)
        while wire in wires:  # a feed lists a wire story once
            wire = rng.randrange(WIRE_POOL)
        wires.add(wire)
        return f"story-{wire}"

    for number in range(count):
        published -= timedelta(minutes=rng.randint(2, 90))
        guid = f"{host}:{seed}:{number}" if not permalink_guids else None
        items.append(render_item(rng, host, number, published, guid=guid, pick_wire=pick_wire))
    region = rng.choice(PLACES)
    ttl = f"<ttl>{rng.choice((15, 30, 60))}</ttl>" if rng.random() < 0.2 else ""
    return render_document(index, host, region, built, ttl=ttl, items=items)


def render_item(
    rng: random.Random,
    host: str,
    number: int,
    published: datetime,
    *,
    guid: str | None,
    pick_wire: Callable[[random.Random], str],
) -> str:
    """One `<item>` (with its trailing newline) drawn from `rng`: a wire copy (its link
    `https://wire.example/<section>/<pick_wire(rng)>`, shared with other feeds) for a
    `WIRE_SHARE` of items, else a story of its own on `host`. `guid` is the
    non-permalink guid, or None for a permalink guid (the item's link)."""
    title = _title(rng)
    if rng.random() < WIRE_SHARE:
        story = pick_wire(rng)  # drawn before the section, as always
        link = f"https://wire.example/{rng.choice(SECTIONS)}/{story}"
    else:
        section = rng.choice(SECTIONS)
        link = f"https://{host}/{section}/{published:%Y/%m/%d}/{_slug(title)}-{number}"
        if rng.random() < 0.2:
            link += "?utm_source=rss&utm_medium=feed"
    guid_element = (
        f'<guid isPermaLink="true">{escape(link)}</guid>'
        if guid is None
        else f'<guid isPermaLink="false">{escape(guid)}</guid>'
    )
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    categories = "".join(
        f"<category>{escape(topic)}</category>" for topic in rng.sample(TOPICS, rng.randint(1, 3))
    )
    return (
        "<item>"
        f"<title>{escape(title)}</title>"
        f"<link>{escape(link)}</link>"
        f"{guid_element}"
        f"<pubDate>{format_datetime(published)}</pubDate>"
        f"<author>{first.lower()}.{last.lower()}@{host} ({first} {last})</author>"
        f"{categories}"
        f"<description>{escape(_description(rng))}</description>"
        "</item>\n"
    )


def render_document(
    index: int, host: str, region: str, built: datetime, *, ttl: str, items: Sequence[str]
) -> bytes:
    """The RSS 2.0 document around rendered items, newest first (`ttl`: a `<ttl>` element
    or "")."""
    document = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">\n<channel>\n'
        f"<title>{region} Daily News #{index}</title>\n"
        f"<link>https://{host}/</link>\n"
        f"<description>News from {region} and the region</description>\n"
        f'<atom:link href="https://{host}/rss.xml" rel="self" type="application/rss+xml"/>\n'
        "<language>en</language>\n"
        f"<lastBuildDate>{format_datetime(built)}</lastBuildDate>\n"
        f"{ttl}"
        f"{''.join(items)}"
        "</channel>\n</rss>\n"
    )
    return document.encode("utf-8")


@dataclass(frozen=True, slots=True)
class RenderedFeed:
    body: bytes
    gzipped: bytes
    etag: str
    last_modified: str
    modified_at: datetime
    entries: int


def _rendered(index: int, seed: int) -> RenderedFeed:
    body = render_feed(index, seed)
    modified = BASE_DATE - timedelta(minutes=index % 180)
    return RenderedFeed(
        body=body,
        gzipped=gzip.compress(body, compresslevel=6, mtime=0),
        etag='"' + hashlib.sha1(body).hexdigest()[:20] + '"',
        last_modified=format_datetime(modified, usegmt=True),
        modified_at=modified,
        entries=body.count(b"<item>"),
    )


class _Farm:
    def __init__(self, feeds: list[RenderedFeed], use_gzip: bool) -> None:
        self.feeds = feeds
        self.use_gzip = use_gzip
        self.statuses: dict[int, int] = {}
        self.bytes_sent = 0

    def _count(self, status: int, size: int = 0) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.bytes_sent += size

    async def feed(self, request: Any) -> Any:
        from aiohttp import web

        name = request.match_info["name"]
        try:
            feed = self.feeds[int(name)]
        except (ValueError, IndexError):
            self._count(404)
            return web.Response(status=404)
        validators = {"ETag": feed.etag, "Last-Modified": feed.last_modified}
        if _not_modified(request.headers, feed):
            self._count(304)
            return web.Response(status=304, headers=validators)
        headers = {**validators, "Content-Type": "application/rss+xml; charset=utf-8"}
        body = feed.body
        if self.use_gzip and "gzip" in request.headers.get("Accept-Encoding", ""):
            body = feed.gzipped
            headers["Content-Encoding"] = "gzip"
            headers["Vary"] = "Accept-Encoding"
        self._count(200, len(body))
        return web.Response(body=body, headers=headers)

    async def stats(self, request: Any) -> Any:
        from aiohttp import web

        return web.json_response(
            {
                "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
                "bytes_sent": self.bytes_sent,
                "cpu_s": time.process_time(),
            }
        )


def _not_modified(headers: Any, feed: RenderedFeed) -> bool:
    return not_modified(headers, feed.etag, feed.modified_at)


def not_modified(headers: Any, etag: str, modified_at: datetime) -> bool:
    """RFC 9110: If-None-Match wins when present; else If-Modified-Since."""
    if_none_match = headers.get("If-None-Match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return etag in tags or "*" in tags
    if_modified_since = headers.get("If-Modified-Since")
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return modified_at <= since
    return False


def pss_kib(pid: int) -> int:
    """A process's proportional set size in KiB (0 when unreadable)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def child_pids(pid: int) -> list[int]:
    """Direct children of a process, from /proc/<pid>/task/<tid>/children."""
    children: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return children
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as handle:
                children += [int(child) for child in handle.read().split()]
        except OSError:
            continue
    return children


async def _serve(farm: _Farm, sock: socket.socket) -> None:
    from aiohttp import web

    app = web.Application()
    app.router.add_get("/feeds/{name}.xml", farm.feed)
    app.router.add_get("/_stats", farm.stats)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.SockSite(runner, sock, backlog=1024)
    await site.start()
    await asyncio.Event().wait()  # until the parent terminates the process


def exit_with_parent(interval: float = 1.0) -> None:
    """Make this (child) process exit when its parent dies, even if the parent was killed
    before it could terminate its children."""
    import threading

    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def start_child(
    context: Any, target: Callable[..., None], args: tuple[Any, ...], name: str
) -> tuple[Any, dict[str, Any]]:
    """Start `target(conn, *args)` in a daemon process and wait for the dict it sends first
    (its port and figures); RuntimeError if it dies before."""
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=target, args=(child, *args), name=name, daemon=True)
    process.start()
    child.close()
    try:
        info: dict[str, Any] = parent.recv()
    except EOFError:
        process.join()
        raise RuntimeError(f"{name} process died (exit code {process.exitcode})") from None
    parent.close()
    return process, info


def loopback_listener() -> socket.socket:
    """A listening TCP socket on 127.0.0.1, on a free port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    return sock


def _server_main(conn: Connection, count: int, seed: int, use_gzip: bool) -> None:
    exit_with_parent()
    started = time.perf_counter()
    feeds = [_rendered(index, seed) for index in range(count)]
    render_s = time.perf_counter() - started
    sock = loopback_listener()
    conn.send(
        {
            "port": sock.getsockname()[1],
            "entries": sum(feed.entries for feed in feeds),
            "bytes": sum(len(feed.body) for feed in feeds),
            "gzip_bytes": sum(len(feed.gzipped) for feed in feeds),
            "render_s": render_s,
        }
    )
    conn.close()
    try:
        import uvloop  # type: ignore[import-not-found]

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_serve(_Farm(feeds, use_gzip), sock))


@dataclass(frozen=True, slots=True)
class RunningFarm:
    process: BaseProcess
    base_url: str
    entries: int
    body_bytes: int
    gzip_bytes: int
    render_s: float

    def url(self, index: int) -> str:
        return f"{self.base_url}/feeds/{index}.xml"

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(10)


def start_farm(count: int, seed: int, use_gzip: bool = True) -> RunningFarm:
    """Render `count` feeds in a new process and serve them; returns once it listens."""
    context = multiprocessing.get_context("spawn")
    process, info = start_child(context, _server_main, (count, seed, use_gzip), "feedfarm")
    return RunningFarm(
        process=process,
        base_url=f"http://127.0.0.1:{info['port']}",
        entries=info["entries"],
        body_bytes=info["bytes"],
        gzip_bytes=info["gzip_bytes"],
        render_s=info["render_s"],
    )


def fetch_stats(base_url: str) -> dict[str, Any]:
    """The server's counters: {"statuses": {"200": n, ...}, "bytes_sent": b, "cpu_s": s}."""
    with urllib.request.urlopen(f"{base_url}/_stats", timeout=10) as response:
        stats: dict[str, Any] = json.loads(response.read())
    return stats


def stats_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What the server did between two `fetch_stats` calls (the /_stats request excluded)."""
    statuses = {
        status: after["statuses"].get(status, 0) - before["statuses"].get(status, 0)
        for status in after["statuses"]
    }
    return {
        "statuses": {status: n for status, n in statuses.items() if n},
        "bytes_sent": after["bytes_sent"] - before["bytes_sent"],
        "cpu_s": after["cpu_s"] - before["cpu_s"],
    }
