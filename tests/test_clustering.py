"""Cross-source clustering in the store: copies join, different reports stay apart, nothing
doubles across re-polls, restarts and reprocessing, and fingerprints go with the window.

Stories are made the way the pipeline makes them: HTML through `normalize_entry`, fingerprints
from `fingerprint_stories`, stored in a real SQLite file.
"""

from __future__ import annotations

import html
import json
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from syndicator.dedup import ClusterRules, entry_key, fingerprint_stories
from syndicator.models import ParsedEntry, Story
from syndicator.normalize import normalize_entry
from syndicator.storage import ConfiguredSource, Store, format_time, open_store
from tests.conftest import SHARED, FeedServer, Route, rss, syndicator, write_config

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
DATA = Path(__file__).parent / "data"
SEED_PAGE = (SHARED / "seed" / "000_ca4b3b679c3f7ead.txt").read_text(encoding="utf-8")
SEED_CLEAN = (DATA / "seed_clean.html").read_text(encoding="utf-8")
SITES = [f"https://site{n}.example/rss" for n in range(8)]

# One agency report on an earthquake, and another outlet's own report on the same quake.
QUAKE_WIRE = [
    "A magnitude 7.1 earthquake struck off the coast of northern Japan on Tuesday evening, "
    "shaking buildings in Sendai and prompting a tsunami warning for the Pacific shoreline of "
    "Miyagi and Fukushima prefectures, the Japan Meteorological Agency said.",
    "Public broadcaster NHK showed office workers sheltering under desks in Tokyo, more than "
    "300 kilometres away, as the shaking lasted for close to a minute. There were no immediate "
    "reports of deaths, but police said several people had been hurt by falling objects.",
    "Operators of the Onagawa and Fukushima Daini nuclear plants said they had found no "
    "abnormalities, and bullet train services in the north were suspended while engineers "
    "checked the tracks. The warning was lifted after waves of about 40 centimetres came ashore.",
    "The region was devastated in March 2011 by a magnitude 9.0 quake and tsunami that killed "
    "more than 18,000 people and caused meltdowns at the Fukushima Daiichi plant.",
]
QUAKE_OWN = [
    "Residents of Sendai spent a sleepless night outside their homes after a powerful tremor "
    "rattled the city, with many saying it brought back memories of the 2011 disaster that "
    "reshaped life along this stretch of coast.",
    "Shopkeeper Hiroshi Sato, 64, said shelves had emptied onto the floor of his grocery within "
    "seconds. 'I grabbed my wife and we ran for the car park,' he said, adding that neighbours "
    "had packed emergency bags before the sirens had even stopped.",
    "City officials opened twelve evacuation centres and handed out blankets and water, while "
    "volunteers checked on elderly residents living alone in the hillside districts.",
]

WRAPPERS = [
    ("Home / WORLD / {title}", "© 2026, Site {n}. All rights reserved.\n\nLeave a Reply"),
    ("Advertisement", "Check Also\n\nShare this:\n\nTweet"),
    ("Breaking News / Asia", "Read more: the latest world headlines\n\nLike this:\n\nLoading..."),
    ("Kwork.ru - услуги фрилансеров от 500 руб.", "Tags: world, asia\n\n© Site {n}"),
    ("Home » News » World", "Follow us on Twitter and Facebook\n\nAdvertisement"),
]


def _html(paragraphs: list[str]) -> str:
    return "".join(f"<p>{html.escape(p, quote=False)}</p>" for p in paragraphs)


def _entry(key: str, title: str, body_html: str, *, link: str = "", guid: str = "") -> ParsedEntry:
    return ParsedEntry(
        guid=guid or key,
        link=link or f"https://{key}.example/story",
        title=title,
        summary_html=body_html,
        content_html="",
        author="",
        published=NOW - timedelta(hours=2),
        updated=None,
    )


def _stories(source_id: int, *entries: ParsedEntry, now: datetime = NOW) -> list[Story]:
    """One feed document's entries as the pipeline makes them (normalised, fingerprinted)."""
    return fingerprint_stories(
        [normalize_entry(source_id, entry, entry_key(entry), now) for entry in entries]
    )


def _copy(n: int, title: str, paragraphs: list[str], keep: int) -> str:
    """A syndicated copy: site furniture around the first `keep` paragraphs."""
    head, tail = WRAPPERS[n % len(WRAPPERS)]
    lines = [head.format(title=title, n=n), *paragraphs[:keep], tail.format(n=n)]
    return "".join(
        f"<p>{html.escape(line, quote=False)}</p>" for line in "\n\n".join(lines).split("\n\n")
    )


def _open(path: Path, rules: ClusterRules | None = None) -> Store:
    store = open_store(path, rules)
    store.sync_sources([ConfiguredSource(url, "", "", True, None) for url in SITES], NOW)
    return store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return _open(tmp_path / "c.db")


