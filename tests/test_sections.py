"""Sections and RFC 5005 archives, through `publish_all` on a real SQLite store and files.

Stories are stored directly (no polling) so each test controls exactly which clusters exist;
the published files are read back with lxml and feedparser.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import random
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import feedparser
import pytest
from lxml import etree

from syndicator import publishing
from syndicator.atom import FeedContext, render_atom
from syndicator.config import Settings, load_settings
from syndicator.daemon import publish_and_notify
from syndicator.errors import ConfigError
from syndicator.metrics import Metrics
from syndicator.models import ParsedEntry, Section, Story, Tag, TagKind
from syndicator.normalize import normalize_entry
from syndicator.publishing import feed_definition, feed_specs, publish_all
from syndicator.server import build_feed_app, listen
from syndicator.storage import ClusterFilter, ConfiguredSource, Store, open_store

from .atom_checks import check_atom
from .conftest import SHARED

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ATOM = "{http://www.w3.org/2005/Atom}"
FH = "{http://purl.org/syndication/history/1.0}"


def _settings(tmp: Path, sections: str) -> Settings:
    config = tmp / "syndicator.toml"
    config.write_text(
        f"""
[storage]
path = "{tmp / "s.db"}"
[publish]
output_dir = "{tmp / "out"}"
base_url = "http://feeds.test/"
[[sources]]
url = "https://a.example/rss"
name = "A"
{sections}
""",
        encoding="utf-8",
    )
    return load_settings(config)


def _story(key: str, hours: float, *, title: str = "", tags: tuple[Tag, ...] = ()) -> Story:
    rnd = random.Random(key)
    words = [
        "".join(rnd.choices("abcdefghijklmnopqrstuvwxyz", k=rnd.randint(4, 9))) for _ in range(40)
    ]
    text = " ".join(words)  # made-up words: no two stories share a phrase or a headline word
    url = f"https://a.example/{key}"
    title = title or " ".join(words[:6]).capitalize()
    return Story(
        source_id=1,
        guid_key=f"guid:{key}",
        guid=key,
        url=url,
        canonical_url=url,
        title=title,
        summary=text[:80],
        content_html=f"<p>{text}</p>",
        text=text,
        author="",
        published_at=NOW + timedelta(hours=hours),
        content_hash=f"{title}|{url}",
        tags=tags,
    )


def _region(code: str, score: float) -> Tag:
    return Tag(kind=TagKind.REGION, code=code, score=score, focus=True, evidence=("test",))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = open_store(tmp_path / "s.db")
    store.sync_sources([ConfiguredSource("https://a.example/rss", "A", "", True, None)], NOW)
    return store


def _add(store: Store, first: int, count: int) -> None:
    """Stories first..first+count-1, one an hour, each its own cluster."""
    stories = [_story(f"s{i:04d}", i) for i in range(first, first + count)]
    store.store_stories(stories, NOW + timedelta(hours=first + count))


def _guids(path: Path) -> list[str]:
    parsed = feedparser.parse(path.read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    return [entry.link.rsplit("/", 1)[1] for entry in parsed.entries]


def _links(path: Path) -> dict[str, str]:
    root = etree.parse(str(path)).getroot()
    return {link.get("rel"): link.get("href") for link in root.findall(f"{ATOM}link")}


def _archive(tmp: Path, page: int) -> Path:
    return tmp / "out" / "feeds" / "archive" / "desk" / f"{page}.atom"


DESK = """
[[sections]]
slug = "desk"
title = "Desk"
max_entries = 5
"""


def test_current_feed_holds_the_newest_and_older_entries_move_to_archive_pages(
    tmp_path: Path, store: Store
) -> None:
    settings = _settings(tmp_path, DESK)
    current = tmp_path / "out" / "feeds" / "desk.atom"
    _add(store, 0, 5)
    publish_all(store, settings, NOW)
    assert _guids(current) == [f"s{i:04d}" for i in range(4, -1, -1)]
    assert "prev-archive" not in _links(current)
    assert not _archive(tmp_path, 1).exists()

    # Three newer stories push three out: not a full page yet, so the current document
    # still carries them after the newest five (nothing is hidden before it is archived).
    _add(store, 5, 3)
    publish_all(store, settings, NOW)
    assert _guids(current)[:5] == [f"s{i:04d}" for i in range(7, 2, -1)]
    assert sorted(_guids(current)[5:]) == ["s0000", "s0001", "s0002"]
    assert not _archive(tmp_path, 1).exists()

    # Two more make a full page of five pushed out: frozen as archive page 1.
    _add(store, 8, 2)
    publish_all(store, settings, NOW)
    assert _guids(current) == [f"s{i:04d}" for i in range(9, 4, -1)]
    page1 = _archive(tmp_path, 1)
    assert sorted(_guids(page1)) == [f"s{i:04d}" for i in range(5)]
    assert _links(current)["prev-archive"] == "http://feeds.test/feeds/archive/desk/1.atom"
    check_atom(page1)
    check_atom(current)


def test_archive_pages_follow_rfc_5005_and_never_change(tmp_path: Path, store: Store) -> None:
    settings = _settings(tmp_path, DESK)
    current = tmp_path / "out" / "feeds" / "desk.atom"
    for batch in range(5):
        _add(store, batch * 5, 5)
        publish_all(store, settings, NOW + timedelta(hours=batch))
    page1, page2, page3, page4 = (_archive(tmp_path, n) for n in (1, 2, 3, 4))
    assert not _archive(tmp_path, 5).exists()
    assert _guids(current) == [f"s{i:04d}" for i in range(24, 19, -1)]
    seen = [*_guids(page1), *_guids(page2), *_guids(page3), *_guids(page4), *_guids(current)]
    assert sorted(seen) == [f"s{i:04d}" for i in range(25)]  # every entry exactly once
    bytes_before = page1.read_bytes()
    mtime_before = page1.stat().st_mtime_ns

    for page, prev in ((page1, None), (page2, page1), (page3, page2), (page4, page3)):
        root = etree.parse(str(page)).getroot()
        assert root.find(f"{FH}archive") is not None
        links = _links(page)
        assert links["current"] == "http://feeds.test/feeds/desk.atom"
        assert links["self"] == f"http://feeds.test/feeds/archive/desk/{page.name}"
        assert links.get("prev-archive") == (
            f"http://feeds.test/feeds/archive/desk/{prev.name}" if prev else None
        )
        assert "next-archive" not in links  # optional, and it would make pages change
        assert root.findtext(f"{ATOM}id") == "http://feeds.test/feeds/desk.atom"
    assert etree.parse(str(current)).getroot().find(f"{FH}archive") is None

    # A member joining an archived cluster, a republish and more stories: page 1 stays.
    copy = _story("s0001-copy", 1, title=_story("s0001", 1).title)
    store.store_stories([copy], NOW + timedelta(hours=40))
    _add(store, 25, 2)
    publish_all(store, settings, NOW + timedelta(hours=41))
    assert page1.read_bytes() == bytes_before
    assert page1.stat().st_mtime_ns == mtime_before


def test_a_new_output_dir_gets_the_archive_pages_too(tmp_path: Path, store: Store) -> None:
    """A new `publish.output_dir` (a reload, or a directory cleaned by hand): the feed's
    prev-archive chain must lead to pages that are there, the same entries as before."""
    settings = _settings(tmp_path, DESK)
    for batch in range(3):
        _add(store, batch * 5, 5)
        publish_all(store, settings, NOW + timedelta(hours=batch))
    old = [_guids(_archive(tmp_path, n)) for n in (1, 2)]
    moved = replace(settings, publish=replace(settings.publish, output_dir=tmp_path / "new"))
    publish_all(store, moved, NOW + timedelta(hours=5))
    current = tmp_path / "new" / "feeds" / "desk.atom"
    assert _links(current)["prev-archive"] == "http://feeds.test/feeds/archive/desk/2.atom"
    pages = [tmp_path / "new" / "feeds" / "archive" / "desk" / f"{n}.atom" for n in (1, 2)]
    assert [_guids(page) for page in pages] == old
    for page in pages:
        check_atom(page)
    # A page deleted by hand comes back at the next publish of its feed.
    pages[0].unlink()
    _add(store, 15, 1)
    publish_all(store, moved, NOW + timedelta(hours=6))
    assert _guids(pages[0]) == old[0]


def test_old_dated_stories_and_bursts_reach_the_document_or_the_archive(
    tmp_path: Path, store: Store
) -> None:
    """A story dated before a feed's newest entries (a new source's back catalogue, a late
    copy) or one of a burst longer than the feed is never among its newest: it must still be
    published once, in the document or an archive page, not skipped."""
    settings = _settings(tmp_path, DESK)
    current = tmp_path / "out" / "feeds" / "desk.atom"
    _add(store, 0, 5)
    publish_all(store, settings, NOW)

    old = [_story(f"old{i}", -100 + i) for i in range(3)]
    store.store_stories(old, NOW + timedelta(hours=6))
    publish_all(store, settings, NOW + timedelta(hours=6))
    assert sorted(_guids(current)[5:]) == ["old0", "old1", "old2"]

    _add(store, 10, 17)  # a burst: 17 new entries for a feed of 5
    publish_all(store, settings, NOW + timedelta(hours=30))
    pages = sorted((tmp_path / "out" / "feeds" / "archive" / "desk").glob("*.atom"))
    assert [page.name for page in pages] == ["1.atom", "2.atom", "3.atom", "4.atom"]
    seen = [guid for page in pages for guid in _guids(page)] + _guids(current)
    expected = [f"s{i:04d}" for i in (*range(5), *range(10, 27))] + ["old0", "old1", "old2"]
    assert sorted(seen) == sorted(expected)  # every entry exactly once
    assert _guids(current)[:5] == [f"s{i:04d}" for i in range(26, 21, -1)]
    for page in pages:
        check_atom(page)

    # Nothing new: the feed is not rendered again, and nothing moves.
    before = {path: path.read_bytes() for path in [current, *pages]}
    assert publish_all(store, settings, NOW + timedelta(hours=31)) == []
    assert {path: path.read_bytes() for path in before} == before


KZ_QUERY = """
[[sections]]
slug = "kz"
query = "kazakhstan"
max_entries = 5
"""


def _kz(key: str, hours: float) -> Story:
    return _story(key, hours, title=f"Kazakhstan {key} report")


def test_a_query_sections_late_stories_are_found_and_its_work_done_once(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A query section's old-dated matches reach its document (the search index is read only
    from the stories of the clusters created since its last publish), while a publish finds
    its matches once and renders each feed once, also a feed that must say it changed now
    although no entry is newer: at 10,000 sources those repeats were a third of a publish."""
    settings = _settings(tmp_path, KZ_QUERY)
    current = tmp_path / "out" / "feeds" / "kz.atom"
    store.store_stories([_kz(f"k{i}", i) for i in range(5)], NOW + timedelta(hours=5))
    _add(store, 10, 3)  # matching nothing
    publish_all(store, settings, NOW + timedelta(hours=13))
    assert _guids(current) == [f"k{i}" for i in range(4, -1, -1)]

    renders: list[str] = []
    matches: list[str] = []
    real_render, real_matches = publishing.render_atom, Store._query_matches

    def render(section: Section, *args: object, **kwargs: object) -> bytes:
        renders.append(section.slug)
        return real_render(section, *args, **kwargs)  # type: ignore[arg-type]

    def query_matches(self: Store, where: ClusterFilter, stop_at: int | None) -> object:
        matches.append(where.query)
        return real_matches(self, where, stop_at)

    monkeypatch.setattr(publishing, "render_atom", render)
    monkeypatch.setattr(Store, "_query_matches", query_matches)
    store.store_stories([_kz(f"old{i}", -100 + i) for i in range(3)], NOW + timedelta(hours=20))
    _add(store, 20, 2)
    written = publish_all(store, settings, NOW + timedelta(hours=21))
    assert "feeds/kz.atom" in written
    assert sorted(_guids(current)[5:]) == ["old0", "old1", "old2"]
    check_atom(current)
    parsed = feedparser.parse(current.read_bytes())
    assert parsed.feed.updated == (NOW + timedelta(hours=21)).isoformat()  # changed now
    assert renders.count("kz") == 1
    assert renders.count("all") == 1
    assert matches == ["kazakhstan"]


