"""Load and soak: the daemon's poll loop over hours of simulated time, 10% of sources hostile.

A farm process (`SoakFarm`) serves N sources on loopback: 90% normal news feeds (RSS 2.0 from
`_feedfarm`, ETag / Last-Modified / 304, gzip) that gain 1-3 new entries in about half of the
simulated intervals (`--update-share`), and 10% (`--bad-share`) misbehaving in a seeded mix of
the `MODES` below: slow (a delay or a drip past the fetch timeout), failing (500, 503, 404, 410,
429, flaky, connection reset), huge (a declared or streamed body over `max_bytes`, a gzip
bomb, a big valid feed), hostile (not XML, an entity bomb, an external entity, invalid bytes,
random bytes, a truncated document) and redirects (301, 302, an endless chain, an HTML page
to autodiscover). Alert deliveries go to the farm's `/_hook` (a webhook channel).

Time. The daemon under test runs in a child process of its own (so RSS and fds are its own
and its parser workers'). Its clock is a `SimClock`: it runs at real speed while the daemon
works and jumps over the idle time between two scheduler ticks. Each tick does what the
`Daemon`'s jobs do on their tick (`poll_tick(settings)`: 30 s by default): poll every due
source (`poll_due_sources` with a `ParserPool`, the daemon's parser, and a `Metrics`), publish
when stories changed (and on the first tick) and the daemon's publish share allows it (a
publish of d seconds, the next not before 4d later), deliver alerts, and apply retention hourly. So
the scheduler's own rules decide what is due (adaptive intervals, the per-source jitter,
backoff, Retry-After), as in the real daemon, where one call of `run_cycle` per interval would
find sources whose jittered next poll is a minute past the boundary not due, and poll them every
other interval. The farm is told the simulated interval at each boundary (`POST /_clock`) and
renders that interval's new entries then, between two ticks, outside the measured time.

A *cycle* is one polling interval (15 min) of simulated time. For each one it prints the real
time the daemon was busy in it (the sum of its ticks: would the work of 15 minutes fit in 15
minutes of real time?), the summed RSS (and PSS) of the daemon process and its descendants (the
fork server and the parser workers) at the end of the cycle and at their peak (sampled every
0.25 s), open file descriptors (the same processes, /proc/<pid>/fd), the WAL file's size at
the end and its peak (before checkpoints), the checkpoints seen (from the WAL index in the -shm
file: the backfill count advancing, or the log restarting), the database size, stories and
clusters stored, sources still overdue at the end of the cycle (backlog), and fetch outcomes
and errors by kind. The summary gives peak and final RSS, the growth after warm-up (the highest
end-of-cycle RSS after cycle `--warmup` against that cycle's; goal at most 10%), fd drift, the
WAL's peak against the autocheckpoint size, the cycles over their interval, every misbehaving
mode's outcomes, and the checks that bad sources harmed no normal one and leaked nothing.

Usage:  python benchmarks/soak.py [--sources 10000] [--cycles 24] [--quick] [--seed 1]
            [--interval 15m] [--tick 30s] [--warmup 3] [--bad-share 0.1] [--dir DIR]
`--quick`: 1,000 sources, 8 cycles (30 minutes on 2 busy cores). Only idle time is skipped, so a
run takes as long as the daemon is busy: 3,000 sources and 24 cycles took over two hours, and
10,000 sources would take most of the 6 simulated hours. Run it under `nice`.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import logging
import math
import multiprocessing
import os
import platform
import random
import re
import sqlite3
import statistics
import struct
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import format_datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from _feedfarm import (
    BASE_DATE,
    child_pids,
    exit_with_parent,
    loopback_listener,
    not_modified,
    pss_kib,
    render_feed,
    render_item,
    start_child,
)

GROWTH_GOAL = 0.10  # RSS growth after warm-up, at most
FD_DRIFT_GOAL = 2  # open fds after warm-up may differ by this much (a pipe, a log file)
WAL_BOUND_FACTOR = 2.0  # the WAL may pass the autocheckpoint size by a write group or so
T0 = BASE_DATE  # simulated start: the farm's feeds were built in the 3 hours before it

# mode: (category, weight within the misbehaving share, what the farm does)
MODES: dict[str, tuple[str, int, str]] = {
    "slow-delay": ("slow", 6, "answers only after the fetch timeout + 10 s"),
    "slow-drip": ("slow", 6, "headers at once, then 16 bytes a second for 3x the timeout"),
    "slow-ok": ("slow", 3, "the live feed after 2 s (slow, within the timeout)"),
    "http-500": ("failing", 5, "HTTP 500"),
    "http-503": ("failing", 4, "HTTP 503, Retry-After: 3600"),
    "http-404": ("failing", 4, "HTTP 404"),
    "http-410": ("failing", 3, "HTTP 410 Gone"),
    "http-429": ("failing", 2, "HTTP 429, Retry-After: 1800"),
    "flaky": ("failing", 5, "HTTP 500 on every other request, else the live feed"),
    "reset": ("failing", 2, "closes the connection without answering"),
    "huge-declared": ("huge", 4, "Content-Length 4x max_bytes, then streams"),
    "huge-stream": ("huge", 4, "a chunked RSS body without end (3x max_bytes)"),
    "gzip-bomb": ("huge", 4, "30 kB of gzip that inflates to 3x max_bytes"),
    "big-ok": ("huge", 2, "a valid 1,000-item feed (about 1 MB, under max_bytes)"),
    "not-xml": ("hostile", 5, "200 with an HTML page (no feed link), JSON or plain text"),
    "entity-bomb": ("hostile", 5, "billion laughs (nested entities, 10^10 bytes)"),
    "xxe": ("hostile", 3, "an external entity naming file:///etc/passwd"),
    "invalid-bytes": ("hostile", 5, "the live feed with invalid UTF-8 and control bytes"),
    "binary": ("hostile", 3, "32 kB of random bytes as application/rss+xml"),
    "truncated": ("hostile", 4, "the live feed cut off at 60%"),
    "redirect-301": ("redirect", 5, "301 to /moved/<i>.xml (the source should move)"),
    "redirect-302": ("redirect", 4, "302 to /moved/<i>.xml, every time"),
    "redirect-loop": ("redirect", 3, "an endless chain of 302s"),
    "autodiscovery": ("redirect", 2, "an HTML page whose <link rel=alternate> names the feed"),
    "no-validators": ("odd", 2, "the live feed without ETag or Last-Modified"),
}
NORMAL = "normal"
# Modes that serve no feed of their own (everything else serves the source's live feed).
STATIC_MODES = frozenset(
    {"http-500", "http-503", "http-404", "http-410", "http-429", "reset", "huge-declared",
     "huge-stream", "gzip-bomb", "big-ok", "not-xml", "entity-bomb", "xxe", "binary",
     "redirect-loop"}
)  # fmt: skip
RSS_TYPE = "application/rss+xml; charset=utf-8"
FOOTER = "</channel>\n</rss>\n"
_MB = 1024 * 1024


def assign_modes(count: int, seed: int, bad_share: float) -> list[str]:
    """Each source's mode: a seeded `bad_share` of the sources misbehave, spread over the
    index range, their modes in proportion to the weights (every mode at least once when
    there are enough bad sources)."""
    rng = random.Random(f"soak-modes:{seed}")
    bad = sorted(rng.sample(range(count), round(count * bad_share)))
    names = list(MODES)
    weights = [MODES[name][1] for name in names]
    picked = names[: len(bad)] if len(bad) >= len(names) else []
    picked += rng.choices(names, weights, k=len(bad) - len(picked))
    rng.shuffle(picked)
    modes = [NORMAL] * count
    for index, mode in zip(bad, picked, strict=True):
        modes[index] = mode
    return modes


def category(mode: str) -> str:
    return MODES[mode][0] if mode in MODES else NORMAL


# ---------------------------------------------------------------------------------------------
# The farm: live feeds that gain entries per simulated interval, and the misbehaving modes.


@dataclass(slots=True)
class LiveFeed:
    """One source's feed: `_feedfarm.render_feed`'s document, split into items so that new
    ones can be put on top (the oldest drop off the bottom, the length stays)."""

    index: int
    head: str  # the channel up to the first item
    items: list[str]
    permalink: bool
    number: int  # the next item's number
    etag: str
    modified_at: datetime
    gz: bytes = b""

    @classmethod
    def initial(cls, index: int, seed: int) -> LiveFeed:
        text = render_feed(index, seed).decode("utf-8")
        head, _, rest = text.partition("<item>")
        items = ["<item>" + item for item in rest.removesuffix(FOOTER).split("<item>")]
        feed = cls(
            index=index,
            head=head,
            items=items,
            permalink='isPermaLink="true"' in items[0],
            number=len(items),
            etag=f'"{index}-0"',
            modified_at=BASE_DATE - timedelta(minutes=index % 180),
        )
        feed.gz = gzip.compress(feed.body(), compresslevel=6, mtime=0)
        return feed

    def body(self) -> bytes:
        return (self.head + "".join(self.items) + FOOTER).encode("utf-8")

    def add_interval(
        self, seed: int, interval: int, *, start: datetime, length: timedelta, wires: int,
        share: float,
    ) -> int:  # fmt: skip
        """The entries of simulated interval `interval` (published in [start, start+length)),
        if this feed publishes in it; returns how many."""
        rng = random.Random(f"{seed}:{self.index}:interval:{interval}")
        if rng.random() >= share:
            return 0
        count = rng.randint(1, 3)
        offsets = sorted((rng.random() for _ in range(count)), reverse=True)
        host = f"news{self.index}.example"
        used: set[int] = set()

        def pick_wire(rng: random.Random) -> str:
            wire = rng.randrange(wires)
            while wire in used and len(used) < wires:
                wire = rng.randrange(wires)
            used.add(wire)
            return f"live-{interval}-{wire}"

        new = []
        for offset in offsets:  # newest first, as the document lists them
            published = start + length * offset
            guid = None if self.permalink else f"{host}:{seed}:{self.number}"
            new.append(
                render_item(rng, host, self.number, published, guid=guid, pick_wire=pick_wire)
            )
            self.number += 1
        self.items = new + self.items[: len(self.items) - count]
        built = start + length
        self.head = re.sub(
            r"<lastBuildDate>[^<]*</lastBuildDate>",
            f"<lastBuildDate>{format_datetime(built)}</lastBuildDate>",
            self.head,
        )
        self.etag = f'"{self.index}-{interval}"'
        self.modified_at = built
        self.gz = gzip.compress(self.body(), compresslevel=6, mtime=0)
        return count


@dataclass(frozen=True, slots=True)
class FarmSpec:
    count: int
    seed: int
    bad_share: float
    update_share: float
    interval_s: float
    timeout_s: float
    max_bytes: int


class SoakFarm:
    """The aiohttp handlers and counters of the farm process."""

    def __init__(self, spec: FarmSpec) -> None:
        self.spec = spec
        self.modes = assign_modes(spec.count, spec.seed, spec.bad_share)
        self.live = {
            index: LiveFeed.initial(index, spec.seed)
            for index, mode in enumerate(self.modes)
            if mode not in STATIC_MODES
        }
        self.interval = 0
        self.wires = max(20, spec.count // 30)
        self.requests: Counter[str] = Counter()  # by mode
        self.statuses: Counter[str] = Counter()
        self.bytes_sent = 0
        self.hooks = 0
        self._flaky_requests: Counter[int] = Counter()
        self._big: bytes | None = None
        self._bomb: bytes | None = None

    # -- control ---------------------------------------------------------------------------

    def advance(self, interval: int) -> dict[str, Any]:
        """Publish the new entries of every interval up to `interval`."""
        started = time.perf_counter()
        feeds = entries = 0
        length = timedelta(seconds=self.spec.interval_s)
        while self.interval < interval:
            self.interval += 1
            start = T0 + length * (self.interval - 1)
            for feed in self.live.values():
                added = feed.add_interval(
                    self.spec.seed, self.interval, start=start, length=length,
                    wires=self.wires, share=self.spec.update_share,
                )  # fmt: skip
                feeds += added > 0
                entries += added
        return {"feeds": feeds, "entries": entries, "render_s": time.perf_counter() - started}

    async def clock(self, request: Any) -> Any:
        from aiohttp import web

        body = await request.json()
        return web.json_response(self.advance(int(body["interval"])))

    async def stats(self, request: Any) -> Any:
        from aiohttp import web

        return web.json_response(
            {
                "statuses": dict(self.statuses),
                "requests": dict(self.requests),
                "bytes_sent": self.bytes_sent,
                "hooks": self.hooks,
                "cpu_s": time.process_time(),
                "fds": len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else -1,
                "rss_mb": _status_kib(os.getpid(), "VmRSS") / 1024,
            }
        )

    async def hook(self, request: Any) -> Any:
        from aiohttp import web

        await request.read()
        self.hooks += 1
        return web.Response(status=200, text="ok")

    # -- feeds -----------------------------------------------------------------------------

    def _count(self, status: int | str, size: int = 0) -> None:
        self.statuses[str(status)] += 1
        self.bytes_sent += size

    def _live_response(self, request: Any, feed: LiveFeed, validators: bool = True) -> Any:
        from aiohttp import web

        headers = {"Content-Type": RSS_TYPE}
        if validators:
            headers |= {"ETag": feed.etag, "Last-Modified": format_datetime(feed.modified_at, True)}
            if not_modified(request.headers, feed.etag, feed.modified_at):
                self._count(304)
                del headers["Content-Type"]
                return web.Response(status=304, headers=headers)
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            body = feed.gz
            headers |= {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
        else:
            body = feed.body()
        self._count(200, len(body))
        return web.Response(body=body, headers=headers)

    async def moved(self, request: Any) -> Any:
        from aiohttp import web

        feed = self.live.get(_index(request.match_info["name"]))
        if feed is None:
            self._count(404)
            return web.Response(status=404)
        self.requests["(moved)"] += 1
        return self._live_response(request, feed)

    async def loop(self, request: Any) -> Any:
        from aiohttp import web

        self._count(302)
        hop = int(request.match_info["hop"]) + 1
        location = f"/loop/{request.match_info['name']}/{hop}"
        return web.Response(status=302, headers={"Location": location})

    async def feed(self, request: Any) -> Any:
        from aiohttp import web

        index = _index(request.match_info["name"])
        if index < 0 or index >= len(self.modes):
            self._count(404)
            return web.Response(status=404)
        mode = self.modes[index]
        self.requests[mode] += 1
        handler = getattr(self, "_" + mode.replace("-", "_"))
        return await handler(request, index)

    async def _normal(self, request: Any, index: int) -> Any:
        return self._live_response(request, self.live[index])

    async def _slow_delay(self, request: Any, index: int) -> Any:
        await asyncio.sleep(self.spec.timeout_s + 10)
        return self._live_response(request, self.live[index])

    async def _slow_drip(self, request: Any, index: int) -> Any:
        from aiohttp import web

        response = web.StreamResponse(status=200, headers={"Content-Type": RSS_TYPE})
        await response.prepare(request)
        self._count("200-drip")
        body = self.live[index].body()
        deadline = time.monotonic() + 3 * self.spec.timeout_s
        try:
            for start in range(0, len(body), 16):
                if time.monotonic() > deadline:
                    break
                await response.write(body[start : start + 16])
                self.bytes_sent += 16
                await asyncio.sleep(1)
        except ConnectionError:
            pass  # the client gave up, as it should
        return response

    async def _slow_ok(self, request: Any, index: int) -> Any:
        await asyncio.sleep(min(2.0, self.spec.timeout_s / 4))
        return self._live_response(request, self.live[index])

    async def _status(self, status: int, headers: dict[str, str] | None = None) -> Any:
        from aiohttp import web

        self._count(status)
        return web.Response(status=status, headers=headers, text=f"error {status}\n")

    async def _http_500(self, request: Any, index: int) -> Any:
        return await self._status(500)

    async def _http_503(self, request: Any, index: int) -> Any:
        return await self._status(503, {"Retry-After": "3600"})

    async def _http_404(self, request: Any, index: int) -> Any:
        return await self._status(404)

    async def _http_410(self, request: Any, index: int) -> Any:
        return await self._status(410)

    async def _http_429(self, request: Any, index: int) -> Any:
        return await self._status(429, {"Retry-After": "1800"})

    async def _flaky(self, request: Any, index: int) -> Any:
        self._flaky_requests[index] += 1
        if self._flaky_requests[index] % 2 == 0:
            return await self._status(500)
        return self._live_response(request, self.live[index])

    async def _reset(self, request: Any, index: int) -> Any:
        from aiohttp import web

        self._count("reset")
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=500)  # never reaches the client

    async def _stream(
        self, request: Any, chunk: bytes, total: int, declared: int | None, head: bytes = b""
    ) -> Any:
        from aiohttp import web

        response = web.StreamResponse(status=200, headers={"Content-Type": RSS_TYPE})
        if declared is not None:
            response.content_length = declared
        await response.prepare(request)
        self._count("200-huge")
        sent = 0
        try:
            if head:
                await response.write(head)
                sent += len(head)
            while sent < total:
                await response.write(chunk)
                sent += len(chunk)
            await response.write_eof()
        except ConnectionError:
            pass  # refused or cut off by the client, as it should
        self.bytes_sent += sent
        return response

    def _item_chunk(self) -> bytes:
        item = (
            "<item><title>Filler</title><link>https://huge.example/x</link>"
            "<description>" + "All work and no play. " * 40 + "</description></item>\n"
        ).encode()
        return item * (_MB // len(item))

    async def _huge_declared(self, request: Any, index: int) -> Any:
        size = 4 * self.spec.max_bytes
        return await self._stream(request, self._item_chunk(), size, declared=size)

    async def _huge_stream(self, request: Any, index: int) -> Any:
        head = b'<?xml version="1.0"?><rss version="2.0"><channel><title>huge</title>'
        size = 3 * self.spec.max_bytes
        return await self._stream(request, self._item_chunk(), size, declared=None, head=head)

    async def _gzip_bomb(self, request: Any, index: int) -> Any:
        from aiohttp import web

        if self._bomb is None:
            inflated = b" " * (3 * self.spec.max_bytes)
            self._bomb = gzip.compress(
                b'<?xml version="1.0"?><rss version="2.0"><channel><title>bomb</title>'
                + inflated
                + FOOTER.encode(),
                compresslevel=9,
                mtime=0,
            )
        self._count("200-bomb", len(self._bomb))
        headers = {"Content-Type": RSS_TYPE, "Content-Encoding": "gzip"}
        return web.Response(body=self._bomb, headers=headers)

    async def _big_ok(self, request: Any, index: int) -> Any:
        from aiohttp import web

        if self._big is None:
            rng = random.Random(f"soak-big:{self.spec.seed}")
            host = "big.example"
            items = [
                render_item(
                    rng,
                    host,
                    number,
                    T0 - timedelta(minutes=5 * number),
                    guid=f"{host}:{number}",
                    pick_wire=lambda r: f"big-{r.randrange(10**6)}",
                )
                for number in range(1000)
            ]
            head = (
                '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
                "<title>Big Wire</title><link>https://big.example/</link>"
                "<description>Everything</description>\n"
            )
            self._big = (head + "".join(items) + FOOTER).encode()
        etag = f'"big-{self.spec.seed}"'
        if etag in request.headers.get("If-None-Match", ""):
            self._count(304)
            return web.Response(status=304, headers={"ETag": etag})
        self._count(200, len(self._big))
        return web.Response(body=self._big, headers={"Content-Type": RSS_TYPE, "ETag": etag})

    async def _not_xml(self, request: Any, index: int) -> Any:
        from aiohttp import web

        kind = index % 3
        self._count(200)
        if kind == 0:
            page = (
                "<!DOCTYPE html><html><head><title>Welcome</title></head><body>"
                "<h1>Our new website</h1><p>Find the news on our home page.</p></body></html>"
            )
            return web.Response(text=page, content_type="text/html")
        if kind == 1:
            return web.json_response({"error": "feed moved", "code": index})
        return web.Response(text="Service temporarily unavailable\n" * 20)

    async def _entity_bomb(self, request: Any, index: int) -> Any:
        from aiohttp import web

        entities = ['<!ENTITY a0 "ha!ha!ha!ha!ha!ha!ha!ha!ha!ha!">']
        for level in range(1, 10):
            entities.append(f'<!ENTITY a{level} "' + f"&a{level - 1};" * 10 + '">')
        document = (
            '<?xml version="1.0"?>\n<!DOCTYPE rss [\n' + "\n".join(entities) + "\n]>\n"
            '<rss version="2.0"><channel><title>&a9;</title><link>https://bomb.example/</link>'
            f"<item><title>&a9;</title><guid>bomb-{index}</guid>"
            "<description>&a9;</description></item>" + FOOTER
        )
        self._count(200, len(document))
        return web.Response(text=document, content_type="application/rss+xml")

    async def _xxe(self, request: Any, index: int) -> Any:
        from aiohttp import web

        document = (
            '<?xml version="1.0"?>\n'
            '<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
            '<rss version="2.0"><channel><title>Leak</title><link>https://xxe.example/</link>'
            f"<item><title>Leak &xxe;</title><link>https://xxe.example/{index}</link>"
            f"<guid>xxe-{index}</guid><description>&xxe;</description></item>" + FOOTER
        )
        self._count(200, len(document))
        return web.Response(text=document, content_type="application/rss+xml")

    async def _invalid_bytes(self, request: Any, index: int) -> Any:
        from aiohttp import web

        body = self.live[index].body()
        # Mangle every description: invalid UTF-8 (a lone continuation, an overlong form,
        # a surrogate), NUL and vertical tab, none of which XML allows.
        mangled = b"<description>\xff\xfe\x80\xc0\xaf\xed\xa0\x80\x00\x0b"
        body = body.replace(b"<description>", mangled)
        self._count(200, len(body))
        return web.Response(body=body, headers={"Content-Type": RSS_TYPE})

    async def _binary(self, request: Any, index: int) -> Any:
        from aiohttp import web

        body = random.Random(f"binary:{index}").randbytes(32 * 1024)
        self._count(200, len(body))
        return web.Response(body=body, headers={"Content-Type": RSS_TYPE})

    async def _truncated(self, request: Any, index: int) -> Any:
        from aiohttp import web

        body = self.live[index].body()
        body = body[: len(body) * 6 // 10]
        self._count(200, len(body))
        return web.Response(body=body, headers={"Content-Type": RSS_TYPE})

    async def _redirect(self, status: int, location: str) -> Any:
        from aiohttp import web

        self._count(status)
        return web.Response(status=status, headers={"Location": location})

    async def _redirect_301(self, request: Any, index: int) -> Any:
        return await self._redirect(301, f"/moved/{index}.xml")

    async def _redirect_302(self, request: Any, index: int) -> Any:
        return await self._redirect(302, f"/moved/{index}.xml")

    async def _redirect_loop(self, request: Any, index: int) -> Any:
        return await self._redirect(302, f"/loop/{index}/1")

    async def _autodiscovery(self, request: Any, index: int) -> Any:
        from aiohttp import web

        page = (
            "<!DOCTYPE html><html><head><title>News</title>"
            f'<link rel="alternate" type="application/rss+xml" href="/moved/{index}.xml">'
            "</head><body><p>Latest news</p></body></html>"
        )
        self._count(200, len(page))
        return web.Response(text=page, content_type="text/html")

    async def _no_validators(self, request: Any, index: int) -> Any:
        return self._live_response(request, self.live[index], validators=False)


def _index(name: str) -> int:
    try:
        return int(name)
    except ValueError:
        return -1


async def _serve_farm(farm: SoakFarm, sock: Any) -> None:
    from aiohttp import web

    app = web.Application(client_max_size=16 * _MB)
    app.router.add_get("/feeds/{name}.xml", farm.feed)
    app.router.add_get("/moved/{name}.xml", farm.moved)
    app.router.add_get("/loop/{name}/{hop}", farm.loop)
    app.router.add_post("/_clock", farm.clock)
    app.router.add_post("/_hook", farm.hook)
    app.router.add_get("/_stats", farm.stats)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.SockSite(runner, sock, backlog=1024).start()
    await asyncio.Event().wait()  # until the parent terminates the process


def _farm_main(conn: Connection, spec: FarmSpec) -> None:

    exit_with_parent()
    # A client that gives up mid-response is what this farm is for: no tracebacks for it.
    logging.getLogger("aiohttp").setLevel(logging.CRITICAL)
    started = time.perf_counter()
    farm = SoakFarm(spec)
    render_s = time.perf_counter() - started
    sock = loopback_listener()
    conn.send(
        {
            "port": sock.getsockname()[1],
            "render_s": render_s,
            "live": len(farm.live),
            "entries": sum(len(feed.items) for feed in farm.live.values()),
        }
    )
    conn.close()
    asyncio.run(_serve_farm(farm, sock))


def _post_json(url: str, payload: dict[str, Any], timeout: float = 600) -> dict[str, Any]:
    request = urllib.request.Request(
        url, json.dumps(payload).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        result: dict[str, Any] = json.loads(response.read())
    return result


def _get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=60) as response:
        result: dict[str, Any] = json.loads(response.read())
    return result


# ---------------------------------------------------------------------------------------------
# Measuring the daemon's process tree.

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _status_kib(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants."""
    tree, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        tree.append(pid)
        frontier += child_pids(pid)
    return tree


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process, from /proc/<pid>/stat."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK


