"""Tests for syndicator.discovery: Mark Pilgrim's autodiscovery suite, edge cases, properties."""

from __future__ import annotations

import codecs
import re
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syndicator.discovery import discover_feed_urls, looks_like_html
from tests.conftest import SHARED
from tests.fuzzing import budget

# The shared corpus is part of the CI environment: when it is missing, the suite tests fail.
SUITE = SHARED / "corpus" / "feeds-conformance" / "feedvalidator" / "feedfinder-tests"
SUITE_HOME = "http://diveintomark.org/tests/client/autodiscovery/"
# The suite's "base URI on another server" cases point at this server; SUITE/ragingplatypus/
# holds the feeds it served.
OTHER_SERVER = "http://www.ragingplatypus.com/tests/client/autodiscovery/"
FEEDS_ON_OTHER_SERVER = frozenset({"html4-047", "html4-048", "html4-049", "html4-050"})
# index.html is the suite's table of contents: its only rel="alternate" is a text/html
# translation, so it advertises no feed at all.
PAGES_WITHOUT_FEED = frozenset({"index"})
WAYBACK_PREFIX = re.compile(r"^https?://web\.archive\.org/web/\d+[a-z_]*/")
ATOM = "{http://www.w3.org/2005/Atom}"

PAGE = "https://example.org/blog/post.html"

# The same examples on every run in CI; `make fuzz` searches longer (tests/fuzzing.py).
deterministic = budget(300)


def _page(head: str = "", body: str = "") -> str:
    return f"<!DOCTYPE html><html><head><title>t</title>{head}</head><body>{body}</body></html>"


def _link(href: str, type_: str = "application/rss+xml", rel: str = "alternate") -> str:
    return f'<link rel="{rel}" type="{type_}" href="{href}">'


# ---------------------------------------------------------------------------------------------
# The diveintomark.org Atom autodiscovery suite (html4-001 .. html4-057 and its index).


def _suite_pages() -> list[Path]:
    return sorted(SUITE.glob("*.html")) if SUITE.is_dir() else []


SUITE_PAGES = [pytest.param(path, id=path.name) for path in _suite_pages()] or [
    pytest.param(None, id="suite-missing")
]


def _without_wayback(url: str) -> str:
    """The address the Wayback Machine archived, for a web.archive.org/web/<stamp>/ URL."""
    return WAYBACK_PREFIX.sub("", url, count=1)


def _expected_feed_url(page_name: str) -> str | None:
    if page_name in PAGES_WITHOUT_FEED:
        return None
    server = OTHER_SERVER if page_name in FEEDS_ON_OTHER_SERVER else SUITE_HOME
    return f"{server}{page_name}.xml"


def _mirrored_file(url: str) -> Path:
    """Where the corpus keeps what `url` served (one folder per server)."""
    if url.startswith(OTHER_SERVER):
        return SUITE / "ragingplatypus" / url.removeprefix(OTHER_SERVER)
    assert url.startswith(SUITE_HOME), url
    return SUITE / url.removeprefix(SUITE_HOME)


def _atom_link(feed: Path, rel: str) -> str | None:
    for link in ET.parse(feed).getroot().iter(f"{ATOM}link"):
        if link.get("rel") == rel:
            return link.get("href")
    return None


def test_suite_is_present() -> None:
    assert SUITE.is_dir(), f"{SUITE} is missing: the autodiscovery tests need /work/shared"
    assert len(_suite_pages()) >= 58, "expected html4-001..057.html and index.html"


