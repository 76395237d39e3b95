"""One poll cycle against a real loopback HTTP server, with a fake clock and a real SQLite file."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from syndicator.fetch import FetchLimits
from syndicator.models import FetchResult, ParsedEntry, Source
from syndicator.pipeline import (
    DEFAULT_TAGGING,
    Fetched,
    GroupCommit,
    ParsedStories,
    ParserPool,
    PollPlan,
    interleave_by_host,
    newest_entries,
    parse_stories,
    poll_due_sources,
)
from syndicator.schedule import PollBounds
from syndicator.storage import ClusterFilter, ConfiguredSource, Store, open_store
from syndicator.tagging.tagger import TagContext
from tests.conftest import SHARED, FakeClock, FeedServer, Route, rss

START = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
PLAN = PollPlan(
    bounds=PollBounds(timedelta(minutes=15), timedelta(minutes=5), timedelta(hours=24)),
    limits=FetchLimits(timeout_s=5, allow_private_addresses=True),
)
ITEMS = [
    {"title": "Troops leave Kazakhstan", "guid": "w-1", "link": "https://wire.example/1"},
    {"title": "Fuel prices rise in Almaty", "guid": "w-2", "link": "https://wire.example/2"},
]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


def _store(tmp_path: Path, *urls: str) -> Store:
    store = open_store(tmp_path / "s.db")
    store.sync_sources([ConfiguredSource(url, "", "", True, None) for url in urls], START)
    return store


def _poll(store: Store, clock: FakeClock) -> list[str]:
    outcomes = asyncio.run(poll_due_sources(store, PLAN, clock))
    return sorted(outcome.status for outcome in outcomes)


def test_polling_twice_adds_nothing(
    tmp_path: Path, feed_server: FeedServer, clock: FakeClock
) -> None:
    feed_server.routes["/wire.rss"] = Route(rss(ITEMS))
    store = _store(tmp_path, feed_server.url("/wire.rss"))
    assert _poll(store, clock) == ["ok"]
    clock.advance(timedelta(hours=1))
    assert _poll(store, clock) == ["unchanged"]  # same bytes, no validators: not even parsed
    assert store.story_count() == 2


def test_conditional_get_sends_validators_back_and_304_is_not_an_error(
    tmp_path: Path, feed_server: FeedServer, clock: FakeClock
) -> None:
    stamp = "Wed, 25 Nov 2026 10:00:00 GMT"
    feed_server.routes["/wire.rss"] = Route(rss(ITEMS), etag='"abc"', last_modified=stamp)
    store = _store(tmp_path, feed_server.url("/wire.rss"))
    _poll(store, clock)
    clock.advance(timedelta(hours=1))
    assert _poll(store, clock) == ["not-modified"]
    first, second = feed_server.requests_to("/wire.rss")
    assert "if-none-match" not in first.headers
    assert second.headers["if-none-match"] == '"abc"'
    assert second.headers["if-modified-since"] == stamp
    assert second.headers["user-agent"].startswith("syndicator/")
    [status] = store.source_statuses()
    assert status.source.last_error is None


def test_resent_old_entries_and_a_changed_entry(
    tmp_path: Path, feed_server: FeedServer, clock: FakeClock
) -> None:
    feed_server.routes["/wire.rss"] = Route(rss(ITEMS))
    store = _store(tmp_path, feed_server.url("/wire.rss"))
    _poll(store, clock)
    changed = [{**ITEMS[0], "title": "Russian-led troops leave Kazakhstan"}, ITEMS[1]]
    new = {"title": "Parliament meets", "guid": "w-3", "link": "https://wire.example/3"}
    feed_server.routes["/wire.rss"] = Route(rss([*changed, new]))
    clock.advance(timedelta(hours=1))
    _poll(store, clock)
    assert store.story_count() == 3
    titles = {cluster.title for cluster in store.clusters(ClusterFilter())}
    assert titles == {
        "Russian-led troops leave Kazakhstan",
        "Fuel prices rise in Almaty",
        "Parliament meets",
    }


def test_entries_without_guid_are_identified_by_link(
    tmp_path: Path, feed_server: FeedServer, clock: FakeClock
) -> None:
    items = [{"title": "No guid here", "link": "https://wire.example/n?utm_source=rss"}]
    feed_server.routes["/a.rss"] = Route(rss(items))
    store = _store(tmp_path, feed_server.url("/a.rss"))
    _poll(store, clock)
    items = [{"title": "No guid here", "link": "https://wire.example/n?utm_source=email"}]
    feed_server.routes["/a.rss"] = Route(rss(items))  # same canonical link, new tracking param
    clock.advance(timedelta(hours=1))
    _poll(store, clock)
    assert store.story_count() == 1


def test_a_broken_source_is_recorded_and_the_others_keep_working(
    tmp_path: Path, feed_server: FeedServer, clock: FakeClock
) -> None:
    feed_server.routes["/good.rss"] = Route(rss(ITEMS))
    feed_server.routes["/html"] = Route(
        b"<html><body>hello</body></html>", content_type="text/html"
    )
    feed_server.routes["/500"] = Route(b"oops", status=500)
    store = _store(
        tmp_path,
        feed_server.url("/good.rss"),
        feed_server.url("/html"),
        feed_server.url("/500"),
        feed_server.url("/missing"),
    )
    assert _poll(store, clock) == ["error", "error", "error", "ok"]
    errors = {s.source.url: s.source.last_error for s in store.source_statuses()}
    assert "HTTP 500" in (errors[feed_server.url("/500")] or "")
    assert "HTTP 404" in (errors[feed_server.url("/missing")] or "")
    assert "not a feed" in (errors[feed_server.url("/html")] or "")
    assert errors[feed_server.url("/good.rss")] is None
    assert store.story_count() == 2


def test_failing_source_backs_off_and_is_not_due_until_then(
    tmp_path: Path, feed_server: FeedServer, clock: FakeClock
) -> None:
    feed_server.routes["/500"] = Route(b"oops", status=500)
    store = _store(tmp_path, feed_server.url("/500"))
    _poll(store, clock)
    clock.advance(timedelta(minutes=20))  # the normal interval (15m) has passed: backed off
    assert store.due_sources(clock()) == []
    clock.advance(timedelta(minutes=15))
    assert len(store.due_sources(clock())) == 1


def test_body_over_max_bytes_is_refused(
    tmp_path: Path, feed_server: FeedServer, clock: FakeClock
) -> None:
    feed_server.routes["/big.rss"] = Route(rss(ITEMS * 200))
    store = _store(tmp_path, feed_server.url("/big.rss"))
    small = PollPlan(
        PLAN.bounds, FetchLimits(timeout_s=5, max_bytes=1000, allow_private_addresses=True)
    )
    [outcome] = asyncio.run(poll_due_sources(store, small, clock))
    assert outcome.error is not None
    assert "max_bytes" in outcome.error


def test_loopback_is_refused_unless_allowed(
    tmp_path: Path, feed_server: FeedServer, clock: FakeClock
) -> None:
    feed_server.routes["/wire.rss"] = Route(rss(ITEMS))
    store = _store(tmp_path, feed_server.url("/wire.rss"))
    guarded = PollPlan(PLAN.bounds, FetchLimits(timeout_s=5))
    [outcome] = asyncio.run(poll_due_sources(store, guarded, clock))
    assert outcome.error is not None
    assert "non-public address" in outcome.error
    assert feed_server.requests == []


def test_permanent_redirect_updates_the_stored_url(
    tmp_path: Path, feed_server: FeedServer, clock: FakeClock
) -> None:
    feed_server.routes["/old.rss"] = Route(status=301, headers={"Location": "/new.rss"})
    feed_server.routes["/new.rss"] = Route(rss(ITEMS))
    store = _store(tmp_path, feed_server.url("/old.rss"))
    assert _poll(store, clock) == ["ok"]
    [status] = store.source_statuses()
    assert status.source.url == feed_server.url("/new.rss")
    clock.advance(timedelta(hours=2))
    _poll(store, clock)
    assert len(feed_server.requests_to("/old.rss")) == 1  # the second poll went straight there
    assert store.story_count() == 2


def test_temporary_redirect_keeps_the_stored_url(
    tmp_path: Path, feed_server: FeedServer, clock: FakeClock
) -> None:
    feed_server.routes["/old.rss"] = Route(status=302, headers={"Location": "/new.rss"})
    feed_server.routes["/new.rss"] = Route(rss(ITEMS))
    store = _store(tmp_path, feed_server.url("/old.rss"))
    _poll(store, clock)
    assert store.source_statuses()[0].source.url == feed_server.url("/old.rss")


def test_gone_disables_the_source_with_its_reason(
    tmp_path: Path, feed_server: FeedServer, clock: FakeClock
) -> None:
    feed_server.routes["/gone"] = Route(b"", status=410)
    store = _store(tmp_path, feed_server.url("/gone"))
    assert _poll(store, clock) == ["gone"]
    [status] = store.source_statuses()
    assert status.disabled_reason is not None
    assert "410" in status.disabled_reason
    clock.advance(timedelta(days=3))
    assert store.due_sources(clock()) == []


def test_retry_after_is_honoured(tmp_path: Path, feed_server: FeedServer, clock: FakeClock) -> None:
    feed_server.routes["/busy"] = Route(b"", status=429, headers={"Retry-After": "7200"})
    feed_server.routes["/down"] = Route(
        b"", status=503, headers={"Retry-After": "Fri, 27 Nov 2026 15:00:00 GMT"}
    )
    store = _store(tmp_path, feed_server.url("/busy"), feed_server.url("/down"))
    _poll(store, clock)
    next_polls = {s.source.url: s.source.next_poll_at for s in store.source_statuses()}
    assert next_polls[feed_server.url("/busy")] >= START + timedelta(hours=2)
    assert next_polls[feed_server.url("/down")] >= START + timedelta(hours=3)


def test_repeated_failures_disable_the_source_past_the_score(
    tmp_path: Path, feed_server: FeedServer, clock: FakeClock
) -> None:
    feed_server.routes["/500"] = Route(b"oops", status=500)
    feed_server.routes["/ok.rss"] = Route(rss(ITEMS))
    store = _store(tmp_path, feed_server.url("/500"), feed_server.url("/ok.rss"))
    plan = PollPlan(PLAN.bounds, PLAN.limits, disable_after_score=3)
    statuses = []
    for _ in range(4):
        outcomes = asyncio.run(poll_due_sources(store, plan, clock))
        statuses += [o.status for o in outcomes if o.source_url.endswith("/500")]
        clock.advance(timedelta(days=2))
    assert statuses == ["error", "error", "disabled"]
    broken = next(s for s in store.source_statuses() if s.source.url.endswith("/500"))
    assert broken.disabled_reason is not None
    assert "failure score 3" in broken.disabled_reason
    assert "HTTP 500" in broken.disabled_reason
    assert store.enable_source(feed_server.url("/500"))  # an operator can bring it back
    assert any(s.url.endswith("/500") for s in store.due_sources(clock()))


def test_html_page_is_resolved_by_autodiscovery(
    tmp_path: Path, feed_server: FeedServer, clock: FakeClock
) -> None:
    page = b'<html><head><link rel="alternate" type="application/rss+xml" href="/feed.xml">'
    feed_server.routes["/news"] = Route(page + b"</head></html>", content_type="text/html")
    feed_server.routes["/feed.xml"] = Route(rss(ITEMS))
    store = _store(tmp_path, feed_server.url("/news"))
    assert _poll(store, clock) == ["ok"]
    assert store.story_count() == 2
    assert store.source_statuses()[0].source.url == feed_server.url("/feed.xml")


def test_304_ratio_is_counted(tmp_path: Path, feed_server: FeedServer, clock: FakeClock) -> None:
    feed_server.routes["/f.rss"] = Route(rss(ITEMS), etag='"v1"')
    store = _store(tmp_path, feed_server.url("/f.rss"))
    for _ in range(4):
        _poll(store, clock)
        clock.advance(timedelta(hours=2))
    [status] = store.source_statuses()
    assert (status.polls, status.not_modified_polls) == (4, 3)
    assert status.not_modified_ratio == 0.75


def test_a_source_publishing_often_is_polled_more_often(
    tmp_path: Path, feed_server: FeedServer, clock: FakeClock
) -> None:
    dates = [f"Fri, 27 Nov 2026 11:{55 - 5 * i:02d}:00 GMT" for i in range(10)]
    items = [{"title": f"Item {i}", "guid": f"g{i}", "date": d} for i, d in enumerate(dates)]
    feed_server.routes["/busy.rss"] = Route(rss(items))
    store = _store(tmp_path, feed_server.url("/busy.rss"))
    _poll(store, clock)
    next_poll = store.source_statuses()[0].source.next_poll_at
    assert next_poll is not None
    assert next_poll - START < timedelta(minutes=6)  # every 5 min, not the 15 min default


def test_parsing_in_worker_processes_gives_the_same_stories(
    tmp_path: Path, feed_server: FeedServer, clock: FakeClock
) -> None:
    feed_server.routes["/wire.rss"] = Route(rss(ITEMS))
    feed_server.routes["/html"] = Route(
        b"<html><body>no feed</body></html>", content_type="text/html"
    )
    feed_server.routes["/png"] = Route(b"\x89PNG\r\n\x1a\n", content_type="image/png")
    store = _store(
        tmp_path, feed_server.url("/wire.rss"), feed_server.url("/html"), feed_server.url("/png")
    )
    pool = ParserPool(workers=2)
    try:
        outcomes = asyncio.run(poll_due_sources(store, PLAN, clock, parser=pool))
    finally:
        pool.close()
    assert sorted(outcome.status for outcome in outcomes) == ["error", "error", "ok"]
    titles = {cluster.title for cluster in store.clusters(ClusterFilter())}
    assert titles == {"Troops leave Kazakhstan", "Fuel prices rise in Almaty"}


def _run_script(
    script: Path, cwd: Path, env: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    """A Python script in a fresh interpreter (its own fork server), which must succeed."""
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result


PARSE_IN_WORKERS = """
import asyncio
from datetime import UTC, datetime

