"""Tests for syndicator.parsing: the real-feed corpus, bad input, bozo feeds and UTC dates."""

from __future__ import annotations

import csv
import gzip
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syndicator.errors import ParseError
from syndicator.models import ParsedFeed
from syndicator.parsing import parse_feed
from tests.conftest import SHARED

# The shared corpus is part of the CI environment: when it is missing, the corpus tests fail.
CORPUS = SHARED / "corpus" / "feeds-real"
MANIFEST = CORPUS / "MANIFEST.tsv"
FEED_SUFFIXES = {".xml", ".rss", ".atom", ".rdf"}
GZIP_MAGIC = b"\x1f\x8b"


def _corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(
        path for path in CORPUS.rglob("*") if path.is_file() and path.suffix in FEED_SUFFIXES
    )


def _manifest_entries() -> dict[str, int]:
    """Entry counts by path relative to the corpus folder ("feedjira-2009/x.xml")."""
    if not MANIFEST.is_file():
        return {}
    with MANIFEST.open(encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        return {
            row["file"].removeprefix("feeds-real/"): int(row["entries"] or 0)
            for row in rows
            if row["file"]
        }


CORPUS_FILES = _corpus_files()
MANIFEST_ENTRIES = _manifest_entries()
CORPUS_PARAMS = [
    pytest.param(path, id=path.relative_to(CORPUS).as_posix()) for path in CORPUS_FILES
] or [pytest.param(None, id="corpus-missing")]


def test_corpus_is_present() -> None:
    assert CORPUS.is_dir(), f"{CORPUS} is missing: the corpus tests need /work/shared"
    assert MANIFEST.is_file(), f"{MANIFEST} is missing"
    assert len(CORPUS_FILES) >= 200
    assert sum(1 for count in MANIFEST_ENTRIES.values() if count > 0) >= 200


def _body(path: Path) -> bytes:
    """The body as fetch would hand it over: a few fixtures were stored gzip-compressed, as
    served with Content-Encoding: gzip (MANIFEST note "gzip-compressed body"); the HTTP layer
    decodes that before parsing."""
    body = path.read_bytes()
    return gzip.decompress(body) if body.startswith(GZIP_MAGIC) else body


def _parse_or_error(body: bytes, url: str) -> ParsedFeed | ParseError:
    """The parsed feed, or the ParseError; any other exception propagates and fails the test."""
    try:
        return parse_feed(body, url, {})
    except ParseError as e:
        return e


@pytest.mark.parametrize("path", CORPUS_PARAMS)
def test_corpus_feed_parses_or_fails_cleanly(path: Path | None) -> None:
    if path is None:
        pytest.fail(f"no feed files found under {CORPUS}: the corpus tests need /work/shared")
    name = path.relative_to(CORPUS).as_posix()
    url = f"https://corpus.example.org/{name}"
    expected_entries = MANIFEST_ENTRIES.get(name, 0)

    feed = _parse_or_error(_body(path), url)

    if isinstance(feed, ParseError):
        assert url in str(feed)
        assert expected_entries == 0, f"MANIFEST lists {expected_entries} entries: {feed}"
        return
    if expected_entries > 0:
        assert len(feed.entries) >= 1
    for entry in feed.entries:
        for moment in (entry.published, entry.updated):
            assert moment is None or moment.tzinfo is UTC


# ---------------------------------------------------------------------------------------------
# Bad input.

RSS_HEADERS = {"Content-Type": "application/rss+xml; charset=utf-8"}


def test_empty_body_is_a_parse_error_naming_the_url() -> None:
    url = "https://example.org/empty.xml"

    for body in (b"", b"  \r\n\t "):
        with pytest.raises(ParseError, match="empty") as caught:
            parse_feed(body, url, RSS_HEADERS)
        assert url in str(caught.value)


@pytest.mark.parametrize(
    "headers",
    [{"Content-Type": "text/html; charset=utf-8"}, {}],
    ids=["text-html", "no-content-type"],
)
def test_html_page_without_feed_is_a_parse_error(headers: dict[str, str]) -> None:
    url = "https://example.org/news/"
    page = (
        b"<!DOCTYPE html><html><head><title>News</title></head>"
        b"<body><h1>News</h1><p>Read <a href='/story'>the story</a>.</p></body></html>"
    )

    with pytest.raises(ParseError, match="not a feed") as caught:
        parse_feed(page, url, headers)
    assert url in str(caught.value)


@pytest.mark.parametrize("body", [b"plain text, not xml", b'{"items": []}', b"<<<>>>"])
def test_garbage_is_a_parse_error(body: bytes) -> None:
    with pytest.raises(ParseError):
        parse_feed(body, "https://example.org/feed", RSS_HEADERS)


# ---------------------------------------------------------------------------------------------
# Ill-formed feeds still yield their entries, with a warning.

BOZO_RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel>
<title>Bozo&nbsp;News</title><link>https://example.org/</link>
<item><title>One&nbsp;&hellip;</title><link>https://example.org/1</link><guid>urn:1</guid></item>
<item><title>Two</title><link>https://example.org/2</link><guid>urn:2</guid></item>
</channel></rss>
"""


def test_undeclared_entity_still_yields_entries_with_a_warning() -> None:
    feed = parse_feed(BOZO_RSS, "https://example.org/bozo.xml", RSS_HEADERS)

    assert feed.warning
    assert [entry.guid for entry in feed.entries] == ["urn:1", "urn:2"]
    assert [entry.link for entry in feed.entries] == [
        "https://example.org/1",
        "https://example.org/2",
    ]


WELL_FORMED_RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel>
<title>Good News</title><link>https://example.org/</link><language>en</language><ttl>30</ttl>
<item>
  <title>Dated</title><link>https://example.org/dated</link><guid>urn:dated</guid>
  <pubDate>Tue, 07 Feb 2023 10:00:00 +0500</pubDate>
  <category>World</category>
  <author>desk@example.org (Desk Writer)</author>
  <description>&lt;p&gt;Summary&lt;/p&gt;</description>
</item>
<item><title>Undated</title><link>https://example.org/undated</link></item>
</channel></rss>
"""


def test_well_formed_rss_fields_and_no_warning() -> None:
    feed = parse_feed(WELL_FORMED_RSS, "https://example.org/rss.xml", RSS_HEADERS)

    assert feed.warning is None
    assert feed.title == "Good News"
    assert feed.link == "https://example.org/"
    assert feed.language == "en"
    assert feed.ttl_minutes == 30
    dated, undated = feed.entries
    assert dated.guid == "urn:dated"
    assert dated.link == "https://example.org/dated"
    assert dated.title == "Dated"
    assert dated.categories == ("World",)
    assert dated.author == "Desk Writer"
    assert "Summary" in dated.summary_html
    assert dated.published == datetime(2023, 2, 7, 5, 0, tzinfo=UTC)
    assert undated.published is None
    assert undated.updated is None


ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Atom News</title><id>urn:feed</id><updated>2024-01-03T00:00:00Z</updated>
  <link rel="alternate" href="https://example.org/"/>
  <entry>
    <id>urn:entry:1</id><title>Offsets</title>
    <link rel="alternate" href="https://example.org/offsets"/>
    <published>2024-01-01T23:00:00+05:30</published>
    <updated>2024-01-02T03:04:05-07:00</updated>
    <content type="html">&lt;p&gt;Body&lt;/p&gt;</content>
  </entry>
</feed>
"""


def test_dates_come_out_timezone_aware_utc() -> None:
    feed = parse_feed(
        ATOM, "https://example.org/atom.xml", {"Content-Type": "application/atom+xml"}
    )

    (entry,) = feed.entries
    assert entry.published == datetime(2024, 1, 1, 17, 30, tzinfo=UTC)
    assert entry.updated == datetime(2024, 1, 2, 10, 4, 5, tzinfo=UTC)
    assert entry.published is not None
    assert entry.updated is not None
    assert entry.published.tzinfo is UTC
    assert entry.updated.tzinfo is UTC
    assert entry.content_html == "<p>Body</p>"
    assert entry.link == "https://example.org/offsets"


def _one_title(title_xml: str) -> str:
    body = (
        '<rss version="2.0"><channel><title>t</title><item>'
        f"{title_xml}<guid>1</guid><author>desk@wire.example (Jo Doe)</author>"
        "</item></channel></rss>"
    ).encode()
    return parse_feed(body, "https://wire.example/rss").entries[0].title


def test_titles_are_plain_text_decoded_exactly_once() -> None:
    assert _one_title("<title>AT&amp;T</title>") == "AT&T"
    assert _one_title("<title>&lt;b&gt;Bold&lt;/b&gt; news</title>") == "Bold news"
    assert _one_title("<title>How to write &amp;amp;lt; in HTML</title>") == (
        "How to write &lt; in HTML"
    )


def test_rss_author_email_and_name_gives_the_name() -> None:
    body = (
        b'<rss version="2.0"><channel><title>t</title><item><title>x</title>'
        b"<guid>1</guid><author>desk@wire.example (Jo Doe)</author></item></channel></rss>"
    )
    assert parse_feed(body, "https://wire.example/rss").entries[0].author == "Jo Doe"


def test_no_content_type_header_is_not_a_warning() -> None:
    body = (
        b'<rss version="2.0"><channel><title>t</title><item><title>x</title></item></channel></rss>'
    )
    assert parse_feed(body, "https://wire.example/rss", {}).warning is None


def test_an_out_of_range_character_reference_costs_one_character_not_the_feed() -> None:
    body = (
        b'<rss version="2.0"><channel><title>t</title><item><title>a&#999999999999;b</title>'
        b"<guid>1</guid></item><item><title>c&#x7FFFFFFFFF;d</title><guid>2</guid></item>"
        b"</channel></rss>"
    )
    titles = [entry.title for entry in parse_feed(body, "https://wire.example/rss").entries]
    assert titles == ["a\ufffdb", "c\ufffdd"]
    padded = b'<rss version="2.0"><channel><title>t</title><item><title>&#00000065;</title>'
    padded += b"<guid>1</guid></item></channel></rss>"
    assert parse_feed(padded, "https://wire.example/rss").entries[0].title == "A"


@pytest.mark.parametrize("fast", [True, False])
def test_a_bare_ampersand_in_a_link_keeps_the_link_as_the_site_wrote_it(fast: bool) -> None:
    # Interfax-Kazakhstan's links as a template writes them into the XML: HTML's entity names
    # (&int, &copy, &not, &reg) were read in them, and the guid got a semicolon.
    links = [
        "https://interfax.kz/?lang=rus&int_id=10&news_id=99001",
        "https://example.kz/news.php?id=5&region=3&copy=1&not=2&times=1",
    ]
    items = "".join(
        f"<item><title>Q&A: AT&T in Алматы</title><link>{link}</link><guid>{link}</guid>"
        "<description><![CDATA[<a href='?a=1&amp;b=2'>x</a> &copy=1]]></description></item>"
        for link in links
    )
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        f"<!-- a & b -->{items}</channel></rss>"
    ).encode()
    feed = parse_feed(body, "https://interfax.kz/rss", fast=fast)
    assert [(entry.link, entry.guid) for entry in feed.entries] == [(link, link) for link in links]
    assert feed.entries[0].title == "Q&A: AT&T in Алматы"
    # CDATA is text already: its ampersands are not escaped twice
    assert feed.entries[0].summary_html == "<a href='?a=1&amp;b=2'>x</a> &copy=1"
    assert feed.warning is None  # nothing else was wrong with it


def test_an_entity_bomb_is_refused_by_the_parser_not_expanded() -> None:
    levels = ['<!ENTITY a "aaaaaaaaaa">'] + [
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8)
    ]
    body = (
        f'<?xml version="1.0"?><!DOCTYPE rss [{"".join(levels)}]>'
        '<rss version="2.0"><channel><title>&i;</title>'
        "<item><title>x</title></item></channel></rss>"
    ).encode()
    feed = parse_feed(body, "https://wire.example/rss")
    assert len(feed.title) < 1000
    assert feed.warning is not None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Seg, 24 Set 2018 19:22:00 -0300", datetime(2018, 9, 24, 22, 22, tzinfo=UTC)),
        ("mer, 16 nov 2022 00:38:15 +0100", datetime(2022, 11, 15, 23, 38, 15, tzinfo=UTC)),
        ("Di, 3 Mär 2020 10:00:00 +0100", datetime(2020, 3, 3, 9, 0, tzinfo=UTC)),
        ("ven., 12 juil. 2019 08:00:00 GMT", datetime(2019, 7, 12, 8, 0, tzinfo=UTC)),
        ("24 juin 2019 10:00 +0200", datetime(2019, 6, 24, 8, 0, tzinfo=UTC)),
        ("Пн, 24 сен 2018 19:22:00 +0300", datetime(2018, 9, 24, 16, 22, tzinfo=UTC)),
        ("sáb, 01 dez 2018 23:59:59 -0200", datetime(2018, 12, 2, 1, 59, 59, tzinfo=UTC)),
        ("Pt, 3 paź 2025 12:00:00 +0200", datetime(2025, 10, 3, 10, 0, tzinfo=UTC)),
        ("Mon, 23 Nov 2026 10:00:00 GMT", datetime(2026, 11, 23, 10, 0, tzinfo=UTC)),
        ("lun, 32 foo 2020 10:00:00 GMT", None),
    ],
)
def test_dates_written_in_the_feeds_language(text: str, expected: datetime | None) -> None:
    """feedparser reads English month and day names only; an entry without a date is dated
    when it was fetched, so a Brazilian feed's 2018 stories headed the feeds as new."""
    document = (
        "<rss version='2.0'><channel><title>t</title><item><title>x</title>"
        f"<link>https://a.example/1</link><pubDate>{text}</pubDate></item></channel></rss>"
    ).encode()
    for fast in (True, False):
        (entry,) = parse_feed(document, "https://a.example/rss", fast=fast).entries
        assert entry.published == expected, (text, fast)


def test_a_brazilian_feeds_dates_are_read() -> None:
    body = (CORPUS / "rssparser_uolNoticias.rss").read_bytes()
    dates = {entry.published for entry in parse_feed(body, "https://uol.example/").entries}
    assert None not in dates
    assert {date.date() for date in dates if date} == {datetime(2018, 9, 24).date()}