@pytest.mark.parametrize("page", SUITE_PAGES)
def test_suite_page_advertises_exactly_its_own_feed(page: Path | None) -> None:
    """Each page links to exactly one Atom feed, which must be found and nothing else.

    The suite's rule (index.html): finding no link or more than one fails; so does a feed that
    does not link back to the page. Many hrefs are absolute web.archive.org/web/<stamp>/...
    URLs (the archive rewrote them), so the comparison unwraps that prefix and then compares
    the *whole* original URL, host included: comparing only the tail after ".../autodiscovery/"
    would accept html4-052 resolved against the later <base> on www.ragingplatypus.com, which
    the suite exists to catch. The expected feed is the page's NAME.xml next to the page, except
    html4-047..050, whose <base> moves it to www.ragingplatypus.com (the corpus keeps those
    feeds in ragingplatypus/). The retrieved file must then carry the canonical rel="self"
    address and a rel="alternate" link back to the page.
    """
    if page is None:
        pytest.fail(f"no pages found under {SUITE}: the autodiscovery tests need /work/shared")
    page_url = SUITE_HOME + page.name

    discovered = discover_feed_urls(page.read_bytes(), page_url)

    expected = _expected_feed_url(page.stem)
    if expected is None:
        assert discovered == []
        return
    assert [_without_wayback(url) for url in discovered] == [expected]
    feed = _mirrored_file(expected)
    assert feed.is_file(), f"the corpus lacks {feed}"
    assert _atom_link(feed, "self") == f"{SUITE_HOME}{page.stem}.xml"
    assert _atom_link(feed, "alternate") == page_url


# ---------------------------------------------------------------------------------------------
# rel, type and which links count.


@pytest.mark.parametrize(
    "rel", ["alternate", "ALTERNATE", "Alternate feed", "feed alternate", " alternate\t", "\n"]
)
def test_rel_alternate_is_a_case_insensitive_token(rel: str) -> None:
    found = discover_feed_urls(_page(_link("/feed", rel=rel)), PAGE)

    assert found == (["https://example.org/feed"] if "alternate" in rel.lower() else [])


@pytest.mark.parametrize(
    "rel", ["alternate stylesheet", "Stylesheet ALTERNATE", "alter nate", "feed", "", "self"]
)
def test_other_rel_values_do_not_count(rel: str) -> None:
    assert discover_feed_urls(_page(_link("/feed", rel=rel)), PAGE) == []


def test_link_without_rel_or_with_rev_does_not_count() -> None:
    markup = _page(
        '<link type="application/rss+xml" href="/a">'
        '<link rev="alternate" type="application/rss+xml" href="/b">'
    )

    assert discover_feed_urls(markup, PAGE) == []


@pytest.mark.parametrize(
    "type_",
    [
        "APPLICATION/ATOM+XML",
        "Application/Rss+Xml",
        " application/rss+xml ",
        "application/rss+xml; charset=utf-8",
        "application/atom+xml ;type=feed",
        "\tapplication/feed+json\n",
    ],
)
def test_type_ignores_case_parameters_and_surrounding_space(type_: str) -> None:
    assert discover_feed_urls(_page(_link("/feed", type_=type_)), PAGE) == [
        "https://example.org/feed"
    ]


@pytest.mark.parametrize(
    "type_",
    [
        "text/html",
        "text/css",
        "application/json+oembed",
        "text/xml+oembed",
        "application/ atom+xml",
        "application/atom+ xml",
        "",
    ],
)
def test_other_types_do_not_count(type_: str) -> None:
    assert discover_feed_urls(_page(_link("/feed", type_=type_)), PAGE) == []


def test_every_feed_kind_is_found_and_ranked() -> None:
    markup = _page(
        _link("/api.json", "application/json")
        + _link("/feed.json", "application/feed+json")
        + _link("/feed.rdf", "application/rdf+xml")
        + _link("/feed.rss", "application/rss+xml")
        + _link("/feed.atom", "application/atom+xml")
    )

    assert discover_feed_urls(markup, PAGE) == [
        "https://example.org/feed.rss",
        "https://example.org/feed.atom",
        "https://example.org/feed.rdf",
        "https://example.org/feed.json",
        "https://example.org/api.json",
    ]


def test_document_order_is_kept_among_atom_and_rss() -> None:
    markup = _page(
        _link("/comments.atom", "application/atom+xml")
        + _link("/posts.rss", "application/rss+xml")
        + _link("/tag.atom", "application/atom+xml")
    )

    assert discover_feed_urls(markup, PAGE) == [
        "https://example.org/comments.atom",
        "https://example.org/posts.rss",
        "https://example.org/tag.atom",
    ]


