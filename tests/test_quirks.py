"""Real feeds re-polled the way real publishers change them: each case serves a document of
shared/corpus/feeds-real from a loopback server, runs `syndicator run --once`, changes the
document (or the server's answer) as publishers do between two polls, and runs it again."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from .conftest import SHARED, FeedServer, Route, syndicator, write_config

REAL = SHARED / "corpus" / "feeds-real"
GUARDIAN = REAL / "feeder_rss_theguardian.xml"  # 54 items, each a permalink guid


def _run_once(config: Path, cwd: Path) -> None:
    result = syndicator("--config", str(config), "run", "--once", cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def _make_due(tmp: Path) -> None:
    """The next day: every source is due again."""
    with sqlite3.connect(tmp / "db" / "syndicator.db") as db:
        db.execute("UPDATE sources SET next_poll_at = '2000-01-01T00:00:00Z'")


def _rows(tmp: Path, sql: str) -> list[tuple[object, ...]]:
    db = sqlite3.connect(tmp / "db" / "syndicator.db")
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def test_a_guid_that_changes_on_every_request_stores_each_story_once(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Some CMSs put the time of the request into every guid: each poll then lists the same
    54 stories under 54 new guids. They are the same entries (same source, same link), not
    copies of themselves: nothing is stored again, and an edit is an update in place."""
    document = GUARDIAN.read_bytes()

    def stamped(poll: int, body: bytes = document) -> bytes:
        return re.sub(rb"</guid>", b"?ts=%d</guid>" % (1_700_000_000 + poll), body)

    feed_server.routes["/world.rss"] = Route(stamped(1))
    config = write_config(tmp_path, [feed_server.url("/world.rss")])
    _run_once(config, tmp_path)
    assert _rows(tmp_path, "SELECT COUNT(*) FROM stories") == [(54,)]

    feed_server.routes["/world.rss"] = Route(stamped(2))
    _make_due(tmp_path)
    _run_once(config, tmp_path)
    edited = document.replace(
        b"<title>Saudi foreign minister", b"<title>Corrected: Saudi foreign minister", 1
    )
    assert edited != document
    feed_server.routes["/world.rss"] = Route(stamped(3, edited))
    _make_due(tmp_path)
    _run_once(config, tmp_path)

    assert len(feed_server.requests_to("/world.rss")) == 3
    assert _rows(tmp_path, "SELECT COUNT(*), COUNT(DISTINCT cluster_id) FROM stories") == [(54, 54)]
    titles = [title for (title,) in _rows(tmp_path, "SELECT title FROM stories")]
    assert sum(title.startswith("Corrected: Saudi foreign minister") for title in titles) == 1
    atom = (tmp_path / "feeds" / "feeds" / "all.atom").read_text(encoding="utf-8")
    assert "Also reported by" not in atom  # no story is listed as a copy of itself