from syndicator.pipeline import ParserPool

FEED = (
    b"<rss version='2.0'><channel><title>t</title><item><title>Troops leave Kazakhstan</title>"
    b"<link>https://a.example/1</link></item></channel></rss>"
)


async def parse() -> int:
    pool = ParserPool(workers=1)
    try:
        parsed = await pool(FEED, "https://a.example/rss", {}, 1, datetime.now(UTC))
        return len(parsed.stories)
    finally:
        pool.close()


if __name__ == "__main__":
    print(asyncio.run(parse()))
"""


def test_the_parser_processes_do_not_import_from_the_working_directory(tmp_path: Path) -> None:
    """The fork server starts as `python -c`, which put the working directory first on its
    path: a daemon started where an `inspect.py` lay ran it, and every parse then failed."""
    work, scripts = tmp_path / "work", tmp_path / "scripts"
    work.mkdir()
    scripts.mkdir()
    marker = tmp_path / "ran"
    (work / "inspect.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    script = scripts / "parse.py"  # outside the working directory, like the console script
    script.write_text(PARSE_IN_WORKERS)
    env = {name: value for name, value in os.environ.items() if name != "PYTHONSAFEPATH"}
    result = _run_script(script, work, env)
    assert result.stdout.strip() == "1"
    assert not marker.exists()


BROKEN_FORK_SERVER = """
import asyncio
import multiprocessing
from datetime import UTC, datetime