def test_duplicates_keep_their_best_rank_and_first_position() -> None:
    markup = _page(
        _link("/feed", "application/json")
        + _link("/a.rss")
        + _link("https://example.org/feed", "application/atom+xml")
        + _link("/a.rss")
        + _link("../a.rss")
    )

    assert discover_feed_urls(markup, PAGE) == [
        "https://example.org/a.rss",
        "https://example.org/feed",
    ]


def test_links_in_the_body_count() -> None:
    markup = _page(body="<p>Subscribe:</p>" + _link("/in-body.rss"))

    assert discover_feed_urls(markup, PAGE) == ["https://example.org/in-body.rss"]


def test_first_of_repeated_attributes_wins() -> None:
    markup = _page(
        '<link rel="alternate" rel="stylesheet" type="application/rss+xml" '
        'href="/first" href="/second">'
    )

    assert discover_feed_urls(markup, PAGE) == ["https://example.org/first"]


def test_commented_out_and_scripted_links_do_not_count() -> None:
    markup = _page(
        "<!-- " + _link("/commented.rss") + " -->"
        "<script>document.write('" + _link("/scripted.rss") + "')</script>"
        "<!--[if IE]>" + _link("/conditional.rss") + "<![endif]-->",
        body="<textarea>" + _link("/typed.rss") + "</textarea><title/>" + _link("/real.rss"),
    )

    assert discover_feed_urls(markup, PAGE) == ["https://example.org/real.rss"]


def test_xhtml_self_closing_links() -> None:
    markup = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.1//EN" '
        '"http://www.w3.org/TR/xhtml11/DTD/xhtml11.dtd">\n'
        '<html xmlns="http://www.w3.org/1999/xhtml"><head>'
        '<link rel="alternate" type="application/atom+xml" href="a.atom"/>'
        "<link rel='alternate' type='application/rss+xml' href='b.rss' />"
        "</head><body/></html>"
    )

    assert discover_feed_urls(markup, PAGE) == [
        "https://example.org/blog/a.atom",
        "https://example.org/blog/b.rss",
    ]


# ---------------------------------------------------------------------------------------------
# href: entities, whitespace, schemes, resolution.


def test_entities_in_href_are_decoded() -> None:
    markup = _page(_link("/feed?format=rss&amp;lang=en&#38;x=1"))

    assert discover_feed_urls(markup, PAGE) == ["https://example.org/feed?format=rss&lang=en&x=1"]


@pytest.mark.parametrize(
    "href", ["  /feed.xml", "/feed.xml  ", "\n\t/feed.xml \r\n", "/feed\n.xml"]
)
def test_whitespace_around_and_newlines_inside_href_are_dropped(href: str) -> None:
    assert discover_feed_urls(_page(_link(href)), PAGE) == ["https://example.org/feed.xml"]


def test_missing_or_empty_href_is_skipped() -> None:
    markup = _page(
        '<link rel="alternate" type="application/rss+xml">'
        '<link rel="alternate" type="application/rss+xml" href>'
        + _link("")
        + _link("   ")
        + _link("/ok.rss")
    )

    assert discover_feed_urls(markup, PAGE) == ["https://example.org/ok.rss"]


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        " JavaScript:void(0)",
        "data:application/rss+xml;base64,PHJzcy8+",
        "mailto:editor@example.org",
        "ftp://example.org/feed.xml",
        "file:///etc/passwd",
        "feed://example.org/feed.xml",
        "http://",
        "http://[::1",
    ],
)
def test_only_http_and_https_urls_are_kept(href: str) -> None:
    assert discover_feed_urls(_page(_link(href)), PAGE) == []


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        ("feed.xml", "https://example.org/blog/feed.xml"),
        ("../feed.xml", "https://example.org/feed.xml"),
        ("../../../feed.xml", "https://example.org/feed.xml"),
        ("./a/./b/../feed.xml", "https://example.org/blog/a/feed.xml"),
        ("/feed.xml", "https://example.org/feed.xml"),
        ("//cdn.example.net/feed.xml", "https://cdn.example.net/feed.xml"),
        ("?format=rss", "https://example.org/blog/post.html?format=rss"),
        ("https:feed.xml", "https://example.org/blog/feed.xml"),
        ("HTTP://Example.COM/Feed", "http://Example.COM/Feed"),
        ("http://other.example/feed.xml", "http://other.example/feed.xml"),
    ],
)
def test_relative_hrefs_resolve_against_the_page(href: str, expected: str) -> None:
    assert discover_feed_urls(_page(_link(href)), PAGE) == [expected]