def _fd_count(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def wal_index(db_path: Path) -> tuple[int, int] | None:
    """(mxFrame, nBackfill) from the WAL index header in the -shm file: the frames in the log
    and how many of them a checkpoint has copied into the database. Native byte order; the
    first copy of the header, then the checkpoint info at byte 96 (SQLite's wal.c)."""
    try:
        with open(str(db_path) + "-shm", "rb") as handle:
            header = handle.read(100)
    except OSError:
        return None
    if len(header) < 100:
        return None
    (mx_frame,) = struct.unpack_from("=I", header, 16)
    (backfill,) = struct.unpack_from("=I", header, 96)
    return mx_frame, backfill


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


@dataclass
class Sample:
    rss_mb: float
    pss_mb: float
    fds: int
    wal_bytes: int
    processes: int


class TreeMeter:
    """Samples the daemon's process tree and WAL every `period` seconds in a thread, keeping
    per-cycle peaks and the checkpoints seen; `snapshot` takes an exact sample between ticks."""

    def __init__(self, db_path: Path, period: float = 0.25) -> None:
        self.db_path = db_path
        self.wal_path = Path(str(db_path) + "-wal")
        self.period = period
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-meter", daemon=True)
        self._count = 0
        self._last_index: tuple[int, int] | None = None
        self._last_wal = 0
        self._cpu: dict[int, float] = {}  # CPU seconds of each process of the tree, last seen
        self.reset()

    def cpu_s(self) -> float:
        """CPU seconds of the tree so far (processes that ended count as last sampled)."""
        with self.lock:
            self.sample(with_pss=False)
            return sum(self._cpu.values())

    def reset(self) -> None:
        self.peak_rss_mb = self.peak_pss_mb = 0.0
        self.peak_fds = self.peak_wal = 0
        self.checkpoints = self.truncations = 0

    def sample(self, with_pss: bool = True) -> Sample:
        tree = process_tree(os.getpid())
        for pid in tree:
            if (cpu := _cpu_s(pid)) is not None:
                self._cpu[pid] = cpu
        rss = sum(_status_kib(pid, "VmRSS") for pid in tree) / 1024
        pss = sum(pss_kib(pid) for pid in tree) / 1024 if with_pss else 0.0
        fds = sum(_fd_count(pid) for pid in tree)
        return Sample(rss, pss, fds, _size(self.wal_path), len(tree))

    def observe(self, sample: Sample) -> None:
        self.peak_rss_mb = max(self.peak_rss_mb, sample.rss_mb)
        self.peak_pss_mb = max(self.peak_pss_mb, sample.pss_mb)
        self.peak_fds = max(self.peak_fds, sample.fds)
        self.peak_wal = max(self.peak_wal, sample.wal_bytes)
        if sample.wal_bytes < self._last_wal:  # SQLite shrinks the log only to truncate it
            self.truncations += 1
        self._last_wal = sample.wal_bytes
        index = wal_index(self.db_path)
        if index is not None and self._last_index is not None:
            (frames, backfill), (last_frames, last_backfill) = index, self._last_index
            if backfill > last_backfill or frames < last_frames:
                self.checkpoints += 1
        self._last_index = index

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self._count += 1
            with self.lock:
                self.observe(self.sample(with_pss=self._count % 4 == 0))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def snapshot(self) -> Sample:
        with self.lock:
            sample = self.sample()
            self.observe(sample)
            return sample


# ---------------------------------------------------------------------------------------------
# The daemon under test, in a child process.


class SimClock:
    """Simulated UTC time: frozen between ticks, running at real speed during one."""

    def __init__(self, start: datetime) -> None:
        self._at = start
        self._since: float | None = None

    def __call__(self) -> datetime:
        if self._since is None:
            return self._at
        return self._at + timedelta(seconds=time.monotonic() - self._since)

    def run(self) -> None:
        if self._since is None:
            self._since = time.monotonic()

    def freeze(self) -> None:
        self._at = self()
        self._since = None

    def jump_to(self, moment: datetime) -> None:
        """Skip idle time (frozen clocks only); never goes back."""
        self._at = max(self._at, moment)


@dataclass(frozen=True, slots=True)
class SoakRun:
    base_url: str
    count: int
    cycles: int
    interval_s: float
    tick_s: float | None  # None: the daemon's own tick for the config
    warmup: int
    seed: int
    bad_share: float
    concurrency: int
    timeout_s: int
    max_bytes: int
    alerts: int
    directory: str | None


@dataclass
class Cycle:
    """The figures of one simulated interval."""

    number: int
    ticks: int = 0
    busy_s: float = 0.0
    max_tick_s: float = 0.0
    phase_s: Counter[str] = field(default_factory=Counter)
    publishes: int = 0
    files_written: int = 0
    max_publish_s: float = 0.0
    cpu_s: float = 0.0  # user + system CPU of the daemon's process tree in the cycle
    outcomes: Counter[str] = field(default_factory=Counter)
    fetches: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    normal_errors: Counter[str] = field(default_factory=Counter)  # of the well-behaved sources
    new_stories: int = 0
    updated_stories: int = 0
    end: Sample | None = None
    peak_rss_mb: float = 0.0
    peak_pss_mb: float = 0.0
    peak_fds: int = 0
    peak_wal: int = 0
    checkpoints: int = 0
    truncations: int = 0
    db_bytes: int = 0
    stories: int = 0
    clusters: int = 0
    backlog: int = 0
    disabled: int = 0
    load: float = 0.0
    farm: dict[str, Any] = field(default_factory=dict)
    farm_render_s: float = 0.0
    absorbed_by: int | None = None  # no tick started here: an earlier cycle's tick ran over

    def within(self, interval_s: float) -> bool:
        return self.busy_s <= interval_s


_HTTP = re.compile(r"HTTP (\d{3})")
_KINDS = (
    ("timed out", "timeout"),
    ("max_bytes", "limit"),
    ("redirects", "redirect-loop"),
    ("not a feed", "not-a-feed"),
    ("parser process died", "parser-died"),
    ("cannot connect", "network"),
    ("broken response body", "broken-body"),
    ("refused", "refused"),
)


def error_kind(message: str) -> str:
    """A recorded source error's kind, from its message."""
    for needle, kind in _KINDS:
        if needle in message:
            return kind
    if match := _HTTP.search(message):
        return f"http {match.group(1)}"
    if "ServerDisconnected" in message or "Connection" in message:
        return "network"
    return "parse"


_SOURCE_INDEX = re.compile(r"/(?:feeds|moved)/(\d+)\.xml$")


def soak_config(run: SoakRun, tmp: Path) -> str:
    """The TOML text: `count` farm sources, a few sections, `alerts` rules to a webhook."""
    from _feedfarm import COUNTRIES

    interval = f"{int(run.interval_s)}s"
    lines = [
        "[storage]",
        f"path = {json.dumps(str(tmp / 'syndicator.db'))}",
        "[publish]",
        f"output_dir = {json.dumps(str(tmp / 'feeds'))}",
        'base_url = "http://localhost:8080/"',
        "[polling]",
        f'interval = "{interval}"',
        f'timeout = "{run.timeout_s}s"',
        f"max_bytes = {run.max_bytes}",
        f"concurrency = {run.concurrency}",
        # Every farm source is on one loopback host; real sources are spread over many hosts,
        # so the per-host politeness limit must not throttle the run to one host's share.
        f"per_host_concurrency = {run.concurrency}",
        "allow_private_addresses = true",
        "[channels.hook]",
        'type = "webhook"',
        f'url = "{run.base_url}/_hook"',
        'secret = "whsec_c29hay1iZW5jaG1hcmstc2VjcmV0LWtleQ=="',
    ]
    sections = [
        ("central-asia", '["KZ", "KG", "TJ", "TM", "UZ"]', "[]"),
        ("europe", '["Europe"]', "[]"),
        ("africa", '["Africa"]', "[]"),
        ("economy", "[]", '["economy"]'),
        ("conflict", "[]", '["conflict"]'),
    ]
    for slug, regions, topics in sections:
        lines += ["[[sections]]", f'slug = "{slug}"', f"regions = {regions}", f"topics = {topics}"]
    words = ("protest*", "election*", "oil", "prices", "talks", "court", "minister*")
    for number in range(run.alerts):
        country = COUNTRIES[number % len(COUNTRIES)].lower()
        query = country if number % 2 == 0 else f"{country} AND {words[number % len(words)]}"
        lines += [
            "[[alerts]]",
            f'name = "alert-{number}"',
            f"query = {json.dumps(query)}",
            'channels = ["hook"]',
        ]
    for index in range(run.count):
        lines += ["[[sources]]", f"url = {json.dumps(f'{run.base_url}/feeds/{index}.xml')}"]
    return "\n".join(lines) + "\n"


class CountingMetrics:
    """Wraps the daemon's `Metrics`: counts each fetch outcome label as it is recorded."""

    def __new__(cls) -> Any:
        from syndicator.metrics import Metrics

        class _Counting(Metrics):
            def __init__(self) -> None:
                super().__init__()
                self.fetch_labels: Counter[str] = Counter()

            def record_fetch(self, status: str, seconds: float) -> None:
                super().record_fetch(status, seconds)
                self.fetch_labels[status] += 1

        return _Counting()


def _db_figures(db_path: Path, now: datetime) -> tuple[int, int, int, int]:
    """(stories, clusters, overdue sources, disabled sources), on a short-lived read-only
    connection between ticks (it holds no snapshot while the daemon writes)."""
    from syndicator.storage import format_time

    connection = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        stories = connection.execute("SELECT count(*) FROM stories").fetchone()[0]
        clusters = connection.execute("SELECT count(*) FROM clusters").fetchone()[0]
        backlog = connection.execute(
            "SELECT count(*) FROM sources WHERE enabled = 1 AND configured = 1 "
            "AND disabled_reason IS NULL AND (next_poll_at IS NULL OR next_poll_at <= ?)",
            (format_time(now),),
        ).fetchone()[0]
        disabled = connection.execute(
            "SELECT count(*) FROM sources WHERE disabled_reason IS NOT NULL"
        ).fetchone()[0]
    finally:
        connection.close()
    return stories, clusters, backlog, disabled


def _leaked_passwd(db_path: Path) -> int:
    connection = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return int(
            connection.execute(
                "SELECT count(*) FROM stories WHERE title LIKE '%root:x:0%' "
                "OR text LIKE '%root:x:0%' OR summary LIKE '%root:x:0%' "
                "OR content_html LIKE '%root:x:0%'"
            ).fetchone()[0]
        )
    finally:
        connection.close()


def _soak_child(run: SoakRun) -> None:
    import faulthandler

    faulthandler.enable()  # a crash in C code still says where
    exit_with_parent()
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    if run.directory:
        tmp = Path(run.directory)
        tmp.mkdir(parents=True, exist_ok=True)
        asyncio.run(_soak(run, tmp))
        return
    with tempfile.TemporaryDirectory(prefix="soak-syndicator-") as tmp_name:
        asyncio.run(_soak(run, Path(tmp_name)))


async def _soak(run: SoakRun, tmp: Path) -> None:
    from syndicator.config import parse_settings

    settings = parse_settings(soak_config(run, tmp), tmp / "soak.toml", {})
    soak = Soak(run, settings)
    try:
        await soak.run()
    finally:
        soak.close()
    print_summary(run, soak.result())


class Soak:
    """The daemon's periodic jobs on a simulated clock, measured cycle by cycle."""

    def __init__(self, run: SoakRun, settings: Any) -> None:
        from syndicator.alerts import alert_index
        from syndicator.daemon import poll_tick
        from syndicator.pipeline import (
            ParserPool,
            cluster_rules,
            configured_sources,
            plan_from_settings,
        )
        from syndicator.storage import open_store

        self.run_spec = run
        self.settings = settings
        self.interval = timedelta(seconds=run.interval_s)
        self.tick = timedelta(seconds=run.tick_s) if run.tick_s else poll_tick(settings)
        self.modes = assign_modes(run.count, run.seed, run.bad_share)
        self.clock = SimClock(T0)
        self.db_path: Path = settings.storage.path
        self.store = open_store(self.db_path, cluster_rules(settings))
        self.store.alerts = alert_index(settings)
        self.store.sync_sources(configured_sources(settings.sources), self.clock())
        self.page_size = int(self.store.db.execute("PRAGMA page_size").fetchone()[0])
        self.plan = plan_from_settings(settings)
        self.pool = ParserPool()
        self.metrics = CountingMetrics()
        self.meter = TreeMeter(self.db_path)
        self.by_mode: dict[str, Counter[str]] = {}
        self.cycles: list[Cycle] = []
        self.next_retention = T0
        self.needs_publish = True
        self.next_publish_at = T0
        self.farm_before = _get_json(f"{run.base_url}/_stats")
        self.cpu_before = 0.0

    async def run(self) -> None:
        """Tick until the simulated end: each tick on the scheduler's grid (missed ticks
        coalesce into one, as APScheduler does for the daemon), idle time skipped."""
        print_header(self.run_spec, self.tick, self.modes)
        self.meter.start()
        self.cpu_before = self.meter.cpu_s()
        end = T0 + self.interval * self.run_spec.cycles
        cycle = Cycle(1)
        next_tick = T0
        while True:
            self.clock.jump_to(next_tick)
            now = self.clock()
            if now >= end:
                break
            number = int((now - T0) / self.interval) + 1
            while number > cycle.number:  # into the next interval: close this cycle
                self._close_cycle(cycle)
                cycle = self._next_cycle(cycle, number)
            if cycle.ticks == 0:
                cycle.absorbed_by = None
            await self._tick(cycle)
            steps = math.floor((self.clock() - T0) / self.tick) + 1
            next_tick = T0 + self.tick * steps
        self._close_cycle(cycle)

    def _next_cycle(self, previous: Cycle, number: int) -> Cycle:
        cycle = Cycle(previous.number + 1)
        if previous.ticks == 0 and previous.absorbed_by is not None:
            cycle.absorbed_by = previous.absorbed_by
        elif number > cycle.number:
            cycle.absorbed_by = previous.number
        # The farm publishes the entries of the interval that just began (untimed).
        farm = _post_json(f"{self.run_spec.base_url}/_clock", {"interval": cycle.number - 1})
        cycle.farm_render_s = farm["render_s"]
        return cycle

    async def _tick(self, cycle: Cycle) -> None:
        """What the daemon's jobs do on one tick: poll what is due, publish when stories
        changed (`Daemon._poll_due`), deliver alerts, and retention when an hour has passed."""
        from syndicator.alerts import deliver
        from syndicator.daemon import (
            PUBLISH_SHARE,
            RETENTION_EVERY,
            apply_retention,
            publish_and_notify,
        )
        from syndicator.pipeline import poll_due_sources

        clock, store, settings = self.clock, self.store, self.settings
        clock.run()
        started = time.perf_counter()
        outcomes = await poll_due_sources(
            store, self.plan, clock, None, self.pool, metrics=self.metrics
        )
        polled = time.perf_counter()
        if any(o.new_stories or o.updated_stories for o in outcomes):
            self.needs_publish = True
        # As `Daemon._publish`: after a publish of d seconds the next waits (1/share - 1) * d,
        # on the daemon's clock (here the simulated one, which skips the idle time).
        if self.needs_publish and clock() >= self.next_publish_at:
            self.needs_publish = False
            written = await publish_and_notify(store, settings, clock())
            took = time.perf_counter() - polled
            if cycle.number > 1 or cycle.publishes:  # as the daemon: no wait after the first
                self.next_publish_at = clock() + timedelta(seconds=took * (1 / PUBLISH_SHARE - 1))
            cycle.publishes += 1
            cycle.files_written += len(written)
        published = time.perf_counter()
        await deliver(store, settings, clock(), self.metrics)
        delivered = time.perf_counter()
        if clock() >= self.next_retention:
            apply_retention(store, settings, clock())
            self.next_retention = clock() + RETENTION_EVERY
        finished = time.perf_counter()
        clock.freeze()
        cycle.ticks += 1
        cycle.busy_s += finished - started
        cycle.max_tick_s = max(cycle.max_tick_s, finished - started)
        cycle.max_publish_s = max(cycle.max_publish_s, published - polled)
        cycle.phase_s.update(
            poll=polled - started,
            publish=published - polled,
            deliver=delivered - published,
            retention=finished - delivered,
        )
        self._record(cycle, outcomes)

    def _record(self, cycle: Cycle, outcomes: Sequence[Any]) -> None:
        for outcome in outcomes:
            cycle.outcomes[outcome.status] += 1
            cycle.new_stories += outcome.new_stories
            cycle.updated_stories += outcome.updated_stories
            match = _SOURCE_INDEX.search(outcome.source_url)
            mode = self.modes[int(match.group(1))] if match else "?"
            kind = error_kind(outcome.error) if outcome.error else outcome.status
            if outcome.error:
                cycle.errors[kind] += 1
                if mode == NORMAL:
                    cycle.normal_errors[kind] += 1
            self.by_mode.setdefault(mode, Counter())[kind] += 1

    def _close_cycle(self, cycle: Cycle) -> None:
        meter = self.meter
        with meter.lock:
            cycle.end = meter.sample()
            meter.observe(cycle.end)
            cycle.peak_rss_mb, cycle.peak_pss_mb = meter.peak_rss_mb, meter.peak_pss_mb
            cycle.peak_fds, cycle.peak_wal = meter.peak_fds, meter.peak_wal
            cycle.checkpoints, cycle.truncations = meter.checkpoints, meter.truncations
            meter.reset()
        cpu = meter.cpu_s()
        cycle.cpu_s, self.cpu_before = cpu - self.cpu_before, cpu
        cycle.fetches = Counter(self.metrics.fetch_labels)
        self.metrics.fetch_labels.clear()
        cycle.db_bytes = _size(self.db_path)
        figures = _db_figures(self.db_path, self.clock())
        cycle.stories, cycle.clusters, cycle.backlog, cycle.disabled = figures
        cycle.load = os.getloadavg()[0]
        farm_now = _get_json(f"{self.run_spec.base_url}/_stats")
        cycle.farm = _farm_delta(self.farm_before, farm_now)
        self.farm_before = farm_now
        self.cycles.append(cycle)
        print_cycle(cycle, self.run_spec.interval_s)

    def close(self) -> None:
        self.meter.stop()
        self.pool.close()
        self.store.close()

    def result(self) -> SoakResult:
        from syndicator.storage import WAL_CHECKPOINT_PAGES

        return SoakResult(
            cycles=self.cycles,
            by_mode=self.by_mode,
            modes=self.modes,
            leaked=_leaked_passwd(self.db_path),
            autocheckpoint_bytes=WAL_CHECKPOINT_PAGES * self.page_size,
            page_size=self.page_size,
            tick=self.tick,
        )


def _farm_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    def delta(key: str) -> dict[str, int]:
        return {
            name: after[key].get(name, 0) - before[key].get(name, 0)
            for name in after[key]
            if after[key].get(name, 0) - before[key].get(name, 0)
        }

    return {
        "statuses": delta("statuses"),
        "requests": delta("requests"),
        "hooks": after["hooks"] - before["hooks"],
        "cpu_s": after["cpu_s"] - before["cpu_s"],
        "fds": after["fds"],
        "rss_mb": after["rss_mb"],
    }


# ---------------------------------------------------------------------------------------------
# Reporting.


def _counts(counter: Counter[str] | dict[str, int], limit: int = 12) -> str:
    items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return " ".join(f"{name}:{n}" for name, n in items) or "-"


def _hms(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def print_header(run: SoakRun, tick: timedelta, modes: Sequence[str]) -> None:
    bad = Counter(category(mode) for mode in modes if mode != NORMAL)
    hours = run.cycles * run.interval_s / 3600
    print(
        f"daemon: {run.count:,} sources ({sum(bad.values()):,} misbehaving: "
        + ", ".join(f"{name} {n}" for name, n in sorted(bad.items()))
        + f"), {run.cycles} cycles of {run.interval_s / 60:g} min = {hours:g} h simulated, "
        f"scheduler tick {tick.total_seconds():g}s, polling.timeout {run.timeout_s}s, "
        f"max_bytes {run.max_bytes:,}, concurrency {run.concurrency}, {run.alerts} alert rules "
        f"to a webhook, 5 sections",
        flush=True,
    )
    print(
        "busy s: real seconds the daemon's jobs ran in the cycle (the sum of its ticks, waits "
        "on slow sources included); within: busy <= interval; CPU s: CPU of the daemon's "
        "process tree.\nRSS/PSS MB: daemon + fork server + parser workers, at the end of the "
        "cycle / peak in it. fds: open descriptors of the same processes, end / peak.\nWAL MB: "
        "end / peak in the cycle; ckpt: checkpoints seen (sampled) / T: truncations seen. "
        "backlog: sources overdue at the end; off: sources disabled.",
        flush=True,
    )
    print(
        f"{'cyc':>3} {'sim':>5} {'ticks':>5} {'polled':>6} {'new':>6} {'busy s':>7} "
        f"{'max tick':>8} {'within':>6} {'CPU s':>6} {'RSS MB':>13} {'PSS MB':>13} {'fds':>9} "
        f"{'WAL MB':>11} {'ckpt':>6} {'DB MB':>7} {'stories':>8} {'clusters':>8} "
        f"{'backlog':>7} {'off':>4} {'load':>5}",
        flush=True,
    )


def print_cycle(cycle: Cycle, interval_s: float) -> None:
    end = cycle.end
    assert end is not None
    sim = _hms(timedelta(seconds=(cycle.number - 1) * interval_s))
    if cycle.ticks:
        within = "yes" if cycle.within(interval_s) else "NO"
        busy = f"{cycle.busy_s:7.1f} {cycle.max_tick_s:8.1f} {within:>6}"
    else:
        busy = f"{'-':>7} {'-':>8} {'(c' + str(cycle.absorbed_by) + ')':>6}"
    busy += f" {cycle.cpu_s:6.1f}"
    polled = sum(cycle.outcomes.values())
    print(
        f"{cycle.number:>3} {sim:>5} {cycle.ticks:>5} {polled:>6} {cycle.new_stories:>6} {busy} "
        f"{end.rss_mb:6.0f}/{cycle.peak_rss_mb:<6.0f} {end.pss_mb:6.0f}/{cycle.peak_pss_mb:<6.0f} "
        f"{end.fds:4d}/{cycle.peak_fds:<4d} "
        f"{end.wal_bytes / _MB:5.1f}/{cycle.peak_wal / _MB:<5.1f} "
        f"{cycle.checkpoints:>3}/{cycle.truncations}T {cycle.db_bytes / _MB:7.1f} "
        f"{cycle.stories:>8} {cycle.clusters:>8} {cycle.backlog:>7} {cycle.disabled:>4} "
        f"{cycle.load:5.2f}",
        flush=True,
    )
    phases = " ".join(f"{name} {seconds:.1f}s" for name, seconds in cycle.phase_s.items())
    if cycle.publishes:
        phases += (
            f" ({cycle.publishes} publishes, longest {cycle.max_publish_s:.1f}s, "
            f"{cycle.files_written} files written)"
        )
    print(
        f"      fetches {_counts(cycle.fetches)} | outcomes {_counts(cycle.outcomes)}"
        f" | updated {cycle.updated_stories}",
        flush=True,
    )
    normal = f" (normal sources: {_counts(cycle.normal_errors)})" if cycle.normal_errors else ""
    print(
        f"      errors {_counts(cycle.errors)}{normal} | time {phases or '-'} | farm "
        f"{_counts(cycle.farm.get('statuses', {}))} hooks {cycle.farm.get('hooks', 0)}, "
        f"new entries rendered in {cycle.farm_render_s:.1f}s (untimed)",
        flush=True,
    )


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


@dataclass(frozen=True, slots=True)
class SoakResult:
    """Everything the summary reads."""

    cycles: Sequence[Cycle]
    by_mode: dict[str, Counter[str]]  # mode -> error kind or outcome -> polls
    modes: Sequence[str]
    leaked: int  # stories holding /etc/passwd text
    autocheckpoint_bytes: int
    page_size: int
    tick: timedelta

    @property
    def ends(self) -> list[Sample]:
        return [cycle.end for cycle in self.cycles if cycle.end is not None]


def print_summary(run: SoakRun, result: SoakResult) -> None:
    cycles = result.cycles
    print()
    hours = len(cycles) * run.interval_s / 3600
    print(
        f"summary: {run.count:,} sources, {len(cycles)} cycles of {run.interval_s / 60:g} min "
        f"({hours:g} h simulated, tick {result.tick.total_seconds():g}s), warm-up "
        f"{run.warmup} cycles"
    )
    _print_timing(run, cycles)
    _print_memory(run, result)
    _print_wal(run, result)
    last = cycles[-1]
    print(
        f"  database {last.db_bytes / _MB:.1f} MB, {last.stories:,} stories in "
        f"{last.clusters:,} clusters, {last.disabled} sources disabled; alerts delivered to the "
        f"hook: {sum(c.farm.get('hooks', 0) for c in cycles)}; farm process at the end: "
        f"{last.farm.get('rss_mb', 0):.0f} MB, {last.farm.get('fds', 0)} fds"
    )
    _print_modes(result)


def _print_timing(run: SoakRun, cycles: Sequence[Cycle]) -> None:
    worked = [cycle for cycle in cycles if cycle.ticks]
    over = [cycle for cycle in worked if not cycle.within(run.interval_s)]
    absorbed = [cycle for cycle in cycles if not cycle.ticks]
    listed = ", ".join(f"cycle {c.number} {c.busy_s:.0f}s" for c in over)
    print(
        f"  cycles within the interval: {len(worked) - len(over)}/{len(worked)} with ticks"
        + (f" (over: {listed})" if over else "")
        + f"; {len(absorbed)} cycle(s) without a tick of their own (an earlier tick ran on)"
    )
    steady = [cycle for cycle in worked if cycle.number > run.warmup]
    if steady:
        busiest = max(steady, key=lambda c: c.busy_s)
        mean = sum(c.busy_s for c in steady) / len(steady)
        print(
            f"  after warm-up: busy {mean:.1f}s per cycle on average, at most "
            f"{busiest.busy_s:.1f}s (cycle {busiest.number}) = "
            f"{100 * busiest.busy_s / run.interval_s:.1f}% of the interval; longest tick "
            f"{max(c.max_tick_s for c in steady):.1f}s; backlog at cycle ends at most "
            f"{max(c.backlog for c in steady)}"
        )


def _print_memory(run: SoakRun, result: SoakResult) -> None:
    cycles, ends = result.cycles, result.ends
    peak = max(cycles, key=lambda c: c.peak_rss_mb)
    print(
        f"  RSS (daemon + fork server + parser workers): peak {peak.peak_rss_mb:.1f} MB "
        f"(cycle {peak.number}), final {ends[-1].rss_mb:.1f} MB; PSS peak "
        f"{max(c.peak_pss_mb for c in cycles):.1f} MB, final {ends[-1].pss_mb:.1f} MB"
    )
    if not len(ends) > run.warmup >= 1:
        print(f"  growth after warm-up: not measured ({len(ends)} cycles, warm-up {run.warmup})")
        return
    base, after = ends[run.warmup - 1], ends[run.warmup :]
    top = max(after, key=lambda s: s.rss_mb)
    growth = top.rss_mb / base.rss_mb - 1
    final_growth = ends[-1].rss_mb / base.rss_mb - 1
    pss_growth = max(s.pss_mb for s in after) / base.pss_mb - 1 if base.pss_mb else 0.0
    print(
        f"  memory growth after warm-up: end of cycle {run.warmup} {base.rss_mb:.1f} MB -> "
        f"highest end of cycles {run.warmup + 1}..{len(ends)} {top.rss_mb:.1f} MB "
        f"({100 * growth:+.1f}%), final {100 * final_growth:+.1f}%; PSS "
        f"{100 * pss_growth:+.1f}%   goal <= {100 * GROWTH_GOAL:g}%: "
        f"{_verdict(growth <= GROWTH_GOAL)}"
    )
    fds = [s.fds for s in after]
    drift = ends[-1].fds - base.fds
    stable = abs(drift) <= FD_DRIFT_GOAL and max(fds) - base.fds <= FD_DRIFT_GOAL
    print(
        f"  open fds at cycle ends: {' '.join(str(s.fds) for s in ends)}; after warm-up "
        f"{min(fds)}..{max(fds)}, drift {drift:+d} (in-cycle peak "
        f"{max(c.peak_fds for c in cycles)})   stable (within {FD_DRIFT_GOAL} of the warm-up "
        f"end): {_verdict(stable)}"
    )


def _print_wal(run: SoakRun, result: SoakResult) -> None:
    """The WAL's peak can pass the autocheckpoint size by one write transaction (SQLite
    checkpoints between transactions), largest in the cold cycle; bounded means that after
    warm-up it stays under `WAL_BOUND_FACTOR` times that size and does not trend up: the
    typical (median) peak of the second half is no higher than the first half's highest, or
    within 1.5 times the autocheckpoint size, its working range (the file is never cut below
    `journal_size_limit`, 64 MB, and a checkpoint waits for the end of a write group). (Not
    "the second half's highest no higher than the first half's": cycle peaks vary with the
    cycle's write volume, and a series that does not grow at all fails that every other run.)"""
    cycles = result.cycles
    steady = [c.peak_wal for c in cycles[run.warmup :]] or [c.peak_wal for c in cycles]
    half = len(steady) // 2
    early, late = max(steady[:half], default=0), statistics.median(steady[half:])
    bound = WAL_BOUND_FACTOR * result.autocheckpoint_bytes
    settled = 1.5 * result.autocheckpoint_bytes
    bounded = max(steady) <= bound and (half == 0 or late <= max(early, settled))
    pages = result.autocheckpoint_bytes // result.page_size
    print(
        f"  WAL: peak {max(c.peak_wal for c in cycles) / _MB:.1f} MB over the run, "
        f"{max(steady) / _MB:.1f} MB after warm-up (first half's highest {early / _MB:.1f}, "
        f"second half's median {late / _MB:.1f}), final {result.ends[-1].wal_bytes / _MB:.1f} "
        f"MB; autocheckpoint "
        f"at {pages:,} pages = {result.autocheckpoint_bytes / _MB:.0f} MB; checkpoints seen in "
        f"{sum(1 for c in cycles if c.checkpoints)}/{len(cycles)} cycles, truncated in "
        f"{sum(1 for c in cycles if c.truncations)}"
    )
    print(
        f"       bounded (after warm-up <= {bound / _MB:.0f} MB and not trending up: the second "
        f"half's median no higher than the first half's highest, unless under "
        f"{settled / _MB:.0f} MB) and checkpointed: "
        f"{_verdict(bounded and any(c.checkpoints for c in cycles))}"
    )


def _print_modes(result: SoakResult) -> None:
    print()
    print("misbehaving sources: outcomes over the run (error kind, else the outcome)")
    mode_counts = Counter(result.modes)
    for mode in [NORMAL, *MODES]:
        if mode not in mode_counts:
            continue
        what = MODES[mode][2] if mode in MODES else "a live feed"
        print(
            f"  {mode:<14} {mode_counts[mode]:>5} src  "
            f"{_counts(result.by_mode.get(mode, Counter()), 6):<52} {what}"
        )
    normal_errors = sum(
        n for kind, n in result.by_mode.get(NORMAL, Counter()).items() if kind not in _OK_OUTCOMES
    )
    died = sum(c.errors.get("parser-died", 0) for c in result.cycles)
    print()
    print("checks")
    print(
        f"  normal sources with an error or a disabling: {normal_errors}   "
        f"bad sources harm no other: {_verdict(normal_errors == 0)}"
    )
    if normal_errors:
        # Told apart: a cold first poll of every source at once (a timeout under that load)
        # from a later cycle's, where a misbehaving neighbour would show.
        by_cycle = ", ".join(
            f"cycle {c.number}: {_counts(c.normal_errors)}"
            for c in result.cycles
            if c.normal_errors
        )
        print(f"    by cycle: {by_cycle}")
    print(f"  parser processes that died: {died}   {_verdict(died == 0)}")
    print(
        f"  stories holding /etc/passwd text (XXE): {result.leaked}   "
        f"{_verdict(result.leaked == 0)}"
    )


_OK_OUTCOMES = frozenset({"ok", "not-modified", "unchanged"})


# ---------------------------------------------------------------------------------------------
# Command line.


def _duration(text: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"expected a duration like 30s, 15m or 1h, got {text!r}")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sources", type=int, help="sources served (10000; --quick 1000)")
    parser.add_argument("--cycles", type=int, help="polling intervals simulated (24; --quick 8)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1,000 sources, 8 cycles")
    parser.add_argument("--seed", type=int, default=1, help="feed content and mix seed (1)")
    parser.add_argument("--interval", type=_duration, default=900.0, help="polling.interval (15m)")
    parser.add_argument(
        "--tick", type=_duration, default=None, help="scheduler tick (default: the daemon's, 30s)"
    )
    parser.add_argument("--warmup", type=int, default=3, help="warm-up cycles (3)")
    parser.add_argument("--bad-share", type=float, default=0.1, help="misbehaving share (0.1)")
    parser.add_argument(
        "--update-share",
        type=float,
        default=0.5,
        help="chance that a normal feed publishes 1-3 entries in an interval (0.5)",
    )
    parser.add_argument("--concurrency", type=int, default=100, help="polling.concurrency (100)")
    parser.add_argument("--timeout", type=int, default=20, help="polling.timeout, seconds (20)")
    parser.add_argument(
        "--max-bytes", type=int, default=10_000_000, help="polling.max_bytes (10,000,000)"
    )
    parser.add_argument("--alerts", type=int, default=25, help="alert rules (25)")
    parser.add_argument("--dir", help="keep the database and feeds here (default: a temp dir)")
    args = parser.parse_args(argv)
    args.sources = args.sources or (1000 if args.quick else 10_000)
    args.cycles = args.cycles or (8 if args.quick else 24)
    if args.sources < 1 or args.cycles < 1:
        parser.error("--sources and --cycles must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    context = multiprocessing.get_context("spawn")
    spec = FarmSpec(
        count=args.sources,
        seed=args.seed,
        bad_share=args.bad_share,
        update_share=args.update_share,
        interval_s=args.interval,
        timeout_s=args.timeout,
        max_bytes=args.max_bytes,
    )
    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, load "
        f"{os.getloadavg()[0]:.2f}; command: {' '.join(sys.argv)}",
        flush=True,
    )
    with _farm(context, spec) as (base_url, info):
        print(
            f"feed farm: {args.sources:,} sources, {info['live']:,} live feeds with "
            f"{info['entries']:,} entries, rendered in {info['render_s']:.1f}s at {base_url}",
            flush=True,
        )
        run = SoakRun(
            base_url=base_url,
            count=args.sources,
            cycles=args.cycles,
            interval_s=args.interval,
            tick_s=args.tick,
            warmup=args.warmup,
            seed=args.seed,
            bad_share=args.bad_share,
            concurrency=args.concurrency,
            timeout_s=args.timeout,
            max_bytes=args.max_bytes,
            alerts=args.alerts,
            directory=args.dir,
        )
        started = time.perf_counter()
        child = context.Process(target=_soak_child, args=(run,), name="soak-daemon")
        child.start()
        child.join()
        print(f"\nwall time of the soak: {time.perf_counter() - started:.0f}s", flush=True)
        if child.exitcode:
            print(f"the daemon's process ended with exit code {child.exitcode}", flush=True)
        return 1 if child.exitcode else 0


@contextmanager
def _farm(context: Any, spec: FarmSpec) -> Iterator[tuple[str, dict[str, Any]]]:
    process, info = start_child(context, _farm_main, (spec,), "soak-farm")
    try:
        yield f"http://127.0.0.1:{info['port']}", info
    finally:
        process.terminate()
        process.join(10)


if __name__ == "__main__":
    sys.exit(main())