import syndicator.pipeline as pipeline
from syndicator.pipeline import ParserPool

FEED = (
    b"<rss version='2.0'><channel><title>t</title><item><title>Troops leave Kazakhstan</title>"
    b"<link>https://a.example/1</link></item></channel></rss>"
)


def broken_context():
    server = multiprocessing.get_context("forkserver")
    server.set_forkserver_preload(["boom"])  # dies loading it, as a shadowed module did
    return server


async def parse():
    pipeline._worker_context = broken_context
    pool = ParserPool(workers=1)
    try:
        counts = [len((await pool(FEED, "https://a.example/rss", {}, 1, datetime.now(UTC))).stories)
                  for _ in range(2)]
        return counts, pool.inline
    finally:
        pool.close()


if __name__ == "__main__":
    print(asyncio.run(parse()))
"""


def test_parser_processes_that_cannot_start_leave_parsing_to_the_main_process(
    tmp_path: Path,
) -> None:
    """A fork server that died loading the parsers failed every source with "EOFError:
    unexpected EOF"; now it is said once, and parsing goes on in the daemon's process."""
    (tmp_path / "boom.py").write_text("raise AttributeError('broken on purpose')\n")
    script = tmp_path / "parse.py"
    script.write_text(BROKEN_FORK_SERVER)
    result = _run_script(script, tmp_path, {**os.environ, "PYTHONPATH": str(tmp_path)})
    assert result.stdout.strip() == "([1, 1], True)"
    assert result.stderr.count("the parser processes could not start (EOFError") == 1


