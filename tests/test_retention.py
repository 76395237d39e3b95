"""Retention against feeds that keep listing old entries: what retention removed is not new.

A real loopback feed server, a fake clock, real SQLite files; `run_once` is the cron cycle
(it opens the store, syncs the sources, polls, publishes, delivers and applies retention, and
closes the store again: every call is a restart), `poll_due_sources` and `apply_retention`
the daemon's jobs one at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree

import pytest

from syndicator.config import Settings, load_settings, parse_settings
from syndicator.daemon import apply_retention, run_once
from syndicator.fetch import FetchLimits
from syndicator.pipeline import PollPlan, poll_due_sources
from syndicator.schedule import PollBounds
from syndicator.storage import ClusterFilter, ConfiguredSource, Store, open_store
from tests.atom_checks import check_atom
from tests.conftest import FakeClock

from .conftest import FeedServer, Route, rss, write_config
from .test_alerts import SECRET, Receiver

START = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
ATOM = "{http://www.w3.org/2005/Atom}"
OLD = [  # an archive feed's back catalogue: it lists these on every poll, for years
    {
        "title": "Kazakhstan opens its first wind farm",
        "guid": "news-2004-01",
        "link": "https://wire.example/2004/01",
        "date": "Mon, 05 Jan 2004 10:00:00 GMT",
    },
    {
        "title": "Kazakhstan and Russia sign a pipeline deal",
        "guid": "news-2004-02",
        "link": "https://wire.example/2004/02",
        "date": "Tue, 10 Feb 2004 10:00:00 GMT",
    },
]
NEW = {
    "title": "Kazakhstan raises fuel prices",
    "guid": "news-2026-12",
    "link": "https://wire.example/2026/12",
    "date": "Mon, 21 Dec 2026 10:00:00 GMT",
}
PLAN = PollPlan(
    bounds=PollBounds(timedelta(minutes=15), timedelta(minutes=5), timedelta(hours=24)),
    limits=FetchLimits(timeout_s=5, allow_private_addresses=True),
)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.httpd.shutdown()
    receiver.httpd.server_close()


def _settings(tmp_path: Path, feed_url: str, hook_url: str) -> Settings:
    alert = f"""
[[alerts]]
name = "kz"
query = "kazakhstan"
channels = ["hook"]