def _cluster_of(store: Store, source_id: int, key: str) -> int:
    row = store.db.execute(
        "SELECT cluster_id FROM stories WHERE source_id = ? AND guid_key = ?",
        (source_id, f"guid:{key}"),
    ).fetchone()
    assert row is not None, key
    return int(row[0])


def _counts(store: Store) -> tuple[int, int]:
    return store.story_count(), store.cluster_count()


# ---------------------------------------------------------------------------------------------
# The seed page and its clean version.


def test_the_seed_page_and_a_clean_version_of_its_story_are_one_cluster(store: Store) -> None:
    page = _html([line for line in SEED_PAGE.splitlines() if line.strip()])
    store.store_stories(
        _stories(
            1, _entry("wire", "CSTO peacekeepers begin withdrawal from Kazakhstan", SEED_CLEAN)
        ),
        NOW,
    )
    store.store_stories(
        _stories(2, _entry("paradox", "Russian-led troops leaving Kazakhstan", page)), NOW
    )

    assert _cluster_of(store, 1, "wire") == _cluster_of(store, 2, "paradox")
    cluster = store.cluster_of(cluster_id=_cluster_of(store, 1, "wire"))
    assert cluster is not None
    assert cluster.title == "CSTO peacekeepers begin withdrawal from Kazakhstan"  # first seen
    copy = cluster.copies[1]
    assert copy.join_reason == "similar-text"
    assert copy.join_score is not None
    assert copy.join_score > 0.9
    assert copy.joined_story_id == cluster.representative.id


# ---------------------------------------------------------------------------------------------
# Copies join, own reports stay apart.


def test_one_agency_report_copied_by_five_sites_is_one_cluster(store: Store) -> None:
    store.store_stories(
        _stories(1, _entry("agency", "Strong quake hits northern Japan", _html(QUAKE_WIRE))), NOW
    )
    headlines = [
        "Japan earthquake: tsunami warning issued after 7.1 tremor",
        "Sendai shaken by powerful offshore quake",
        "7.1-magnitude earthquake rocks Japan's northeast",
        "Tsunami alert as big quake strikes off Miyagi",
        "Earthquake in Japan injures several, halts bullet trains",
    ]
    for n, title in enumerate(headlines, start=2):
        keep = 2 + n % 3  # some copies are cut after two paragraphs
        page = _copy(n, title, QUAKE_WIRE, keep)
        store.store_stories(_stories(n, _entry(f"site{n}", title, page)), NOW)

    clusters = {_cluster_of(store, n, f"site{n}") for n in range(2, 7)}
    assert clusters == {_cluster_of(store, 1, "agency")}
    cluster = store.cluster_of(cluster_id=clusters.pop())
    assert cluster is not None
    assert len(cluster.copies) == 6
    assert {copy.source_id for copy in cluster.copies} == set(range(1, 7))
    assert next(copy.join_reason for copy in cluster.copies) == "first"
    assert all(copy.join_reason == "similar-text" for copy in cluster.copies[1:])


def test_two_outlets_own_reports_on_one_earthquake_are_two_related_clusters(store: Store) -> None:
    store.store_stories(
        _stories(
            1,
            _entry(
                "agency", "Magnitude 7.1 earthquake strikes off northern Japan", _html(QUAKE_WIRE)
            ),
        ),
        NOW,
    )
    store.store_stories(
        _stories(
            2,
            _entry(
                "own",
                "Sendai residents shaken as 7.1 earthquake strikes northern Japan",
                _html(QUAKE_OWN),
            ),
        ),
        NOW,
    )

    wire, own = _cluster_of(store, 1, "agency"), _cluster_of(store, 2, "own")
    assert wire != own
    [link] = store.related_of(wire)
    assert link.cluster_id == own
    assert link.score >= 0.35
    assert [back.cluster_id for back in store.related_of(own)] == [wire]


def test_different_stories_from_one_site_with_the_same_furniture_stay_apart(store: Store) -> None:
    head, tail = "Home / WORLD / News", "© 2026, Site. All rights reserved.\n\nLeave a Reply"
    cookie = (
        "We use cookies and similar technologies to improve your experience on our website "
        "and to show you personalised advertising."
    )
    bodies = [QUAKE_WIRE[:2], QUAKE_OWN[:2], SEED_CLEAN.split("</p>")[:2]]
    entries = [
        _entry(f"page{n}", f"Story {n}", _html([head, cookie, *body, tail]))
        for n, body in enumerate(bodies)
    ]
    store.store_stories(_stories(1, *entries), NOW)

    assert _counts(store) == (3, 3)