def test_the_first_parse_starts_the_workers_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first submit waits for the fork server to load the parsers and tagging tables
    (2-3 s); made on the event loop's thread, it froze fetching and /healthz meanwhile."""
    threads: list[threading.Thread] = []
    submit = ProcessPoolExecutor.submit

    def recording_submit(self: ProcessPoolExecutor, *args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread())
        return submit(self, *args, **kwargs)

    monkeypatch.setattr(ProcessPoolExecutor, "submit", recording_submit)

    async def parse_twice() -> threading.Thread:
        pool = ParserPool(workers=1)
        try:
            for _ in range(2):
                parsed = await pool(rss(ITEMS), "https://a.example/rss", {}, 1, START)
                assert len(parsed.stories) == len(ITEMS)
        finally:
            pool.close()
        return threading.current_thread()

    loop_thread = asyncio.run(parse_twice())
    assert len(threads) == 2
    assert threads[0] is not loop_thread  # the first: from a helper thread
    assert threads[1] is loop_thread  # then directly: the workers are up


def test_a_304_keeps_the_feed_ttl_and_entry_frequency(
    tmp_path: Path, feed_server: FeedServer, clock: FakeClock
) -> None:
    body = rss(ITEMS).replace(b"<description>test</description>", b"<ttl>120</ttl>")
    feed_server.routes["/f.rss"] = Route(body, etag='"v1"')
    store = _store(tmp_path, feed_server.url("/f.rss"))
    _poll(store, clock)
    first_gap = store.source_statuses()[0].source.next_poll_at - START  # type: ignore[operator]
    clock.advance(timedelta(hours=3))
    assert _poll(store, clock) == ["not-modified"]
    second_gap = store.source_statuses()[0].source.next_poll_at - clock()  # type: ignore[operator]
    assert first_gap >= timedelta(hours=2)
    assert second_gap == first_gap