def test_retention_drops_stories_from_archive_pages_only(tmp_path: Path, store: Store) -> None:
    settings = _settings(tmp_path, DESK)
    for batch in range(3):
        _add(store, batch * 5, 5)
        publish_all(store, settings, NOW)
    assert sorted(_guids(_archive(tmp_path, 1))) == [f"s{i:04d}" for i in range(5)]
    removed = store.delete_clusters_before(NOW + timedelta(hours=7, minutes=30))
    assert removed > 0
    publish_all(store, settings, NOW)
    remaining = _guids(_archive(tmp_path, 1))
    assert remaining == []  # every story of page 1 was first seen before the cutoff
    check_atom(_archive(tmp_path, 1))
    assert _guids(tmp_path / "out" / "feeds" / "desk.atom") == [
        f"s{i:04d}" for i in range(14, 9, -1)
    ]


def test_archive_pages_are_read_for_removed_clusters_only_after_a_removal(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Looking for removed clusters reads every archived entry of every feed: all of them,
    growing with the store, at every publish. Only a removal (retention, recluster) can
    put one there, so publishes between two removals do not look."""
    settings = _settings(tmp_path, DESK)
    looked: list[str] = []
    real = Store.archive_pages_with_removed_clusters

    def archive_pages(self: Store, path: str) -> list[int]:
        looked.append(path)
        return real(self, path)

    monkeypatch.setattr(Store, "archive_pages_with_removed_clusters", archive_pages)
    for batch in range(3):
        _add(store, batch * 5, 5)
        publish_all(store, settings, NOW)
    assert "feeds/desk.atom" in looked  # the first publish of a store checks once
    looked.clear()
    _add(store, 15, 5)
    publish_all(store, settings, NOW)
    assert looked == []

    assert store.delete_clusters_before(NOW + timedelta(hours=7, minutes=30)) > 0
    publish_all(store, settings, NOW)
    assert "feeds/desk.atom" in looked
    assert _guids(_archive(tmp_path, 1)) == []  # page 1 written again without them
    looked.clear()
    publish_all(store, settings, NOW)
    assert looked == []


def test_changing_a_sections_filter_starts_its_archive_afresh(tmp_path: Path, store: Store) -> None:
    for batch in range(3):
        _add(store, batch * 5, 5)
        publish_all(store, _settings(tmp_path, DESK), NOW)
    assert _archive(tmp_path, 1).exists()
    bigger = DESK.replace("max_entries = 5", "max_entries = 50")
    publish_all(store, _settings(tmp_path, bigger), NOW)
    assert not _archive(tmp_path, 1).exists()
    current = tmp_path / "out" / "feeds" / "desk.atom"
    assert len(_guids(current)) == 15
    assert "prev-archive" not in _links(current)


def test_a_section_removed_from_the_config_is_no_longer_published(
    tmp_path: Path, store: Store
) -> None:
    """Its feed, JSON twin and archive pages stayed on disk and were served, frozen, for
    good (the index no longer listed them), also with stories retention had removed."""
    other = '\n[[sections]]\nslug = "other"\n'
    for batch in range(3):
        _add(store, batch * 5, 5)
        publish_all(store, _settings(tmp_path, DESK + other), NOW)
    feeds = tmp_path / "out" / "feeds"
    assert _archive(tmp_path, 1).exists()
    kept = (feeds / "other.atom").read_bytes()
    publish_all(store, _settings(tmp_path, other), NOW + timedelta(hours=1))
    assert not (feeds / "desk.atom").exists()
    assert not (feeds / "desk.json").exists()
    assert not (feeds / "archive" / "desk").exists()
    assert (feeds / "other.atom").read_bytes() == kept  # the others as they were
    assert "desk.atom" not in (tmp_path / "out" / "index.html").read_text()
    # Configured again, it starts afresh, with its newest entries.
    publish_all(store, _settings(tmp_path, DESK + other), NOW + timedelta(hours=2))
    assert len(_guids(feeds / "desk.atom")) == 5
    check_atom(feeds / "desk.atom")


def test_a_new_base_url_reaches_the_archive_pages(tmp_path: Path, store: Store) -> None:
    """The feed moved (`publish.base_url` from a test address to its public one): its archive
    pages kept the old feed id and self, current and prev-archive links, so a reader paging
    back from the new address was sent to the old one. They are written again, same entries."""
    settings = _settings(tmp_path, DESK)
    for batch in range(3):
        _add(store, batch * 5, 5)
        publish_all(store, settings, NOW)
    entries = [_guids(_archive(tmp_path, n)) for n in (1, 2)]
    new_base = "https://news.example.org/news/"
    moved = replace(settings, publish=replace(settings.publish, base_url=new_base))
    publish_all(store, moved, NOW + timedelta(hours=1))
    assert [_guids(_archive(tmp_path, n)) for n in (1, 2)] == entries
    for page in (1, 2):
        links = _links(_archive(tmp_path, page))
        assert links["self"] == f"{new_base}feeds/archive/desk/{page}.atom"
        assert links["current"] == f"{new_base}feeds/desk.atom"
        assert links.get("prev-archive") == (
            f"{new_base}feeds/archive/desk/1.atom" if page == 2 else None
        )
        root = etree.parse(str(_archive(tmp_path, page))).getroot()
        assert root.findtext(f"{ATOM}id") == f"{new_base}feeds/desk.atom"
        check_atom(_archive(tmp_path, page))
    before = _archive(tmp_path, 1).stat().st_mtime_ns
    _add(store, 15, 1)  # and at the next publish they are left alone again
    publish_all(store, moved, NOW + timedelta(hours=2))
    assert _archive(tmp_path, 1).stat().st_mtime_ns == before


def test_renaming_a_section_keeps_its_archive(tmp_path: Path, store: Store) -> None:
    """A new title is no new filter: the archive pages a reader pages back through stay (they
    were deleted, so `prev-archive` led to a 404 and the pushed-out entries were lost)."""
    for batch in range(3):
        _add(store, batch * 5, 5)
        publish_all(store, _settings(tmp_path, DESK), NOW)
    pages = [_guids(_archive(tmp_path, n)) for n in (1, 2)]
    renamed = DESK.replace('title = "Desk"', 'title = "The Desk, renamed"')
    publish_all(store, _settings(tmp_path, renamed), NOW)
    current = tmp_path / "out" / "feeds" / "desk.atom"
    assert feedparser.parse(current.read_bytes()).feed.title == "The Desk, renamed"
    assert [_guids(_archive(tmp_path, n)) for n in (1, 2)] == pages
    assert _links(current)["prev-archive"] == "http://feeds.test/feeds/archive/desk/2.atom"
    _add(store, 15, 5)  # and the next page follows on
    publish_all(store, _settings(tmp_path, renamed), NOW)
    assert sorted(_guids(_archive(tmp_path, 3))) == [f"s{i:04d}" for i in range(10, 15)]


def test_an_archive_recorded_by_an_older_release_is_kept(tmp_path: Path, store: Store) -> None:
    """Feeds recorded under the old digest of their definition (the whole spec, title
    included) are the same feeds after an upgrade: their archive is kept, not restarted."""
    settings = _settings(tmp_path, DESK)
    for batch in range(3):
        _add(store, batch * 5, 5)
        publish_all(store, settings, NOW)
    (spec,) = [spec for spec in feed_specs(settings) if spec.path == "feeds/desk.atom"]
    store.rename_feed_definition(spec.path, hashlib.sha256(f"{spec!r}".encode()).hexdigest())
    _add(store, 15, 1)
    publish_all(store, settings, NOW)
    assert _archive(tmp_path, 2).exists()
    assert store.feed_members(spec.path).definition == feed_definition(spec)


def test_an_entry_is_updated_only_when_what_it_shows_changes(tmp_path: Path, store: Store) -> None:
    """The entry shows the first copy (title, link, text) and of the others their link. An
    edit of another copy's text moved the entry's `updated` and rewrote the feed, so readers
    showed an unchanged story as updated at every edit of any site that carried it."""
    store.sync_sources([ConfiguredSource("https://b.example/rss", "B", "", True, None)], NOW)
    settings = _settings(tmp_path, "")
    first = _story("s0001", 1)
    copy = replace(first, source_id=2, guid_key="guid:b1", guid="b1", content_hash="b1")
    copy = replace(copy, published_at=first.published_at + timedelta(hours=1))
    store.store_stories([first], NOW + timedelta(hours=1))
    store.store_stories([copy], NOW + timedelta(hours=2))
    current = tmp_path / "out" / "feeds" / "all.atom"

    def updated() -> str:
        (entry,) = feedparser.parse(current.read_bytes()).entries
        assert [link.rel for link in entry.links] == ["alternate", "related"]
        return str(entry.updated)

    publish_all(store, settings, NOW + timedelta(hours=3))
    before = current.read_bytes()
    edited = replace(copy, text=copy.text + " Updated at noon.", content_hash="b2")
    assert store.store_stories([edited], NOW + timedelta(hours=4)).updated == 1
    assert "feeds/all.atom" not in publish_all(store, settings, NOW + timedelta(hours=4))
    assert current.read_bytes() == before

    moved = replace(edited, url="https://b.example/moved", content_hash="b3")
    store.store_stories([moved], NOW + timedelta(hours=5))  # its link is shown: updated
    publish_all(store, settings, NOW + timedelta(hours=5))
    assert updated() == "2026-03-01T17:00:00+00:00"
    rewritten = replace(first, text=first.text + " A correction.", content_hash="a2")
    store.store_stories([rewritten], NOW + timedelta(hours=6))  # the first copy's text: too
    publish_all(store, settings, NOW + timedelta(hours=6))
    assert updated() == "2026-03-01T18:00:00+00:00"


def test_the_feed_is_updated_when_an_older_dated_entry_joins_it(
    tmp_path: Path, store: Store
) -> None:
    """A story dated before the feed's newest entry (a late copy, a new source's back
    catalogue) was added, but the feed's `updated` (its newest entry's) stood still: RFC 4287
    says when the feed was modified, and a reader or planet going by it saw nothing new. It
    never moves back either, when the newest entry leaves."""
    settings = _settings(tmp_path, "")
    _add(store, 0, 3)
    publish_all(store, settings, NOW + timedelta(hours=3))
    feed = tmp_path / "out" / "feeds" / "all.atom"
    assert feedparser.parse(feed.read_bytes()).feed.updated == "2026-03-01T14:00:00+00:00"

    store.store_stories([_story("late", -5)], NOW + timedelta(hours=4))
    assert "feeds/all.atom" in publish_all(store, settings, NOW + timedelta(hours=4))
    parsed = feedparser.parse(feed.read_bytes())
    assert len(parsed.entries) == 4
    assert parsed.feed.updated == "2026-03-01T16:00:00+00:00"  # when it was added
    assert publish_all(store, settings, NOW + timedelta(hours=5)) == []  # and it stays

    newest = store.db.execute("SELECT id FROM stories WHERE guid = 's0002'").fetchone()[0]
    store.db.execute("DELETE FROM stories WHERE id = ?", (newest,))
    store.db.conn.commit()
    publish_all(store, settings, NOW + timedelta(hours=6))
    parsed = feedparser.parse(feed.read_bytes())
    assert len(parsed.entries) == 3
    assert parsed.feed.updated == "2026-03-01T18:00:00+00:00"


def test_the_published_content_is_the_article_without_the_page_around_it(
    tmp_path: Path, store: Store
) -> None:
    """The seed page as a feed body: its summary and clustering read the article alone, but
    the entry's content was the page, ads, "Home / WORLD" crumbs, "Check Also" teasers, the
    comment form and the copyright line included, in every subscriber's reader."""
    seed = (SHARED / "seed" / "000_ca4b3b679c3f7ead.txt").read_text(encoding="utf-8")
    page = "".join(
        f"<p>{html.escape(line, quote=False)}</p>" for line in seed.splitlines() if line.strip()
    )
    title = "Russian-led troops leaving Kazakhstan"
    entry = ParsedEntry(
        guid="seed", link="https://paradox.example/kz", title=title,
        summary_html="", content_html=page, author="", published=NOW, updated=None,
    )  # fmt: skip
    story = normalize_entry(1, entry, "guid:seed", NOW)
    store.store_stories([story], NOW)
    publish_all(store, _settings(tmp_path, ""), NOW + timedelta(hours=1))
    feed = (tmp_path / "out" / "feeds" / "all.atom").read_bytes()
    (parsed,) = feedparser.parse(feed).entries
    content = parsed.content[0].value
    for furniture in (
        "Kwork.ru",
        "Home / WORLD",
        "Check Also",
        "Leave a Reply",
        "Thursday , March",
    ):
        assert furniture in page
        assert furniture not in content, furniture
    for paragraph in story.text.split("\n\n"):
        assert html.escape(paragraph, quote=False) in content or paragraph in content
    assert content.count("<p>") == story.text.count("\n\n") + 1