def test_empty_path_segments_survive_resolution() -> None:
    # Archived pages: urljoin would turn ".../http://host/..." into ".../http:/host/...".
    page = "https://web.archive.org/web/2010/http://example.org/a/b/page.html"

    found = discover_feed_urls(_page(_link("../feed.xml")), page)

    assert found == ["https://web.archive.org/web/2010/http://example.org/a/feed.xml"]


def test_base_href_resolves_later_links() -> None:
    markup = _page('<base href="/feeds/sub/">' + _link("../all.rss"))

    assert discover_feed_urls(markup, PAGE) == ["https://example.org/feeds/all.rss"]


def test_base_on_another_server_and_absolute_hrefs_ignore_it() -> None:
    markup = _page(
        '<BASE HREF="https://static.example.net/x/">'
        + _link("a.rss")
        + _link("https://example.org/b.rss")
    )

    assert discover_feed_urls(markup, PAGE) == [
        "https://static.example.net/x/a.rss",
        "https://example.org/b.rss",
    ]


def test_base_after_the_link_is_ignored() -> None:
    markup = _page(_link("a.rss") + '<base href="https://elsewhere.example/">')

    assert discover_feed_urls(markup, PAGE) == ["https://example.org/blog/a.rss"]


def test_only_the_first_base_with_an_href_counts() -> None:
    markup = _page(
        '<base target="_blank">'
        '<base href="https://one.example/">'
        '<base href="https://two.example/">' + _link("a.rss")
    )

    assert discover_feed_urls(markup, PAGE) == ["https://one.example/a.rss"]


@pytest.mark.parametrize("base", ["javascript:void(0)", "data:text/html,x", "http://[::1"])
def test_unusable_base_falls_back_to_the_page_url(base: str) -> None:
    markup = _page(f'<base href="{base}">' + _link("a.rss"))

    assert discover_feed_urls(markup, PAGE) == ["https://example.org/blog/a.rss"]


def test_commented_out_base_is_ignored() -> None:
    markup = _page('<!-- <base href="https://elsewhere.example/"> -->' + _link("a.rss"))

    assert discover_feed_urls(markup, PAGE) == ["https://example.org/blog/a.rss"]


# ---------------------------------------------------------------------------------------------
# Bytes: which encoding.


@pytest.mark.parametrize(
    "meta",
    [
        '<meta charset="windows-1251">',
        "<META CHARSET=windows-1251>",
        '<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">',
        "<meta content='text/html;charset=cp1251' http-equiv='content-type'>",
    ],
)
def test_bytes_are_decoded_with_the_declared_charset(meta: str) -> None:
    data = _page(meta + _link("/лента.rss")).encode("windows-1251")

    assert discover_feed_urls(data, PAGE) == ["https://example.org/лента.rss"]


def test_bytes_default_to_utf8() -> None:
    data = _page(_link("/flux-été.rss")).encode("utf-8")

    assert discover_feed_urls(data, PAGE) == ["https://example.org/flux-été.rss"]


def test_undecodable_bytes_are_replaced_not_fatal() -> None:
    data = b"<html><head>\xff\xfe\x80" + _link("/feed\xe9.rss").encode("latin-1")

    assert discover_feed_urls(data, PAGE) == ["https://example.org/feed\ufffd.rss"]