def test_an_unexpected_exception_while_parsing_is_recorded_not_raised(
    tmp_path: Path, feed_server: FeedServer, clock: FakeClock
) -> None:
    feed_server.routes["/a.rss"] = Route(rss(ITEMS))
    feed_server.routes["/b.rss"] = Route(rss(ITEMS[:1]))
    store = _store(tmp_path, feed_server.url("/a.rss"), feed_server.url("/b.rss"))

    async def flaky(
        body: bytes,
        url: str,
        headers: Mapping[str, str],
        source_id: int,
        now: datetime,
        *,
        tagging: TagContext = DEFAULT_TAGGING,
    ) -> ParsedStories:
        if url.endswith("/a.rss"):
            raise RecursionError("maximum recursion depth exceeded")
        return parse_stories(body, url, headers, source_id, now, tagging=tagging)

    outcomes = asyncio.run(poll_due_sources(store, PLAN, clock, parser=flaky))
    errors = {o.source_url: o.error for o in outcomes}
    assert "RecursionError" in (errors[feed_server.url("/a.rss")] or "")
    assert errors[feed_server.url("/b.rss")] is None


def test_due_sources_are_interleaved_by_host() -> None:
    def source(number: int, host: str) -> Source:
        return Source(id=number, url=f"https://{host}/{number}", name="")

    due = [source(1, "a.example"), source(2, "a.example"), source(3, "a.example")]
    due += [source(4, "b.example"), source(5, "c.example"), source(6, "b.example")]
    assert [s.id for s in interleave_by_host(due)] == [1, 4, 5, 2, 6, 3]


def test_a_304_keeps_the_observed_entry_frequency(
    tmp_path: Path, feed_server: FeedServer, clock: FakeClock
) -> None:
    dates = [f"Fri, 27 Nov 2026 11:{55 - 5 * i:02d}:00 GMT" for i in range(10)]
    items = [{"title": f"Item {i}", "guid": f"g{i}", "date": d} for i, d in enumerate(dates)]
    feed_server.routes["/busy.rss"] = Route(rss(items), etag='"v1"')
    store = _store(tmp_path, feed_server.url("/busy.rss"))
    _poll(store, clock)
    clock.advance(timedelta(hours=1))
    assert _poll(store, clock) == ["not-modified"]
    next_poll = store.source_statuses()[0].source.next_poll_at
    assert next_poll is not None
    assert next_poll - clock() < timedelta(minutes=6)  # still every 5 min, as the entries go


def _committed_stories(path: Path) -> int:
    """What another process sees: only committed writes."""
    with sqlite3.connect(path) as other:
        count = int(other.execute("SELECT COUNT(*) FROM stories").fetchone()[0])
    other.close()
    return count


async def _wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.02)


def _wire_and_a_source_that_hangs(tmp_path: Path, feed_server: FeedServer) -> Store:
    feed_server.routes["/wire.rss"] = Route(rss(ITEMS))
    feed_server.routes["/hangs.rss"] = Route(b"", hang=True)
    return _store(tmp_path, feed_server.url("/wire.rss"), feed_server.url("/hangs.rss"))


def test_feeds_polled_before_a_cancellation_are_committed(
    tmp_path: Path, feed_server: FeedServer, clock: FakeClock
) -> None:
    store = _wire_and_a_source_that_hangs(tmp_path, feed_server)
    slow_commits = PollPlan(PLAN.bounds, replace(PLAN.limits, timeout_s=60))

    async def cancel_midway() -> int:
        poll = asyncio.create_task(poll_due_sources(store, slow_commits, clock))
        await _wait_for(lambda: store.story_count() == 2)  # ingested, in an open write group
        seen_before_cancel = _committed_stories(tmp_path / "s.db")
        poll.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poll
        return seen_before_cancel

    assert asyncio.run(cancel_midway()) == 0
    assert _committed_stories(tmp_path / "s.db") == 2
    assert not store.in_group


def test_a_write_group_commits_after_its_max_age_while_other_fetches_wait(
    tmp_path: Path, feed_server: FeedServer, clock: FakeClock
) -> None:
    store = _wire_and_a_source_that_hangs(tmp_path, feed_server)
    plan = PollPlan(PLAN.bounds, replace(PLAN.limits, timeout_s=8))

    async def watch() -> tuple[int, int]:
        poll = asyncio.create_task(poll_due_sources(store, plan, clock))
        await _wait_for(lambda: _committed_stories(tmp_path / "s.db") == 2, timeout_s=5)
        still_polling = int(not poll.done())
        outcomes = await poll
        return still_polling, len(outcomes)

    assert asyncio.run(watch()) == (1, 2)  # committed at about 1 s, the hang still going