def test_a_link_whose_query_changes_on_every_request_stores_each_story_once(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """The same CMS stamps the request's time into the link as well (a guid that is also the
    link, or a cache-buster that is no tracking parameter): each poll listed 54 new links,
    54 stories more. They are the entries stored before: same source, same publication
    time, same address but for the query, same title. Unchanged but for the stamp, they are
    not even "updated"; an edit is an update in place."""
    document = GUARDIAN.read_bytes()

    def stamped(poll: int, body: bytes = document) -> bytes:
        stamp = b"?ts=%d" % (1_700_000_000 + poll)
        body = re.sub(rb"</guid>", stamp + b"</guid>", body)
        return re.sub(
            rb"(<item>.*?<link>[^<]*)</link>", rb"\1" + stamp + b"</link>", body, flags=re.S
        )

    assert stamped(1).count(b"?ts=1700000001</link>") == 54
    feed_server.routes["/world.rss"] = Route(stamped(1))
    config = write_config(tmp_path, [feed_server.url("/world.rss")])
    _run_once(config, tmp_path)
    first = _rows(tmp_path, "SELECT id, updated_at FROM stories ORDER BY id")
    assert len(first) == 54

    feed_server.routes["/world.rss"] = Route(stamped(2))
    _make_due(tmp_path)
    _run_once(config, tmp_path)
    assert _rows(tmp_path, "SELECT id, updated_at FROM stories ORDER BY id") == first

    edited = document.replace(
        b"<title>Saudi foreign minister", b"<title>Corrected: Saudi foreign minister", 1
    )
    feed_server.routes["/world.rss"] = Route(stamped(3, edited))
    _make_due(tmp_path)
    _run_once(config, tmp_path)
    assert _rows(tmp_path, "SELECT COUNT(*), COUNT(DISTINCT cluster_id) FROM stories") == [(54, 54)]
    titles = [title for (title,) in _rows(tmp_path, "SELECT title FROM stories")]
    assert sum(title.startswith("Corrected: Saudi foreign minister") for title in titles) == 1


def test_one_guid_for_every_item_keeps_every_story(tmp_path: Path, feed_server: FeedServer) -> None:
    """A generator writing the site's home page as every item's guid: each poll stored one
    story, the last item, as an edit of all the others (53 of 54 lost), and a second feed
    with the same habit had all its stories joined to that one as exact copies. Entries of
    one document sharing a guid are told apart by their links; the guid joins nothing."""

    def one_guid(document: bytes, guid: bytes) -> bytes:
        return re.sub(rb"<guid[^>]*>[^<]*</guid>", b"<guid>" + guid + b"</guid>", document)

    guardian = one_guid(GUARDIAN.read_bytes(), b"https://www.example.com/")
    lemonde = one_guid((REAL / "feeder_rss_lemonde.xml").read_bytes(), b"https://www.example.com/")
    feed_server.routes["/a.rss"] = Route(guardian)
    feed_server.routes["/b.rss"] = Route(lemonde)
    config = write_config(tmp_path, [feed_server.url("/a.rss"), feed_server.url("/b.rss")])
    _run_once(config, tmp_path)
    _make_due(tmp_path)
    _run_once(config, tmp_path)

    assert _rows(tmp_path, "SELECT COUNT(*), COUNT(DISTINCT cluster_id) FROM stories") == [
        (54 + 21, 54 + 21)
    ]


def test_a_page_labelling_its_feeds_without_plus_xml_is_not_read_as_its_json_feed(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """cowboyprogrammer.org's home page advertises `application/rss`, `application/json` and
    `application/atom` (no "+xml"): autodiscovery took the JSON Feed, the only type it knew,
    and the source failed with "not a feed". Its RSS feed is the one to poll."""
    page = (REAL / "html" / "feeder_cowboyprogrammer.html").read_bytes()
    page = page.replace(b"https://cowboyprogrammer.org/", feed_server.base_url.encode())
    atom = (REAL / "feeder_cowboyprogrammer_atom.xml").read_bytes()
    feed_server.routes["/"] = Route(page, content_type="text/html; charset=utf-8")
    feed_server.routes["/index.xml"] = Route(atom, content_type="application/rss+xml")
    feed_server.routes["/atom.xml"] = Route(atom, content_type="application/atom+xml")
    feed_server.routes["/feed.json"] = Route(
        (REAL / "jsonfeed" / "feeder_cowboyprogrammer_feed.json").read_bytes(),
        content_type="application/json",
    )
    config = write_config(tmp_path, [feed_server.url("/")])
    _run_once(config, tmp_path)

    assert feed_server.requests_to("/feed.json") == []
    assert len(feed_server.requests_to("/index.xml")) == 1
    ((url, error, stories),) = _rows(
        tmp_path,
        "SELECT url, last_error, (SELECT COUNT(*) FROM stories) FROM sources",
    )
    assert (url, error) == (feed_server.url("/index.xml"), None)
    assert stories > 0


def test_a_utf8_feed_served_as_windows_1252_keeps_its_accents(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A server with one default charset for every file labels Le Monde's UTF-8 feed
    (`<?xml version="1.0" encoding="utf-8"?>`) `charset=windows-1252`: every accent and curly
    quote was stored as two or three letters ("MaÃ«lysâ€Š", "dâ€™indices")."""
    document = (REAL / "feeder_rss_lemonde.xml").read_bytes()
    feed_server.routes["/une.xml"] = Route(
        document, content_type="application/rss+xml; charset=windows-1252"
    )
    config = write_config(tmp_path, [feed_server.url("/une.xml")])
    _run_once(config, tmp_path)

    titles = [title for (title,) in _rows(tmp_path, "SELECT title FROM stories")]
    assert len(titles) == 21
    assert any("Affaire Maëlys" in title for title in titles)
    assert any("d’indices" in title for title in titles)
    assert not [title for title in titles if "Ã" in title or "â€" in title]


@pytest.mark.parametrize(
    ("old_declaration", "content_type"),
    [
        # the header of a server whose default is the old charset, no declaration
        (b"", "application/rss+xml; charset=windows-1251"),
        (b"", "text/xml; charset=koi8-r"),
        # a site moved to UTF-8 that kept its old declaration
        (b'<?xml version="1.0" encoding="windows-1251"?>\n', "application/rss+xml"),
        (b'<?xml version="1.0" encoding="windows-1251"?>\n', "text/xml; charset=cp1251"),
    ],
)
def test_a_utf8_cyrillic_feed_labelled_with_an_old_russian_charset_keeps_its_letters(
    tmp_path: Path, feed_server: FeedServer, old_declaration: bytes, content_type: str
) -> None:
    """A UTF-8 Russian feed under a windows-1251 or KOI8-R label: when the label names no
    UTF-8 at all, the header or the declaration decided, and every Cyrillic letter was
    stored as two ("Р–РёС‚РµР»Рё"; windows-1251 fails only on a capital "И", whose second
    byte it does not define, and KOI8-R never)."""
    headline = "Жители Алматы жалуются на перебои с газом"
    document = (
        old_declaration
        + (
            '<rss version="2.0"><channel><title>Тест</title><link>https://x.kz/</link>'
            f"<description>д</description><item><title>{headline}</title>"
            "<link>https://x.kz/1</link><description>В Алматы жители нескольких микрорайонов "
            "остались без газа, сообщили в акимате.</description></item></channel></rss>"
        ).encode()
    )
    feed_server.routes["/rss.xml"] = Route(document, content_type=content_type)
    config = write_config(tmp_path, [feed_server.url("/rss.xml")])
    _run_once(config, tmp_path)

    titles = [title for (title,) in _rows(tmp_path, "SELECT title FROM stories")]
    assert titles == [headline]


def test_a_new_entry_at_the_link_of_an_earlier_one_is_still_a_new_story(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Taverncast links every episode to its home page. Its newest episode alone in a feed,
    then the next one alone, are two stories, though their guids differ and their link
    does not: only an entry with the same title or text is the same entry."""
    items = re.findall(
        rb"<item>.*?</item>",
        (REAL / "rssparser_itunes-missing-image.rss").read_bytes(),
        flags=re.DOTALL,
    )
    assert all(b"<link>http://taverncast.com/</link>" in item for item in items[:2])

    def alone(item: bytes) -> bytes:
        return (
            b'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            b"<title>Taverncast</title><link>http://taverncast.com/</link>"
            + item
            + b"</channel></rss>"
        )

    feed_server.routes["/tc.rss"] = Route(alone(items[1]))
    config = write_config(tmp_path, [feed_server.url("/tc.rss")])
    _run_once(config, tmp_path)
    feed_server.routes["/tc.rss"] = Route(alone(items[0]))
    _make_due(tmp_path)
    _run_once(config, tmp_path)

    assert len(_rows(tmp_path, "SELECT id FROM stories")) == 2


def test_day_first_dotted_dates_are_read_not_replaced_by_the_poll_time(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """MuhasebeTR's feed dates its items `<pubDate>06.02.2025</pubDate>`: feedparser reads no
    such date, so every item was dated when it was first fetched, as if it were news."""
    document = (REAL / "html" / "feeder_muhasebetr.html").read_bytes()
    feed_server.routes["/rss.xml"] = Route(document, content_type="application/rss+xml")
    config = write_config(tmp_path, [feed_server.url("/rss.xml")])
    _run_once(config, tmp_path)

    dates = [day for (day,) in _rows(tmp_path, "SELECT substr(published_at, 1, 10) FROM stories")]
    assert len(dates) == 19
    assert sorted(set(dates)) == ["2025-02-05", "2025-02-06", "2025-02-07", "2025-02-08"]


def test_an_afternoon_date_on_a_12_hour_clock_is_not_dated_twelve_hours_early(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """NBC New York dates its item `Sat, Dec 16 2023 02:02:33 PM`: feedparser dropped the
    "PM" and stored 02:02:33, twelve hours before the story was published."""
    document = (REAL / "feedrs_rss_2.0_nbcny.xml").read_bytes()
    assert b"<pubDate>Sat, Dec 16 2023 02:02:33 PM</pubDate>" in document
    feed_server.routes["/nbc.xml"] = Route(document)
    config = write_config(tmp_path, [feed_server.url("/nbc.xml")])
    _run_once(config, tmp_path)

    assert _rows(tmp_path, "SELECT substr(published_at, 1, 19) FROM stories") == [
        ("2023-12-16T14:02:33",)
    ]


def test_json_feeds_are_read_and_polled_again_without_new_stories(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Daring Fireball's JSON Feed (1.0) and Luke Dorny's (1.1) failed as "not a feed
    (SAXParseException ...)": feedparser reads no JSON. RSS converted to JSON is no JSON
    Feed, and says so."""
    served = {
        "/df.json": "netnewswire_DaringFireball.json",
        "/ld.json": "feedjira_json_feed_with_escaped_uris.json",
        "/sn.json": "netnewswire_ScriptingNews.json",
    }
    for path, name in served.items():
        feed_server.routes[path] = Route(
            (REAL / "jsonfeed" / name).read_bytes(), content_type="application/feed+json"
        )
    config = write_config(tmp_path, [feed_server.url(path) for path in served])
    _run_once(config, tmp_path)
    _make_due(tmp_path)
    _run_once(config, tmp_path)

    rows = _rows(
        tmp_path,
        "SELECT s.url, s.last_error, COUNT(st.id), MIN(st.published_at), MAX(st.title) "
        "FROM sources s LEFT JOIN stories st ON st.source_id = s.id GROUP BY s.id ORDER BY s.url",
    )
    by_path = {str(url).rsplit("/", 1)[1]: tuple(row) for url, *row in rows}
    assert by_path["df.json"][:2] == (None, 48)
    assert str(by_path["df.json"][2]).startswith("2017-06-")  # its dates, not the poll's
    assert by_path["ld.json"][:2] == (None, 30)
    error, stories, *_ = by_path["sn.json"]
    assert stories == 0
    assert "JSON that is not a JSON Feed" in str(error)


def test_a_feed_answering_an_html_page_for_a_day_keeps_its_url(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A section's feed that answers the site's home page for a while (maintenance, a soft
    404 with the site's <head>) was "autodiscovered": the source moved for good to the feed
    the page advertises (here NixOS's page and its news feed), and polled another feed from
    then on. A source already read as a feed fails instead, saying what the page advertises,
    and recovers when the feed is back."""
    world = feed_server.url("/world/rss")
    feed_server.routes["/world/rss"] = Route(GUARDIAN.read_bytes())
    config = write_config(tmp_path, [world])
    _run_once(config, tmp_path)

    page = (REAL / "html" / "feeder_nixos.html").read_bytes()
    assert b'href="/news-rss.xml"' in page
    feed_server.routes["/world/rss"] = Route(page, content_type="text/html; charset=utf-8")
    feed_server.routes["/news-rss.xml"] = Route((REAL / "feeder_rss_nixos.xml").read_bytes())
    _make_due(tmp_path)
    _run_once(config, tmp_path)
    status = syndicator("--config", str(config), "status", cwd=tmp_path)
    assert status.stdout.splitlines()[1].startswith("failing")
    assert f"advertises {feed_server.url('/news-rss.xml')}" in status.stdout
    assert feed_server.requests_to("/news-rss.xml") == []

    feed_server.routes["/world/rss"] = Route(GUARDIAN.read_bytes())
    _make_due(tmp_path)
    _run_once(config, tmp_path)
    assert _rows(tmp_path, "SELECT url, last_error FROM sources") == [(world, None)]
    assert _rows(tmp_path, "SELECT COUNT(*) FROM stories") == [(54,)]


def test_a_permanent_redirect_to_something_that_is_no_feed_does_not_move_the_source(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A site that drops a feed often answers its URL with 301 to the home page, or to an
    error document: the source was moved there for good, and its feed was lost even when
    the redirect was undone the next day. A 301 is followed (and remembered) only when a
    feed is there; a 301 to a real feed still moves the source."""
    world = feed_server.url("/world/rss")
    feed_server.routes["/world/rss"] = Route(GUARDIAN.read_bytes())
    config = write_config(tmp_path, [world])
    _run_once(config, tmp_path)

    feed_server.routes["/world/rss"] = Route(
        b"", status=301, headers={"Location": feed_server.url("/gone.txt")}
    )
    feed_server.routes["/gone.txt"] = Route(
        b"This feed has been discontinued.\n", content_type="text/plain"
    )
    _make_due(tmp_path)
    _run_once(config, tmp_path)
    ((url, error),) = _rows(tmp_path, "SELECT url, last_error FROM sources")
    assert url == world
    assert "not a feed" in str(error)

    feed_server.routes["/world/rss"] = Route(
        b"", status=301, headers={"Location": feed_server.url("/international/rss")}
    )
    feed_server.routes["/international/rss"] = Route(GUARDIAN.read_bytes())
    _make_due(tmp_path)
    _run_once(config, tmp_path)
    assert _rows(tmp_path, "SELECT url, last_error FROM sources") == [
        (feed_server.url("/international/rss"), None)
    ]
    assert _rows(tmp_path, "SELECT COUNT(*) FROM stories") == [(54,)]


def test_a_session_id_in_every_link_does_not_make_the_entries_new_on_every_poll(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Aktuality.sk's items have a link and no guid. Served by a Java or PHP site that
    writes the visitor's session into every link (";jsessionid=...", "PHPSESSID=..."), each
    poll listed 30 new links: 30 new stories, each a copy of itself (or, for stories older
    than the dedup window, a second cluster of the same story). The link's session id is
    no part of it, and readers get the link without it."""
    document = (REAL / "netnewswire_aktuality.rss").read_bytes()

    def with_session(poll: int) -> bytes:
        return re.sub(
            rb"(<link>https://www\.aktuality\.sk/clanok/[^<]*?/)</link>",
            rb"\1;jsessionid=%dA9F?PHPSESSID=%d</link>" % (poll, poll),
            document,
        )

    assert with_session(1).count(b";jsessionid=1A9F?PHPSESSID=1") >= 29
    feed_server.routes["/rss"] = Route(with_session(1))
    config = write_config(tmp_path, [feed_server.url("/rss")])
    _run_once(config, tmp_path)
    feed_server.routes["/rss"] = Route(with_session(2))
    _make_due(tmp_path)
    _run_once(config, tmp_path)

    rows = _rows(tmp_path, "SELECT url FROM stories")
    assert len(rows) == 30
    assert not [url for (url,) in rows if "sess" in str(url).lower()]
    atom = (tmp_path / "feeds" / "feeds" / "all.atom").read_text(encoding="utf-8")
    assert "jsessionid" not in atom
    assert "PHPSESSID" not in atom


def test_bare_guids_of_two_feeds_on_one_feed_host_do_not_merge_their_stories(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Two feeds on one feed host (feeds.feedburner.com/SiteA and /SiteB), each numbering
    its items `<guid>1</guid>`, `<guid>2</guid>`... without isPermaLink="false": feedparser
    resolves each guid against the feed's URL, both feeds' item 1 became the "permalink"
    <host>/1, and every Le Monde story joined a Guardian story as its exact copy."""

    def numbered(document: bytes) -> bytes:
        items = iter(range(1, 1000))
        document = re.sub(rb"<guid[^>]*>[^<]*</guid>", b"", document)
        return re.sub(rb"<item>", lambda _: b"<item><guid>%d</guid>" % next(items), document)

    feed_server.routes["/SiteA"] = Route(numbered(GUARDIAN.read_bytes()))
    feed_server.routes["/SiteB"] = Route(numbered((REAL / "feeder_rss_lemonde.xml").read_bytes()))
    config = write_config(tmp_path, [feed_server.url("/SiteA"), feed_server.url("/SiteB")])
    _run_once(config, tmp_path)

    assert _rows(tmp_path, "SELECT COUNT(*), COUNT(DISTINCT cluster_id) FROM stories") == [
        (54 + 21, 54 + 21)
    ]
    assert _rows(tmp_path, "SELECT COUNT(*) FROM stories WHERE guid IN ('1', '2')") == [(4,)]


def test_a_podcast_whose_guids_change_keeps_each_episode_once(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Taverncast's 131 episodes all link the home page, so only their guids tell them
    apart: with a guid that changes on every request, each poll stored 123 of them again,
    each a cluster of its own (they are years older than the dedup window). An entry with
    no link of its own is the stored one of its source with the same title and text."""
    document = (REAL / "rssparser_itunes-missing-image.rss").read_bytes()

    def stamped(poll: int) -> bytes:
        return re.sub(rb"</guid>", b"?ts=%d</guid>" % poll, document)

    feed_server.routes["/tc.rss"] = Route(stamped(1))
    config = write_config(tmp_path, [feed_server.url("/tc.rss")])
    _run_once(config, tmp_path)
    first = _rows(tmp_path, "SELECT COUNT(*), COUNT(DISTINCT cluster_id) FROM stories")
    feed_server.routes["/tc.rss"] = Route(stamped(2))
    _make_due(tmp_path)
    _run_once(config, tmp_path)

    # 131 episodes; two share a guid and are told apart, and one is the extended version
    # of the other, with the same text: a copy in its cluster.
    assert first == [(131, 130)]
    assert _rows(tmp_path, "SELECT COUNT(*), COUNT(DISTINCT cluster_id) FROM stories") == first