@pytest.mark.parametrize("meta", ['<meta charset="no-such-charset">', '<meta charset="utf-16">'])
def test_unknown_or_impossible_charset_falls_back_to_utf8(meta: str) -> None:
    data = _page(meta + _link("/café.rss")).encode("utf-8")

    assert discover_feed_urls(data, PAGE) == ["https://example.org/café.rss"]


def test_latin1_label_means_windows_1252() -> None:
    data = _page('<meta charset="iso-8859-1">' + _link("/€.rss")).encode("cp1252")

    assert discover_feed_urls(data, PAGE) == ["https://example.org/€.rss"]


@pytest.mark.parametrize(
    ("bom", "encoding"),
    [
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
        (b"", "utf-16-le"),
        (b"", "utf-16-be"),
    ],
)
def test_byte_order_mark_and_utf16_are_recognised(bom: bytes, encoding: str) -> None:
    # A BOM outranks the meta, which here lies (as in the suite's html4-057).
    markup = '<html><head><meta charset="iso-8859-1">' + _link("/ünï.rss") + "</head></html>"

    found = discover_feed_urls(bom + markup.encode(encoding), PAGE)

    assert found == ["https://example.org/ünï.rss"]


def test_str_input_is_used_as_is() -> None:
    markup = '\ufeff<meta charset="windows-1251">' + _link("/ü.rss")

    assert discover_feed_urls(markup, PAGE) == ["https://example.org/ü.rss"]


@pytest.mark.parametrize(
    "markup",
    [
        b"",
        "",
        b"\x00\x00\x00",
        "<link",
        '<link rel="alternate" type="application/rss+xml" href="/x',
        "<<<>>><!--",
        "<html><head><link rel=alternate type=application/rss+xml href=/ok>",
        "<title>unclosed" + _link("/in-title.rss"),
    ],
)
def test_broken_markup_never_raises(markup: bytes | str) -> None:
    found = discover_feed_urls(markup, PAGE)

    assert found in ([], ["https://example.org/ok"])


@pytest.mark.parametrize(
    "junk", ["<![", "<![ x", "<![foo[", "<![CDATA[ x > y ]]>", "<![if !IE]>", "<!DOCTYPE x [<!"]
)
def test_sgml_marked_sections_are_bogus_comments(junk: str) -> None:
    # html.parser 3.11 raises AssertionError on some of these; browsers skip them to the ">".
    markup = _page(junk + ">" + _link("/after.rss") + "<![endif]>")

    assert discover_feed_urls(markup, PAGE) == ["https://example.org/after.rss"]


@pytest.mark.parametrize(
    "junk", ["<a ", "<a b=", "< ", "<!", "</", "<a b='x>", '<a b="x>', "<![", "&#"]
)
def test_hostile_repetitions_take_linear_time(junk: str) -> None:
    # CPython 3.11's HTMLParser.close() re-scans the rest of the input once per "<" left
    # open: 60 kB of "<a " took over a minute. A real page is not worth that.
    markup = _page(_link("/first.rss")) + junk * 20_000

    started = time.perf_counter()
    found = discover_feed_urls(markup, PAGE)

    assert time.perf_counter() - started < 2.0
    assert found == ["https://example.org/first.rss"]


def test_an_unclosed_quote_swallows_the_rest_as_in_a_browser() -> None:
    markup = _page('<meta name="description" content="oops>' + _link("/lost.rss"))

    assert discover_feed_urls(markup, PAGE) == []


# ---------------------------------------------------------------------------------------------
# looks_like_html.

RSS = b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel/></rss>'
ATOM_FEED = b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"/>'
RDF = b'<?xml version="1.0"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>'
HTML5 = b"<!DOCTYPE html>\n<html><head></head></html>"


@pytest.mark.parametrize(
    "content_type",
    ["text/html", "TEXT/HTML; charset=UTF-8", " text/html ", "application/xhtml+xml"],
)
def test_html_content_types_are_html(content_type: str) -> None:
    assert looks_like_html(b"<p>fragment, no html tag</p>", content_type)