def _fetched(source: Source, items: int) -> Fetched:
    entries = [{"title": f"{source.url} story {n}", "guid": f"g{n}"} for n in range(items)]
    body = rss(entries)
    parsed = parse_stories(body, source.url, {}, source.id, START)
    return Fetched(source, FetchResult(url=source.url, status=200, body=body), parsed)


def test_a_write_group_commits_once_it_holds_enough_stories(tmp_path: Path) -> None:
    # The WAL is checkpointed only between transactions: a group of many big feeds must not
    # become one huge transaction.
    urls = [f"http://feeds{n}.test/rss" for n in range(3)]
    store = _store(tmp_path, *urls)
    sources = store.due_sources(START)

    async def ingest_all() -> list[tuple[bool, int]]:
        commits = GroupCommit(store, max_age_s=60, max_stories=5)
        seen = []
        for source in sources:
            commits.ingest(_fetched(source, 3), PLAN, START)
            seen.append((store.in_group, _committed_stories(tmp_path / "s.db")))
        commits.close()
        return seen

    # 3 stories: still open; 6 >= 5: committed; then a new group opens for the third feed.
    assert asyncio.run(ingest_all()) == [(True, 0), (False, 6), (True, 6)]
    assert _committed_stories(tmp_path / "s.db") == 9


def test_a_story_the_taggers_fail_on_is_stored_untagged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import syndicator.pipeline as pipeline_module

    def broken(*args: object, **kwargs: object) -> tuple[()]:
        raise RecursionError("a tagger bug")

    monkeypatch.setattr(pipeline_module, "tag_story_with_language", broken)
    body = rss([{"title": "Quake hits Turkey", "guid": "q1", "description": "Rescue teams."}])
    parsed = parse_stories(body, "http://wire.test/rss", {}, 1, datetime(2026, 11, 27, tzinfo=UTC))
    assert [story.title for story in parsed.stories] == ["Quake hits Turkey"]
    assert parsed.stories[0].tags == ()
    assert "left untagged" in caplog.text


def _entry(guid: str, hours: float | None) -> ParsedEntry:
    published = None if hours is None else START + timedelta(hours=hours)
    return ParsedEntry(guid, None, guid, "", "", "", published, None)


def test_a_feed_past_the_cap_keeps_its_newest_entries_in_document_order() -> None:
    entries = [_entry("a", 1), _entry("b", None), _entry("c", 5), _entry("d", 3), _entry("e", 0)]
    assert [e.guid for e in newest_entries(entries, 2)] == ["c", "d"]
    assert [e.guid for e in newest_entries(entries, 4)] == ["a", "c", "d", "e"]
    assert newest_entries(entries, 5) == tuple(entries)
    undated = [_entry(str(n), None) for n in range(6)]
    assert [e.guid for e in newest_entries(undated, 3)] == ["0", "1", "2"]  # listed first


def test_a_feeds_language_reaches_its_entries_and_their_topics() -> None:
    body = (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        "<title>Le Fil</title><link>https://fil.example/</link><language>fr-FR</language>"
        "<item><title>Incendie à Marseille : trois morts</title>"
        "<link>https://fil.example/1</link><description></description></item>"
        "</channel></rss>"
    ).encode()
    parsed = parse_stories(body, "http://fil.test/rss", {}, 1, datetime(2026, 11, 27, tzinfo=UTC))
    (story,) = parsed.stories
    assert story.language == "fr-FR"
    assert "disaster" in [tag.code for tag in story.tags if tag.focus]  # read as French


def test_a_configured_language_stands_in_for_a_feed_that_declares_none(
    tmp_path: Path, feed_server: FeedServer, clock: FakeClock
) -> None:
    feed_server.routes["/fil.rss"] = Route(
        rss([{"title": "Incendie à Marseille : trois morts", "guid": "f1"}], title="Le Fil")
    )
    url = feed_server.url("/fil.rss")
    store = open_store(tmp_path / "s.db")
    store.sync_sources([ConfiguredSource(url, "", "", True, None, language="fr")], START)
    assert _poll(store, clock) == ["ok"]
    (cluster,) = store.clusters(ClusterFilter(query="lang:fr"))
    assert "disaster" in [tag.code for tag in store.tags_of(cluster.id) if tag.focus]
    assert store.clusters(ClusterFilter(query="lang:en")) == []


def _undeclared(name: str) -> bytes:
    """A corpus feed with its language declarations taken out, as many sites write them."""
    body = (SHARED / "corpus" / "feeds-real" / name).read_bytes()
    body = re.sub(rb"<(dc:)?language>[^<]*</(dc:)?language>", b"", body)
    return re.sub(rb'\sxml:lang="[^"]*"', b"", body)