def test_headline_only_items_that_say_nothing_else_are_not_one_story(store: Store) -> None:
    # Feeds whose every item body is the same word (Hacker News: "Comments").
    entries = [
        _entry(f"hn{n}", f"Show HN: tool number {n} for {topic}", "<a href='x'>Comments</a>")
        for n, topic in enumerate(["maps", "compilers", "gardening", "audio"])
    ]
    store.store_stories(_stories(1, *entries), NOW)
    assert _counts(store) == (4, 4)


# ---------------------------------------------------------------------------------------------
# Exact identity across sources.


def test_a_shared_permalink_or_urn_guid_joins_but_a_bare_number_does_not(store: Store) -> None:
    body = _html(QUAKE_WIRE[:1])
    first = _entry(
        "a",
        "One",
        body,
        guid="urn:newsml:wire.example:20261127:quake-01",
        link="https://a.example/1",
    )
    same = _entry(
        "b",
        "Two",
        _html(QUAKE_OWN[:1]),
        guid="urn:newsml:wire.example:20261127:quake-01",
        link="https://b.example/9",
    )
    store.store_stories(_stories(1, first), NOW)
    store.store_stories(_stories(2, same), NOW)
    numbered = [
        _entry(f"n{n}", f"Numbered {n}", _html([p]), guid="12345", link=f"https://n{n}.example/x")
        for n, p in enumerate([QUAKE_OWN[1], QUAKE_OWN[2]])
    ]
    store.store_stories(_stories(3, numbered[0]), NOW)
    store.store_stories(_stories(4, numbered[1]), NOW)

    rows = store.db.execute(
        "SELECT source_id, cluster_id, join_reason FROM stories ORDER BY source_id"
    ).fetchall()
    assert rows[1][1] == rows[0][1]
    assert rows[1][2] == "guid"
    assert rows[2][1] != rows[3][1]  # "12345" in two feeds says nothing


# ---------------------------------------------------------------------------------------------
# Nothing doubled; clusters survive restarts.