@pytest.mark.parametrize(
    "body",
    [
        HTML5,
        b"<html lang=en>",
        b"<HTML>",
        b'<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN">',
        b"<!doctype html>",
        b"\n\n   \t<html>",
        codecs.BOM_UTF8 + b"<!DOCTYPE html>",
        b"<!-- generated by a CMS -->\n<!-- two comments --><html>",
        b'<?xml version="1.0"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.1//EN" "x.dtd">',
        b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml">',
        codecs.BOM_UTF16_LE + "<!DOCTYPE html>".encode("utf-16-le"),
    ],
)
@pytest.mark.parametrize(
    "content_type", [None, "", "text/plain", "application/octet-stream", "text/xml", "bogus"]
)
def test_html_bodies_are_html_without_a_helpful_content_type(
    body: bytes, content_type: str | None
) -> None:
    assert looks_like_html(body, content_type)


@pytest.mark.parametrize(
    "body",
    [
        RSS,
        ATOM_FEED,
        RDF,
        codecs.BOM_UTF8 + RSS,
        b'<?xml version="1.0"?>\n<?xml-stylesheet href="s.xsl"?>\n<!-- hi -->\n<rss/>',
        b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "x.dtd"><rss>',
        b"<atom:feed xmlns:atom='http://www.w3.org/2005/Atom'/>",
        b'{"version": "https://jsonfeed.org/version/1.1", "items": []}',
    ],
)
@pytest.mark.parametrize(
    "content_type", [None, "text/html", "application/rss+xml", "text/xml", "text/plain"]
)
def test_feeds_are_never_html(body: bytes, content_type: str | None) -> None:
    assert not looks_like_html(body, content_type)


@pytest.mark.parametrize(
    "body",
    [b"", b"   ", b"plain text", b"<p>no html tag</p>", b"<!-- unterminated", b"\x89PNG\r\n"],
)
def test_unknown_bodies_without_html_content_type_are_not_html(body: bytes) -> None:
    assert not looks_like_html(body, None)
    assert not looks_like_html(body, "application/octet-stream")


@pytest.mark.parametrize(
    "content_type", ["application/atom+xml", "application/rss+xml", "application/feed+json"]
)
def test_feed_content_type_beats_an_html_looking_body(content_type: str) -> None:
    assert not looks_like_html(HTML5, content_type)


# ---------------------------------------------------------------------------------------------
# Properties: never raise, only absolute http(s) results, no duplicates.

MARKUP_TOKENS = st.sampled_from(
    [
        "<link", "<LINK ", "<base ", "/>", ">", " ", "\n", "'", '"', "=", "<!--", "-->", "<script>",
        "</script>", "<head>", "<body>", "&amp;", "&#0;", "&#x110000;", "&",
        "rel=alternate ", 'rel="alternate stylesheet" ', "type=application/rss+xml ",
        'type="application/atom+xml; q=1" ', "href=", "href=''", "feed.xml", "//x.example/",
        "http://[::1", "javascript:", "../", "?", "#", "%zz", "\x00", "\ud800", "\ufeff",
        "<![", "<![CDATA[", "]]>", "<![if !IE]>", "<![endif]>", "<!DOCTYPE", "<textarea>",
        "</textarea>", "<title>", "</title>",
    ]
)  # fmt: skip
MESSY_MARKUP = st.lists(MARKUP_TOKENS | st.text(max_size=5), max_size=40).map("".join)


@deterministic
@given(st.one_of(MESSY_MARKUP, st.text(), st.binary()))
def test_discovery_never_raises_and_returns_unique_http_urls(markup: str | bytes) -> None:
    found = discover_feed_urls(markup, PAGE)

    assert len(found) == len(set(found))
    for url in found:
        parts = urlsplit(url)
        assert parts.scheme in {"http", "https"}
        assert parts.hostname


@deterministic
@given(st.binary(), st.one_of(st.none(), st.text(max_size=40)))
def test_looks_like_html_never_raises(body: bytes, content_type: str | None) -> None:
    assert looks_like_html(body, content_type) in {True, False}