@pytest.mark.parametrize(
    ("name", "language", "at_least"),
    [
        ("feeder_rss_ukrnet.xml", "uk", 15),  # suspilne.news, 19 stories: declares none
        ("feeder_rss_lemonde.xml", "fr", 15),  # 21 stories: declares none
        ("feeder_golem-de.xml", "de", 20),  # 40
        ("rssparser_uolNoticias.rss", "pt", 3),  # 14, two-sentence summaries
        ("feedrs_rss_2.0_ilmessaggero.xml", "it", 1),  # 1
        ("netnewswire_aktuality.rss", "sk", 1),  # 30, one-sentence summaries
        ("feeder_rss_theguardian.xml", "en", 50),  # 54
    ],
)
def test_a_feed_that_declares_no_language_gets_the_one_its_text_clearly_reads_as(
    name: str, language: str, at_least: int
) -> None:
    # `lang:uk` missed every story of a feed without <language>, and the published entries
    # had no xml:lang. A story too short to tell stays unknown: never another language.
    stories = parse_stories(_undeclared(name), "https://site.test/rss", {}, 1, START).stories
    found = [story.language for story in stories]
    assert set(found) <= {language, ""}
    assert found.count(language) >= at_least


def test_a_headline_alone_in_an_undeclared_feed_stays_of_unknown_language() -> None:
    body = rss(
        [
            {"title": "Токаев ввел режим ЧП в Алматы", "guid": "1"},
            {"title": "Тоқаев Үкімет басшысын қабылдады", "guid": "2"},
            {"title": "Incendie à Marseille : trois morts", "guid": "3"},
            {"title": "Rescue teams reach the quake zone in the east of Turkey", "guid": "4"},
        ]
    )
    stories = parse_stories(body, "https://site.test/rss", {}, 1, START).stories
    assert [story.language for story in stories] == ["", "", "", ""]


def test_a_declared_language_is_kept_whatever_the_text_reads_as() -> None:
    body = (SHARED / "corpus" / "feeds-real" / "feeder_rss_lemonde.xml").read_bytes()
    body = body.replace(b"<channel>", b"<channel><language>de</language>", 1)  # a wrong one
    stories = parse_stories(body, "https://site.test/rss", {}, 1, START).stories
    assert {story.language for story in stories} == {"de"}


def test_feed_ads_are_not_stories() -> None:
    """The Washington Post's feed carries "Featured Advertiser" entries linking an ad
    network's click counter: three "stories" with no text, each in every feed."""
    body = (SHARED / "corpus" / "feeds-real" / "nodefeedparser_wapowellness.xml").read_bytes()
    parsed = parse_stories(body, "https://wapo.example/rss", {}, 1, START)
    titles = [story.title for story in parsed.stories]
    assert "Featured Advertiser" not in titles
    assert len(titles) == 26
    assert not any("pheedo" in story.url for story in parsed.stories)


def test_entries_of_one_feed_that_share_a_link_are_told_apart() -> None:
    """Scripting News gives each post the day's page with its own anchor; NixOS's news feed
    links all 99 items to news.html, without guids: they were one cluster and one story."""
    corpus = SHARED / "corpus" / "feeds-real"
    scripting = parse_stories(
        (corpus / "netnewswire_scriptingNews.rss").read_bytes(), "https://s.example/", {}, 1, START
    ).stories
    assert len({story.canonical_url for story in scripting}) == len(scripting) == 48
    assert scripting[0].canonical_url == "http://scripting.com/2017/06/26.html#a080605"
    nixos = parse_stories(
        (corpus / "feeder_rss_nixos.xml").read_bytes(), "https://n.example/", {}, 2, START
    ).stories
    assert len(nixos) == 96  # 99 items, three of them listed twice
    assert {story.canonical_url for story in nixos} == {""}  # the URL tells nothing apart
    assert nixos[0].title == "NixOS 18.09 released"
    assert nixos[0].url == "https://nixos.org/news.html"
    again = parse_stories(
        (corpus / "feeder_rss_nixos.xml").read_bytes(), "https://n.example/", {}, 2, START
    ).stories
    assert [story.guid_key for story in again] == [story.guid_key for story in nixos]


def test_one_entry_listed_twice_keeps_its_url_identity() -> None:
    twice = rss(
        [
            {"title": "Troops leave", "link": "https://w.example/1"},
            {"title": "Troops leave", "link": "https://w.example/1#top"},
        ]
    )
    (story,) = parse_stories(twice, "https://w.example/rss", {}, 1, START).stories
    assert story.canonical_url == "https://w.example/1"