[channels.hook]
type = "webhook"
url = "{hook_url}"
secret = "{SECRET}"
"""
    path = write_config(tmp_path, [feed_url], alert)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('.db"\n', '.db"\nretention = "90d"\n', 1), encoding="utf-8")
    return load_settings(path)


def _titles_in(feed: Path) -> list[str]:
    root = ElementTree.parse(feed).getroot()
    return sorted(entry.findtext(f"{ATOM}title") or "" for entry in root.iter(f"{ATOM}entry"))


def _alerted_titles(receiver: Receiver) -> list[str]:
    items = [item for body in receiver.bodies() for item in body["data"]["items"]]  # type: ignore[index]
    return sorted(str(item["title"]) for item in items)


def _counts(settings: Settings, *tables: str) -> tuple[int, ...]:
    """Stories, alert matches and outbox rows stored (or the rows of `tables`)."""
    store = open_store(settings.storage.path)
    try:
        return tuple(
            store.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in tables or ("stories", "alert_matches", "outbox")
        )
    finally:
        store.close()


def test_a_feed_still_listing_what_retention_removed_adds_nothing_across_restarts(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    feed_server.routes["/wire.rss"] = Route(rss(OLD))
    settings = _settings(tmp_path, feed_server.url("/wire.rss"), receiver.url)
    all_feed = settings.publish.output_dir / "feeds" / "all.atom"
    clock = FakeClock(START)
    run_once(settings, clock)
    assert _counts(settings) == (2, 2, 2)
    assert _alerted_titles(receiver) == sorted(item["title"] for item in OLD)
    kazakhstan = settings.publish.output_dir / "feeds" / "regions" / "kz.atom"
    assert _titles_in(kazakhstan) == sorted(item["title"] for item in OLD)

    assert _counts(settings, "deliveries") == (1,)
    clock.advance(timedelta(days=91))  # past the retention: both stories are removed
    run_once(settings, clock)
    assert _counts(settings) == (0, 0, 0)
    assert _counts(settings, "deliveries") == (0,)  # the message that alerted them too
    # Gone from the feed in the same cycle: it published before its retention, so the
    # removed stories stayed in the feeds until another cycle had something to publish.
    assert _titles_in(all_feed) == []
    # Its last stories gone, the country's feed is written again, empty: it was left on
    # disk (and served) as it was, with the stories the database no longer has.
    assert _titles_in(kazakhstan) == []
    assert check_atom(kazakhstan) == []

    # The feed gains an entry and still lists the old ones: only the new one is new.
    feed_server.routes["/wire.rss"] = Route(rss([NEW, *OLD]))
    clock.advance(timedelta(hours=1))
    run_once(settings, clock)
    assert _counts(settings) == (1, 1, 1)
    assert _titles_in(all_feed) == [NEW["title"]]
    assert _alerted_titles(receiver) == sorted([NEW["title"]] + [i["title"] for i in OLD])

    # Another change of the document (its title), another restart: still nothing new.
    feed_server.routes["/wire.rss"] = Route(rss([NEW, *OLD], title="Wire, renamed"))
    clock.advance(timedelta(hours=1))
    run_once(settings, clock)
    assert _counts(settings) == (1, 1, 1)
    assert _titles_in(all_feed) == [NEW["title"]]
    assert len(receiver.seen) == 2  # the first poll's message and the new entry's


def _retention(tmp_path: Path, days: int) -> Settings:
    return parse_settings(
        f'[storage]\npath = "{tmp_path / "s.db"}"\nretention = "{days}d"\n', tmp_path / "c.toml", {}
    )


def _store(tmp_path: Path, url: str) -> Store:
    store = open_store(tmp_path / "s.db")
    store.sync_sources([ConfiguredSource(url, "", "", True, None)], START)
    return store


def _poll(store: Store, clock: FakeClock) -> list[str]:
    return [outcome.status for outcome in asyncio.run(poll_due_sources(store, PLAN, clock))]


def _remembered(store: Store) -> list[str]:
    rows = store.db.execute(
        "SELECT guid_key FROM expired_entries WHERE guid_key NOT LIKE 'removed-link:%' "
        "ORDER BY guid_key"
    )
    return [row[0] for row in rows.fetchall()]


def test_a_removed_entry_stays_remembered_while_listed_and_is_forgotten_once_dropped(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.routes["/wire.rss"] = Route(rss(OLD))
    settings = _retention(tmp_path, 30)
    store = _store(tmp_path, feed_server.url("/wire.rss"))
    clock = FakeClock(START)
    assert _poll(store, clock) == ["ok"]
    clock.advance(timedelta(days=31))
    assert apply_retention(store, settings, clock()) == 2
    assert _remembered(store) == ["guid:news-2004-01", "guid:news-2004-02"]

    # For 40 days the feed lists the first entry only, changing every other day.
    for day in range(20):
        feed_server.routes["/wire.rss"] = Route(rss(OLD[:1], title=f"Wire {day}"))
        clock.advance(timedelta(days=2))
        assert _poll(store, clock) == ["ok"]
        apply_retention(store, settings, clock())
    assert store.story_count() == 0
    assert _remembered(store) == ["guid:news-2004-01"]  # the dropped one is forgotten

    store.close()  # a restart: the memory is in the file
    store = _store(tmp_path, feed_server.url("/wire.rss"))
    feed_server.routes["/wire.rss"] = Route(rss([NEW, *OLD]))
    clock.advance(timedelta(days=1))
    assert _poll(store, clock) == ["ok"]
    # The forgotten entry is new again (its feed dropped it for longer than the retention).
    stored = {row[0] for row in store.db.execute("SELECT guid_key FROM stories").fetchall()}
    assert stored == {"guid:news-2026-12", "guid:news-2004-02"}
    store.close()


def test_entries_retention_removed_are_not_new_under_new_guids(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A CMS re-import (or a move from RSS to Atom) gives every entry a new guid, links and
    titles unchanged. While the stories are stored that changes nothing; after retention
    removed them, every old entry the feed still listed came back as a new story, published
    and alerted again. An entry at the same link under another title is still new."""
    feed_server.routes["/wire.rss"] = Route(rss(OLD))
    settings = _retention(tmp_path, 30)
    store = _store(tmp_path, feed_server.url("/wire.rss"))
    clock = FakeClock(START)
    assert _poll(store, clock) == ["ok"]
    clock.advance(timedelta(days=31))
    assert apply_retention(store, settings, clock()) == 2

    reimported = [{**item, "guid": "cms2-" + item["guid"]} for item in OLD]
    feed_server.routes["/wire.rss"] = Route(rss([NEW, *reimported]))
    clock.advance(timedelta(days=1))
    assert _poll(store, clock) == ["ok"]
    assert [cluster.title for cluster in store.clusters(ClusterFilter())] == [NEW["title"]]

    same_link = {**OLD[0], "guid": "cms2-other", "title": "Kazakhstan's wind farm, a year on"}
    feed_server.routes["/wire.rss"] = Route(rss([same_link, NEW, reimported[1]]))
    clock.advance(timedelta(days=1))
    assert _poll(store, clock) == ["ok"]
    titles = sorted(cluster.title for cluster in store.clusters(ClusterFilter()))
    assert titles == sorted([NEW["title"], same_link["title"]])
    store.close()