def test_re_polling_restarting_and_reprocessing_never_double_a_story_or_a_cluster(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.db"
    store = _open(path)
    wire = _stories(1, _entry("agency", "Strong quake hits northern Japan", _html(QUAKE_WIRE)))
    copy = _stories(2, _entry("site2", "Japan quake", _copy(2, "Japan quake", QUAKE_WIRE, 3)))
    store.store_stories(wire, NOW)
    store.store_stories(copy, NOW)
    assert _counts(store) == (2, 1)
    store.store_stories(wire + copy, NOW + timedelta(minutes=15))  # re-poll, re-sent entries
    assert _counts(store) == (2, 1)
    store.close()

    store = _open(path)  # restart: the fingerprints were stored, nothing is re-read
    store.store_stories(copy, NOW + timedelta(hours=1))
    late = _stories(3, _entry("site3", "Quake, tsunami warning", _copy(3, "Quake", QUAKE_WIRE, 2)))
    store.store_stories(late, NOW + timedelta(hours=1))
    assert _counts(store) == (3, 1)
    assert _cluster_of(store, 3, "site3") == _cluster_of(store, 1, "agency")

    # Reprocessing: the same documents again, fingerprinted afresh.
    store.store_stories(
        _stories(1, _entry("agency", "Strong quake hits northern Japan", _html(QUAKE_WIRE))), NOW
    )
    assert _counts(store) == (3, 1)
    store.close()


def test_a_changed_story_is_updated_in_its_cluster(store: Store) -> None:
    store.store_stories(_stories(1, _entry("agency", "Quake hits Japan", _html(QUAKE_WIRE))), NOW)
    store.store_stories(_stories(2, _entry("site2", "Copy", _copy(2, "Copy", QUAKE_WIRE, 3))), NOW)
    edited = _stories(
        1, _entry("agency", "Quake hits Japan, tsunami warning lifted", _html(QUAKE_WIRE[:3]))
    )
    result = store.store_stories(edited, NOW + timedelta(hours=1))
    assert (result.inserted, result.updated) == (0, 1)
    assert _counts(store) == (2, 1)


def test_copies_of_a_story_filled_out_after_its_first_version_join_it(store: Store) -> None:
    """A site's breaking-news stub, then the full report under the same guid, then other
    sites copying the full report: the copies compared themselves with the stub's fingerprint,
    found nothing and made a cluster of their own, without the source that had it first."""
    stub = _html(["A strong earthquake has struck northern Japan. More soon."])
    store.store_stories(_stories(1, _entry("agency", "BREAKING: Quake hits Japan", stub)), NOW)
    full = _stories(1, _entry("agency", "Quake hits Japan, tsunami warning", _html(QUAKE_WIRE)))
    assert store.store_stories(full, NOW + timedelta(minutes=20)).updated == 1
    later = NOW + timedelta(minutes=40)
    for n in (2, 3):
        copy = _copy(n, "Japan quake: tsunami warning", QUAKE_WIRE, 4)
        store.store_stories(_stories(n, _entry(f"site{n}", "Japan quake", copy)), later)
    assert _counts(store) == (3, 1)
    assert _cluster_of(store, 2, "site2") == _cluster_of(store, 1, "agency")
    # Its old keys are gone with the old fingerprint: retention leaves none behind.
    assert store.prune_fingerprints(NOW + timedelta(days=30)) == 3
    assert store.db.execute("SELECT COUNT(*) FROM near_keys").fetchone()[0] == 0


def test_a_copy_dated_1970_does_not_take_the_cluster_back_to_1970(store: Store) -> None:
    """A copy whose CMS wrote its zero date ("01 Jan 1970") joined by the article's URL,
    counted as published first: it became the representative and moved the cluster's date
    to 1970, out of every feed's newest entries."""
    link = "https://wire.example/quake"
    store.store_stories(_stories(1, _entry("wire", "Quake", _html(QUAKE_WIRE), link=link)), NOW)
    zero = replace(
        _entry("site2", "Site copy", _copy(2, "Site copy", QUAKE_WIRE, 4), link=link),
        published=datetime(1970, 1, 1, tzinfo=UTC),
    )
    store.store_stories(_stories(2, zero), NOW + timedelta(hours=1))
    assert _counts(store) == (2, 1)
    cluster = store.cluster_of(cluster_id=_cluster_of(store, 1, "wire"))
    assert cluster is not None
    assert cluster.title == "Quake"
    assert cluster.published_at == NOW - timedelta(hours=2)


def test_a_copy_dated_before_its_feed_last_listed_nothing_does_not_take_the_story(
    store: Store,
) -> None:
    """A copy joining by the article's URL (or guid) with an earlier date took the cluster:
    its title, link and source led the entry, from a site that writes local time as UTC or
    a source claiming another's story. Its feed was read after that date, listing later
    entries but not it, so the date is not believed: it joins as first seen. On a source's
    first poll (a back catalogue), or after an empty read, the date still counts."""
    link = "https://wire.example/quake"
    wire = _entry("wire", "Quake hits Japan", _html(QUAKE_WIRE), link=link)
    store.store_stories(_stories(1, wire), NOW)

    def copy(n: int) -> ParsedEntry:
        body = _copy(n, "Evil headline", QUAKE_WIRE, 4)
        return replace(_entry(f"site{n}", "Evil headline", body, link=link), published=early)

    early = NOW - timedelta(hours=5)  # before the wire's NOW - 2 h
    # An hour ago its feed listed a later entry (dated NOW - 2 h), but not this one.
    own = _entry("site2-own", "Storm in Osaka", _html(QUAKE_OWN))
    store.store_stories(_stories(2, own), NOW - timedelta(hours=1))
    store.db.execute(
        "UPDATE sources SET last_success_at = ? WHERE id = 2",
        (format_time(NOW - timedelta(hours=1)),),
    )
    store.db.conn.commit()
    store.store_stories(_stories(2, copy(2)), NOW + timedelta(minutes=10))
    cluster = store.cluster_of(cluster_id=_cluster_of(store, 1, "wire"))
    assert cluster is not None
    assert (cluster.title, cluster.published_at) == ("Quake hits Japan", NOW - timedelta(hours=2))
    assert [copy.id for copy in cluster.copies if copy.source_id == 2]  # it joined

    store.store_stories(_stories(3, copy(3)), NOW + timedelta(minutes=20))  # a first poll
    cluster = store.cluster_of(cluster_id=_cluster_of(store, 1, "wire"))
    assert cluster is not None
    assert (cluster.title, cluster.published_at) == ("Evil headline", early)


# ---------------------------------------------------------------------------------------------
# Settings: window and threshold.


def test_copies_further_apart_than_the_window_are_not_compared(tmp_path: Path) -> None:
    store = _open(tmp_path / "c.db", ClusterRules(window=timedelta(hours=24)))
    store.store_stories(_stories(1, _entry("agency", "Quake", _html(QUAKE_WIRE))), NOW)
    later = NOW + timedelta(hours=30)
    entry = _entry("site2", "Quake copy", _copy(2, "Quake copy", QUAKE_WIRE, 4))
    store.store_stories(_stories(2, replace(entry, published=later), now=later), later)
    assert _counts(store) == (2, 2)


def test_the_threshold_is_configurable(tmp_path: Path) -> None:
    strict = _open(tmp_path / "strict.db", ClusterRules(copy_threshold=1.0))
    loose = _open(tmp_path / "loose.db")
    edited = [p.replace("said", "reported").replace("the", "a") for p in QUAKE_WIRE]
    for store in (strict, loose):
        store.store_stories(_stories(1, _entry("agency", "Quake", _html(QUAKE_WIRE))), NOW)
        store.store_stories(_stories(2, _entry("site2", "Quake, edited", _html(edited))), NOW)
    assert _counts(strict) == (2, 2)
    assert _counts(loose) == (2, 1)


def test_recluster_lets_a_lone_copy_join_its_original_under_a_looser_threshold(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.db"
    strict = _open(path, ClusterRules(copy_threshold=1.0))
    edited = [p.replace("said", "reported").replace("the", "a") for p in QUAKE_WIRE]
    strict.store_stories(_stories(1, _entry("agency", "Quake", _html(QUAKE_WIRE))), NOW)
    later = NOW + timedelta(minutes=5)
    strict.store_stories(_stories(2, _entry("site2", "Quake, edited", _html(edited))), later)
    strict.store_stories(_stories(3, _entry("own", "Sendai", _html(QUAKE_OWN))), later)
    original, copy = _cluster_of(strict, 1, "agency"), _cluster_of(strict, 2, "site2")
    strict.db.execute(  # an alert already sent for the copy's cluster
        "INSERT INTO alert_matches (rule, cluster_id, story_id, score, matched_at) "
        "VALUES ('quake', ?, 2, 1.0, 'x')",
        (copy,),
    )
    strict.db.execute(
        "INSERT INTO outbox (rule, cluster_id, channel, status, next_attempt_at, created_at) "
        "VALUES ('quake', ?, 'hook', 'sent', 'x', 'x')",
        (copy,),
    )
    strict.db.conn.commit()
    assert _counts(strict) == (3, 3)
    strict.close()

    loose = _open(path)  # the default threshold, as after editing [dedup]
    seen: list[tuple[int, int]] = []
    result = loose.recluster_singletons(lambda done, total: seen.append((done, total)))
    assert (result.examined, result.joined) == (3, 1)
    assert seen[-1] == (3, 3)
    assert _counts(loose) == (3, 2)  # the copy joined; the outlet's own report stayed apart
    assert _cluster_of(loose, 2, "site2") == original
    cluster = loose.cluster_of(cluster_id=original)
    assert cluster is not None
    assert cluster.representative.title == "Quake"  # the first seen stays first
    reason = loose.db.execute("SELECT join_reason FROM stories WHERE guid = 'site2'").fetchone()
    assert reason[0] == "similar-text"
    # The alert sent for the copy counts as sent for the cluster it joined: never again.
    assert loose.db.execute(
        "SELECT rule, status FROM outbox WHERE cluster_id = ?", (original,)
    ).fetchall() == [("quake", "sent")]
    assert loose.recluster_singletons().joined == 0  # again: nothing left to do


def test_recluster_leaves_a_story_whose_alert_is_still_waiting(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    strict = _open(path, ClusterRules(copy_threshold=1.0))
    edited = [p.replace("said", "reported").replace("the", "a") for p in QUAKE_WIRE]
    strict.store_stories(_stories(1, _entry("agency", "Quake", _html(QUAKE_WIRE))), NOW)
    strict.store_stories(_stories(2, _entry("site2", "Quake, edited", _html(edited))), NOW)
    strict.db.execute(
        "INSERT INTO outbox (rule, cluster_id, channel, status, next_attempt_at, created_at) "
        "VALUES ('quake', ?, 'hook', 'pending', 'x', 'x')",
        (_cluster_of(strict, 2, "site2"),),
    )
    strict.db.conn.commit()
    strict.close()
    loose = _open(path)
    assert loose.recluster_singletons().joined == 0
    assert _counts(loose) == (2, 2)


# ---------------------------------------------------------------------------------------------
# Fingerprints leave with the window and with retention.


def _fingerprint_rows(store: Store) -> tuple[int, int]:
    fingerprints = store.db.execute("SELECT COUNT(*) FROM story_fingerprints").fetchone()[0]
    keys = store.db.execute("SELECT COUNT(*) FROM near_keys").fetchone()[0]
    return fingerprints, keys


def test_fingerprints_past_the_window_are_pruned_with_their_keys(store: Store) -> None:
    store.store_stories(_stories(1, _entry("agency", "Quake hits Japan", _html(QUAKE_WIRE))), NOW)
    recent = _entry("own", "Sendai residents spend night outside", _html(QUAKE_OWN))
    later = NOW + timedelta(days=3)
    store.store_stories(_stories(2, replace(recent, published=later), now=later), later)
    assert _fingerprint_rows(store)[0] == 2

    removed = store.prune_fingerprints(NOW + timedelta(days=3, hours=1))

    assert removed == 1
    fingerprints, keys = _fingerprint_rows(store)
    assert fingerprints == 1
    own_keys = store.db.execute(
        "SELECT COUNT(*) FROM near_keys k JOIN stories s ON s.id = k.story_id WHERE s.source_id = 2"
    ).fetchone()[0]
    assert keys == own_keys > 0  # only the recent story's keys are left
    assert _counts(store) == (2, 2)  # the stories themselves stay


def test_retention_removes_fingerprints_keys_and_links_with_the_clusters(store: Store) -> None:
    old = NOW - timedelta(days=100)
    wire = _entry(
        "agency", "Magnitude 7.1 earthquake strikes off northern Japan", _html(QUAKE_WIRE)
    )
    own = _entry(
        "own", "Sendai residents shaken as 7.1 earthquake strikes northern Japan", _html(QUAKE_OWN)
    )
    store.store_stories(_stories(1, wire), old)
    store.store_stories(_stories(2, own), old)
    assert store.db.execute("SELECT COUNT(*) FROM cluster_links").fetchone()[0] == 2

    assert store.delete_clusters_before(NOW - timedelta(days=90)) == 2

    assert _fingerprint_rows(store) == (0, 0)
    assert store.db.execute("SELECT COUNT(*) FROM cluster_links").fetchone()[0] == 0
    assert store.db.execute("PRAGMA foreign_key_check").fetchall() == []


# ---------------------------------------------------------------------------------------------
# End to end: two feeds on loopback, `run --once`, `search` and `explain`.


def test_a_syndicated_copy_served_by_another_feed_joins_and_explain_shows_the_score(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    page = _html([line for line in SEED_PAGE.splitlines() if line.strip()])
    feed_server.routes["/wire.rss"] = Route(
        rss(
            [
                {
                    "title": "CSTO peacekeepers begin withdrawal from Kazakhstan",
                    "link": "https://wire.example/csto",
                    "guid": "csto-1",
                    "description": html.escape(SEED_CLEAN),
                }
            ],
            "Wire",
        )
    )
    feed_server.routes["/paradox.rss"] = Route(
        rss(
            [
                {
                    "title": "Russian-led troops leaving Kazakhstan - paradox",
                    "link": "https://paradox.example/2022/01/13/troops",
                    "guid": "p-77",
                    "description": html.escape(page),
                }
            ],
            "paradox",
        )
    )
    config = write_config(tmp_path, [feed_server.url("/wire.rss"), feed_server.url("/paradox.rss")])
    for _ in range(2):  # the second run re-polls the same entries: nothing doubles
        result = syndicator("--config", str(config), "run", "--once", cwd=tmp_path)
        assert result.returncode == 0, result.stderr

    found = json.loads(
        syndicator("--config", str(config), "search", "csto", "--json", cwd=tmp_path).stdout
    )
    assert len(found) == 1
    assert found[0]["copies"] == 2
    # Both arrive in one cycle: whichever was stored first represents the cluster.
    assert found[0]["title"] in {
        "CSTO peacekeepers begin withdrawal from Kazakhstan",
        "Russian-led troops leaving Kazakhstan",  # the outlet's suffix is gone
    }
    explained = json.loads(
        syndicator(
            "--config",
            str(config),
            "explain",
            f"cluster:{found[0]['cluster_id']}",
            "--json",
            cwd=tmp_path,
        ).stdout
    )
    joined = explained["members"][1]
    assert joined["join_reason"] == "similar-text"
    assert joined["join_score"] > 0.9
    plain = syndicator(
        "--config", str(config), "explain", f"story:{joined['story_id']}", cwd=tmp_path
    ).stdout
    assert "similar text" in plain
    assert f"story:{explained['members'][0]['story_id']}" in plain


def test_the_copy_published_first_represents_the_cluster_whatever_the_order_it_arrives_in(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    # Another outlet's copy is polled first. Then a feed that lists its newest entry first
    # brings the outlet's re-post of its own story under a new headline, then its original,
    # published before the other outlet's copy (tvn24 and Business Insider Polska re-posted so
    # on 6-7 February 2023). The original leads the feed entry, the search and its sources.
    # The dates are recent: the clustering window counts back from now.
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    original_at, other_at, repost_at = (hour - timedelta(hours=n) for n in (6, 5, 2))
    body = html.escape(_html(QUAKE_WIRE[:2]))
    outlet = Route(
        rss(
            [
                {
                    "title": "Tsunami warning lifted after Japan quake",
                    "link": "https://outlet.example/quake-tsunami-lifted-77",
                    "guid": "quake-b",
                    "description": body,
                    "date": format_datetime(repost_at),
                },
                {
                    "title": "Magnitude 7.1 quake strikes off northern Japan",
                    "link": "https://outlet.example/quake-77",
                    "guid": "quake-a",
                    "description": body,
                    "date": format_datetime(original_at),
                },
            ],
            "Outlet",
        )
    )
    feed_server.routes["/other.rss"] = Route(
        rss(
            [
                {
                    "title": "Japan quake: tsunami warning for Miyagi and Fukushima",
                    "link": "https://other.example/japan-quake",
                    "guid": "other-1",
                    "description": body,
                    "date": format_datetime(other_at),
                }
            ],
            "Other",
        )
    )
    feed_server.routes["/outlet.rss"] = Route(rss([], "Outlet"))
    sources = [(feed_server.url(path), 'interval = "1s"') for path in ("/outlet.rss", "/other.rss")]
    config = write_config(tmp_path, sources)
    assert syndicator("--config", str(config), "run", "--once", cwd=tmp_path).returncode == 0
    feed_server.routes["/outlet.rss"] = outlet
    time.sleep(1.5)  # the outlet is due again
    assert syndicator("--config", str(config), "run", "--once", cwd=tmp_path).returncode == 0

    [found] = json.loads(
        syndicator("--config", str(config), "search", "tsunami", "--json", cwd=tmp_path).stdout
    )
    assert found["copies"] == 3
    assert found["title"] == "Magnitude 7.1 quake strikes off northern Japan"
    assert found["url"] == "https://outlet.example/quake-77"
    assert found["published_at"] == original_at.isoformat()
    assert found["sources"] == ["Outlet", "Other"]  # the first to publish first
    entry = (tmp_path / "feeds" / "feeds" / "all.atom").read_text(encoding="utf-8")
    assert ">Magnitude 7.1 quake strikes off northern Japan</title>" in entry  # (xml:lang="en")
    assert 'href="https://outlet.example/quake-77" rel="alternate"' in entry

    explained = json.loads(
        syndicator(
            "--config", str(config), "explain", f"cluster:{found['cluster_id']}", "--json",
            cwd=tmp_path,
        ).stdout
    )  # fmt: skip
    [original] = [m for m in explained["members"] if m["title"].startswith("Magnitude")]
    assert original["join_reason"] == "similar-text"
    assert original["published_at"] == original_at.isoformat()
    plain = syndicator(
        "--config", str(config), "explain", f"cluster:{found['cluster_id']}", cwd=tmp_path
    ).stdout
    assert f"; story:{original['story_id']}, published earlier, represents it" in plain
    assert f"published first ({original_at:%Y-%m-%d %H:%M}), it represents the cluster" in plain


ARCHIVED = SHARED / "corpus" / "feeds-real" / "archived-entries"


def _archived(day: str, feed: str, *titles: str) -> list[dict[str, str]]:
    """Entries of one archived feed and day (rumca-js's RSS-Link-Database), as `rss` items."""
    path = ARCHIVED / day / f"rumca_{feed}_entries.json"
    entries = json.loads(path.read_text(encoding="utf-8"))["entries"]
    return [
        {
            "title": html.escape(entry["title"]),
            "link": html.escape(entry["link"]),
            "description": html.escape(entry["description"]),
            "date": format_datetime(datetime.fromisoformat(entry["date_published"])),
        }
        for entry in entries
        if entry["title"] in titles
    ]


def test_two_stories_under_one_agency_photo_are_two_clusters(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    # The Epoch Times' items hold only the caption of their lead photo; on 6 and 7 February
    # 2023 two different stories had the same photo of rescuers in Sanliurfa.
    feed = "https.www.theepochtimes.comc-worldfeed"
    items = _archived(
        "2023-02-07", feed, "Australia Pledges $10M for Turkey Earthquake Relief"
    ) + _archived(
        "2023-02-06", feed, "Southern Turkey Rocked by 2nd Powerful Quake in Less Than 12 Hours"
    )
    assert len(items) == 2
    assert items[0]["description"] == items[1]["description"]
    feed_server.routes["/epoch.rss"] = Route(rss(items, "The Epoch Times"))
    config = write_config(tmp_path, [feed_server.url("/epoch.rss")])
    assert syndicator("--config", str(config), "run", "--once", cwd=tmp_path).returncode == 0

    found = json.loads(
        syndicator("--config", str(config), "search", "turkey", "--json", cwd=tmp_path).stdout
    )
    assert sorted(cluster["copies"] for cluster in found) == [1, 1]


def test_the_days_of_a_series_are_not_copies_of_each_other(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Al Jazeera's daily "Russia-Ukraine war: List of key events, day 348" and "day 349" (a
    headline and one line that differ only in the day's number) were one story: the second
    day's list vanished into the first's cluster. A copy of one day still joins it."""
    feed = "http.www.aljazeera.comxmlrssall.xml"
    day348 = _archived("2023-02-06", feed, "Russia-Ukraine war: List of key events, day 348")
    day349 = _archived("2023-02-07", feed, "Russia-Ukraine war: List of key events, day 349")
    assert len(day348) == len(day349) == 1
    copy = dict(day348[0], link="https://wire.example/key-events-348")
    feed_server.routes["/aj.rss"] = Route(rss(day349 + day348, "Al Jazeera"))
    feed_server.routes["/wire.rss"] = Route(rss([copy], "Wire"))
    config = write_config(tmp_path, [feed_server.url("/aj.rss"), feed_server.url("/wire.rss")])
    assert syndicator("--config", str(config), "run", "--once", cwd=tmp_path).returncode == 0

    found = json.loads(
        syndicator("--config", str(config), "search", "key events", "--json", cwd=tmp_path).stdout
    )
    assert sorted(cluster["copies"] for cluster in found) == [1, 2]


def test_an_old_dated_story_seen_now_still_finds_its_copy_in_the_next_poll(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    # An archive replayed a day per poll (or a new source's back catalogue): the stories are
    # dated February 2023 but first seen now, and the copy comes a poll later. The window
    # compares the two publication times (an hour apart), so the copy joins.
    body = html.escape(_html(QUAKE_WIRE[:2]))
    wire = {"title": "Quake hits Japan", "link": "https://wire.example/q", "guid": "q-1"}
    copy = {"title": "Japan quake: tsunami alert", "link": "https://copy.example/q", "guid": "c"}
    feed_server.routes["/wire.rss"] = Route(
        rss([{**wire, "description": body, "date": "Mon, 06 Feb 2023 08:00:00 GMT"}], "Wire")
    )
    feed_server.routes["/copy.rss"] = Route(rss([], "Copy"))
    sources = [(feed_server.url(path), 'interval = "1s"') for path in ("/wire.rss", "/copy.rss")]
    config = write_config(tmp_path, sources)
    assert syndicator("--config", str(config), "run", "--once", cwd=tmp_path).returncode == 0
    feed_server.routes["/copy.rss"] = Route(
        rss([{**copy, "description": body, "date": "Mon, 06 Feb 2023 09:00:00 GMT"}], "Copy")
    )
    time.sleep(1.5)  # the copy's feed is due again
    assert syndicator("--config", str(config), "run", "--once", cwd=tmp_path).returncode == 0

    [found] = json.loads(
        syndicator("--config", str(config), "search", "japan", "--json", cwd=tmp_path).stdout
    )
    assert found["copies"] == 2
    assert found["title"] == "Quake hits Japan"


def test_fingerprints_of_old_dated_stories_are_kept_a_window_after_they_were_seen(
    store: Store,
) -> None:
    old = replace(
        _entry("agency", "Quake hits Japan", _html(QUAKE_WIRE)), published=NOW - timedelta(days=30)
    )
    store.store_stories(_stories(1, old), NOW)

    assert store.prune_fingerprints(NOW + timedelta(hours=1)) == 0
    assert store.prune_fingerprints(NOW + timedelta(days=3, hours=1)) == 1
    assert _fingerprint_rows(store) == (0, 0)


def test_explain_says_how_a_short_copy_was_scored(tmp_path: Path, feed_server: FeedServer) -> None:
    # MSN re-published AP's headline with no text; ABC News had it with one sentence. Texts
    # this short are scored by the share of both texts' shingles they have in common, not by
    # how much of the shorter is in the longer (all of MSN's is in ABC's).
    title = "Powerful 7.8 quake knocks down buildings in Turkey, Syria"
    abc = _archived("2023-02-06", "http.feeds.abcnews.comabcnewstopstories", title)
    msn = _archived("2023-02-06", "http.www.msn.comrssnews.aspx", title)
    feed_server.routes["/abc.rss"] = Route(rss(abc, "ABC News"))
    feed_server.routes["/msn.rss"] = Route(rss(msn, "MSN"))
    config = write_config(tmp_path, [feed_server.url("/abc.rss"), feed_server.url("/msn.rss")])
    assert syndicator("--config", str(config), "run", "--once", cwd=tmp_path).returncode == 0

    [found] = json.loads(
        syndicator("--config", str(config), "search", "temblor", "--json", cwd=tmp_path).stdout
    )
    assert found["copies"] == 2
    assert found["sources"] == ["ABC News", "MSN"]  # published 02:53 and 04:02
    plain = syndicator(
        "--config", str(config), "explain", f"cluster:{found['cluster_id']}", cwd=tmp_path
    ).stdout
    assert "of their word sequences in common (texts this short are compared whole)" in plain
    assert "of the shorter text is in" not in plain