def test_a_moved_source_whose_new_url_is_written_into_the_config_keeps_its_stories(
    tmp_path: Path, feed_server: FeedServer, clock: FakeClock
) -> None:
    # The log says the source moved; the operator writes its new URL into the config. That
    # URL is where the source is polled already: syncing failed on it (UNIQUE url), so the
    # daemon's reload raised and no later start or `run --once` got past it.
    feed_server.routes["/old.rss"] = Route(status=301, headers={"Location": "/new.rss"})
    feed_server.routes["/new.rss"] = Route(rss(ITEMS))
    store = _store(tmp_path, feed_server.url("/old.rss"))
    _poll(store, clock)
    notes = store.sync_sources(
        [ConfiguredSource(feed_server.url("/new.rss"), "", "", True, None)], clock()
    )
    assert [note.skipped for note in notes] == [False]
    [status] = store.source_statuses()
    assert (status.config_url, status.source.url) == (feed_server.url("/new.rss"),) * 2
    assert status.stories == 2
    clock.advance(timedelta(hours=2))
    _poll(store, clock)
    assert store.story_count() == 2


def test_the_old_and_the_new_url_of_a_moved_source_both_configured_are_one_source(
    tmp_path: Path, feed_server: FeedServer, clock: FakeClock
) -> None:
    feed_server.routes["/old.rss"] = Route(status=301, headers={"Location": "/new.rss"})
    feed_server.routes["/new.rss"] = Route(rss(ITEMS))
    store = _store(tmp_path, feed_server.url("/old.rss"))
    _poll(store, clock)
    both = [feed_server.url("/old.rss"), feed_server.url("/new.rss")]
    notes = store.sync_sources([ConfiguredSource(url, "", "", True, None) for url in both], clock())
    assert [note.skipped for note in notes] == [True]
    assert "configured twice" in notes[0].message
    assert [s.config_url for s in store.source_statuses()] == both[:1]


def test_a_source_url_edited_in_place_under_its_name_continues_the_source(
    tmp_path: Path, feed_server: FeedServer, clock: FakeClock
) -> None:
    # The site moved its feed and answers 410 at the old address; the operator edits the
    # `url` of the `[[sources]]` entry. The same entries at the new URL were all stored a
    # second time under a new source, each cluster "also reported by" itself.
    feed_server.routes["/old.rss"] = Route(rss(ITEMS))
    store = open_store(tmp_path / "s.db")
    store.sync_sources(
        [ConfiguredSource(feed_server.url("/old.rss"), "Wire", "", True, None)], START
    )
    _poll(store, clock)
    feed_server.routes["/old.rss"] = Route(b"", status=410)
    feed_server.routes["/new.rss"] = Route(rss(ITEMS))
    clock.advance(timedelta(hours=1))
    assert _poll(store, clock) == ["gone"]
    clock.advance(timedelta(hours=1))
    edited = [
        ConfiguredSource(feed_server.url("/new.rss"), "Wire", "", True, None),
        ConfiguredSource(feed_server.url("/other.rss"), "Other", "", True, None),
    ]
    notes = store.sync_sources(edited, clock())
    statuses = {s.source.name: s for s in store.source_statuses()}
    assert statuses["Wire"].stories == 2
    assert statuses["Wire"].disabled_reason is None  # the old URL's 410
    assert statuses["Wire"].source.next_poll_at == clock()
    assert statuses["Other"].stories == 0
    assert _poll(store, clock).count("ok") == 1
    assert store.story_count() == 2
    assert [note.message for note in notes] == [
        f"source 'Wire' moved from {feed_server.url('/old.rss')} to {feed_server.url('/new.rss')}"
    ]


def test_an_entry_re_keyed_with_its_link_renamed_is_the_same_story(
    tmp_path: Path, feed_server: FeedServer, clock: FakeClock
) -> None:
    """A CMS re-import gives an entry a new guid and a new slug; its title, text and date
    stay. It was stored again: a second story of the same source in the cluster, "also
    reported by" itself, while the entry kept the old, dead link."""
    text = "Steppe Wire reports that fuel prices in Almaty rose by a tenth over the winter."
    item = {
        "title": "Fuel prices rise in Almaty",
        "guid": "w-2",
        "link": "https://wire.example/2026/fuel-prices",
        "date": "Fri, 27 Nov 2026 09:00:00 GMT",
        "description": text,
    }
    feed_server.routes["/wire.rss"] = Route(rss([item]))
    store = _store(tmp_path, feed_server.url("/wire.rss"))
    _poll(store, clock)
    renamed = {**item, "guid": "cms-7781", "link": "https://wire.example/almaty/fuel-prices-rise"}
    feed_server.routes["/wire.rss"] = Route(rss([renamed]))
    for _ in range(2):  # the re-keyed entry, then the same document again
        clock.advance(timedelta(hours=1))
        _poll(store, clock)
        assert store.story_count() == 1
    [cluster] = store.clusters(ClusterFilter())
    assert [copy.url for copy in cluster.copies] == [renamed["link"]]  # one, its link new