def test_unchanged_section_is_not_rewritten(tmp_path: Path, store: Store) -> None:
    settings = _settings(tmp_path, DESK)
    for batch in range(3):
        _add(store, batch * 5, 5)
        publish_all(store, settings, NOW)
    written = publish_all(store, settings, NOW + timedelta(hours=1))
    assert written == []


def test_a_new_rendering_reaches_quiet_feeds_once(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A release that renders documents differently (links escaped into valid IRIs) reached
    only the feeds that got a new story: a quiet country's feed kept the old document for
    good. An upgrade (`atom.RENDERING` raised) rewrites every feed once."""
    settings = _settings(tmp_path, DESK)
    _add(store, 0, 5)
    publish_all(store, settings, NOW)
    feed = settings.publish.output_dir / "feeds" / "all.atom"
    current = feed.read_bytes()
    feed.write_bytes(current.replace(b"<feed", b"<!-- rendered by an older release -->\n<feed", 1))
    assert publish_all(store, settings, NOW + timedelta(hours=1)) == []  # nothing new: kept
    monkeypatch.setattr("syndicator.publishing.RENDERING", 999)  # the upgrade
    assert "feeds/all.atom" in publish_all(store, settings, NOW + timedelta(hours=2))
    assert feed.read_bytes() == current
    assert publish_all(store, settings, NOW + timedelta(hours=3)) == []


def test_min_score_keeps_only_strongly_tagged_stories(tmp_path: Path, store: Store) -> None:
    settings = _settings(
        tmp_path,
        """
[[sections]]
slug = "kz-strong"
regions = ["KZ"]
min_score = 0.8
[[sections]]
slug = "kz-any"
regions = ["KZ"]
""",
    )
    store.store_stories(
        [
            _story("strong", 1, tags=(_region("KZ", 0.95),)),
            _story("weak", 2, tags=(_region("KZ", 0.5),)),
            _story("other", 3, tags=(_region("KG", 0.99),)),
        ],
        NOW,
    )
    publish_all(store, settings, NOW)
    out = tmp_path / "out" / "feeds"
    assert _guids(out / "kz-strong.atom") == ["strong"]
    assert _guids(out / "kz-any.atom") == ["weak", "strong"]


def test_section_query_words_filter_the_feed(tmp_path: Path, store: Store) -> None:
    settings = _settings(
        tmp_path,
        """
[[sections]]
slug = "fuel"
query = "Fuel PRICES"
""",
    )
    store.store_stories(
        [
            _story("a", 1, title="Fuel prices rise in Almaty"),
            _story("b", 2, title="Election results announced"),
            _story("c", 3, title="Prices of fuel fall again"),
        ],
        NOW,
    )
    publish_all(store, settings, NOW)
    assert _guids(tmp_path / "out" / "feeds" / "fuel.atom") == ["c", "a"]


def test_a_section_query_is_the_full_query_language(tmp_path: Path, store: Store) -> None:
    settings = _settings(
        tmp_path,
        """
[[sections]]
slug = "energy"
query = '(fuel OR "gas pipeline") -football region:"Central Asia"'
""",
    )

    def central_asia(code: str) -> tuple[Tag, ...]:  # as the tagger rolls a country up
        return (_region(code, 0.9), _region("Central Asia", 0.9), _region("Asia", 0.9))

    store.store_stories(
        [
            _story("a", 1, title="Fuel prices rise in Almaty", tags=central_asia("KZ")),
            _story("b", 2, title="New gas pipeline opens", tags=central_asia("TM")),
            _story("c", 3, title="Fuel shortage hits football league", tags=central_asia("KZ")),
            _story("d", 4, title="Fuel tax debated in Berlin", tags=(_region("DE", 0.9),)),
            _story("e", 5, title="Gas and pipeline works", tags=central_asia("KZ")),
        ],
        NOW,
    )
    publish_all(store, settings, NOW)
    assert _guids(tmp_path / "out" / "feeds" / "energy.atom") == ["b", "a"]


def test_min_score_without_regions_or_topics_is_a_config_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"sections\[0\]\.min_score"):
        _settings(tmp_path, '[[sections]]\nslug = "x"\nmin_score = 0.5\n')


def test_one_bad_story_is_left_out_and_the_section_still_renders(
    tmp_path: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    _add(store, 0, 3)
    clusters = store.clusters(ClusterFilter())
    bad = clusters[1]
    # feedgen refuses a naive datetime: the kind of value one corrupt row could carry.
    clusters[1] = replace(bad, updated_at=bad.updated_at.replace(tzinfo=None))
    context = FeedContext(
        base_url="http://feeds.test/", feed_url="http://feeds.test/feeds/x.atom", index_url="/"
    )
    document = render_atom(Section(slug="x", title="X"), clusters, context, NOW)
    parsed = feedparser.parse(document)
    assert len(parsed.entries) == 2
    assert f"cluster {bad.id} left out" in caplog.text


def _committed_guids(path: Path) -> set[str]:
    """What another connection (a restart after a kill) sees: committed stories only."""
    with sqlite3.connect(path) as other:
        rows = other.execute("SELECT guid FROM stories").fetchall()
    other.close()
    return {row[0] for row in rows}


def test_a_feed_shows_only_committed_stories(tmp_path: Path, store: Store) -> None:
    # The daemon publishes between a poll's awaits, on the same connection, while the poll's
    # write group may be open. A feed rendered from that group, which a kill would then
    # lose, would show cluster ids the next poll gives to other stories.
    settings = _settings(tmp_path, DESK)
    store.begin_group()
    store.store_stories([_story("s0001", 1)], NOW)
    assert _committed_guids(tmp_path / "s.db") == set()
    publish_all(store, settings, NOW)
    assert _guids(tmp_path / "out" / "feeds" / "desk.atom") == ["s0001"]
    assert _committed_guids(tmp_path / "s.db") == {"s0001"}
    assert not store.in_group


def test_the_http_server_answers_between_two_feeds_of_a_publish(
    tmp_path: Path, store: Store
) -> None:
    # A publish runs on the daemon's event loop; at 10,000 sources one took 86 s, during
    # which `/healthz` did not answer. It now lets the loop run between two feeds.
    desks = "".join(f'\n[[sections]]\nslug = "desk{i}"\ntitle = "Desk {i}"\n' for i in range(40))
    settings = _settings(tmp_path, desks)
    _add(store, 0, 30)
    settings.publish.output_dir.mkdir(parents=True)

    async def scenario() -> tuple[int, bool, list[str]]:
        app = build_feed_app(settings.publish.output_dir, lambda: {"status": "ok"}, Metrics())
        server = await listen(app, "127.0.0.1", 0)
        try:
            publish = asyncio.create_task(publish_and_notify(store, settings, NOW, slice_s=0))
            async with (
                aiohttp.ClientSession() as session,
                session.get(server.url + "healthz") as response,
            ):
                status = response.status
            answered_during_the_publish = not publish.done()
            return status, answered_during_the_publish, await publish
        finally:
            await server.stop()

    status, during, written = asyncio.run(scenario())
    assert status == 200
    assert during
    assert len([path for path in written if path.startswith("feeds/desk")]) == 40