def test_a_source_answering_304_keeps_what_it_may_still_list(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.routes["/wire.rss"] = Route(rss(OLD), etag='"v1"')
    settings = _retention(tmp_path, 30)
    store = _store(tmp_path, feed_server.url("/wire.rss"))
    clock = FakeClock(START)
    assert _poll(store, clock) == ["ok"]
    for _ in range(50):  # 100 days of "not modified": nobody knows what the feed lists
        clock.advance(timedelta(days=2))
        assert _poll(store, clock) == ["not-modified"]
        apply_retention(store, settings, clock())
    assert store.story_count() == 0
    assert _remembered(store) == ["guid:news-2004-01", "guid:news-2004-02"]

    feed_server.routes["/wire.rss"] = Route(rss([NEW, *OLD]), etag='"v2"')
    clock.advance(timedelta(days=2))
    assert _poll(store, clock) == ["ok"]
    assert [cluster.title for cluster in store.clusters(ClusterFilter())] == [NEW["title"]]
    store.close()


def _ids(store: Store) -> tuple[list[int], list[int]]:
    clusters = store.db.execute("SELECT id FROM clusters ORDER BY id").fetchall()
    stories = store.db.execute("SELECT id FROM stories ORDER BY id").fetchall()
    return [row[0] for row in clusters], [row[0] for row in stories]


def test_ids_of_removed_clusters_and_stories_are_never_given_again(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.routes["/wire.rss"] = Route(rss(OLD))
    settings = _retention(tmp_path, 30)
    store = _store(tmp_path, feed_server.url("/wire.rss"))
    clock = FakeClock(START)
    _poll(store, clock)
    assert _ids(store) == ([1, 2], [1, 2])
    clock.advance(timedelta(days=31))
    assert apply_retention(store, settings, clock()) == 2  # the newest rows included

    feed_server.routes["/wire.rss"] = Route(rss([NEW, *OLD]))
    _poll(store, clock)
    assert _ids(store) == ([3], [3])  # not 1: `cluster:1` and a webhook's 1 were another
    clock.advance(timedelta(days=31))
    assert apply_retention(store, settings, clock()) == 1
    store.close()  # the mark is in the file

    store = _store(tmp_path, feed_server.url("/wire.rss"))
    later = {**NEW, "guid": "news-2027-02", "link": "https://wire.example/2027/02"}
    feed_server.routes["/wire.rss"] = Route(rss([later, NEW, *OLD]))
    _poll(store, clock)
    assert _ids(store) == ([4], [4])
    store.close()


def test_retention_finds_each_clusters_alerts_through_an_index(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Retention keeps a cluster with an alert still to send, and deleting a cluster deletes
    its outbox rows and matches: both looked a cluster up by reading every pending outbox
    row (the status index) or every match. Digests keep a day of matches pending, and an
    hourly retention at 10,000 sources ran for over ten minutes on the daemon's event loop."""
    feed_server.routes["/wire.rss"] = Route(rss(OLD))
    settings = _retention(tmp_path, 30)
    store = _store(tmp_path, feed_server.url("/wire.rss"))
    clock = FakeClock(START)
    _poll(store, clock)
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    clock.advance(timedelta(days=31))
    assert apply_retention(store, settings, clock()) == 2
    store.db.conn.set_trace_callback(None)

    keeps = [sql for sql in statements if "FROM outbox o WHERE o.cluster_id" in sql]
    assert keeps
    # What the foreign keys' ON DELETE CASCADE looks up for each cluster deleted.
    cascades = [
        "SELECT 1 FROM outbox WHERE cluster_id = 1",
        "SELECT 1 FROM alert_matches WHERE cluster_id = 1",
    ]
    for sql in [*keeps, *cascades]:
        plan = [row[3] for row in store.db.conn.execute(f"EXPLAIN QUERY PLAN {sql}")]
        lookups = [step for step in plan if "outbox" in step or "alert_matches" in step]
        assert lookups, plan
        assert all("(cluster_id=?)" in step for step in lookups), plan
    store.close()
