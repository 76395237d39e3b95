"""Tests for syndicator.opml: the real OPML corpus, categories, safety, rendering and TOML."""

from __future__ import annotations

import re
import time
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syndicator.config import parse_settings
from syndicator.opml import (
    OpmlError,
    OpmlFeed,
    parse_opml,
    render_opml,
    source_categories,
    sources_toml,
)
from tests.conftest import SHARED
from tests.fuzzing import budget

CORPUS = SHARED / "corpus" / "feeds-real"
# A missing corpus must fail, not skip: an empty parameter list would make pytest skip.
OPML_FILES = sorted(CORPUS.rglob("*.opml")) or [CORPUS / "corpus-is-missing.opml"]
NOW = "Mon, 01 Jan 2024 00:00:00 GMT"
# The one real export that is not well-formed XML: markup unescaped in a description attribute.
MALFORMED = {"feeder_Programming.opml"}

# The same examples on every run in CI; `make fuzz` searches longer (tests/fuzzing.py).
deterministic = budget(200)


def corpus(name: str) -> list[OpmlFeed]:
    (path,) = (path for path in OPML_FILES if path.name == name)
    return parse_opml(path.read_bytes())


def opml(body: str, head: str = "<head><title>t</title></head>") -> bytes:
    declaration = '<?xml version="1.0" encoding="UTF-8"?>'
    return f'{declaration}\n<opml version="2.0">{head}<body>\n{body}\n</body></opml>'.encode()


# --- the real corpus ---------------------------------------------------------------------------


def test_corpus_is_present() -> None:
    assert CORPUS.is_dir(), f"missing corpus: {CORPUS}"
    assert len([path for path in OPML_FILES if path.exists()]) >= 7


@pytest.mark.parametrize("path", OPML_FILES, ids=lambda path: path.name)
def test_every_real_file_yields_unique_http_feeds(path: Path) -> None:
    feeds = parse_opml(path.read_bytes())
    assert feeds
    assert all(re.match(r"https?://\S+$", feed.url) for feed in feeds), feeds
    folded = [re.sub(r"^(\w+://[^/]*)", lambda m: m.group(1).lower(), f.url) for f in feeds]
    assert len(set(folded)) == len(feeds)
    assert all(feed.title == feed.title.strip() and feed.title for feed in feeds)


@pytest.mark.parametrize("path", OPML_FILES, ids=lambda path: path.name)
def test_strict_parsing_agrees_on_well_formed_files(path: Path) -> None:
    data = path.read_bytes()
    if path.name in MALFORMED:
        with pytest.raises(OpmlError, match=r"malformed XML.*line \d+"):
            parse_opml(data, strict=True)
    else:
        assert parse_opml(data, strict=True) == parse_opml(data)


@pytest.mark.parametrize("path", OPML_FILES, ids=lambda path: path.name)
def test_real_files_round_trip_through_render(path: Path) -> None:
    feeds = parse_opml(path.read_bytes())
    assert parse_opml(render_opml(feeds, "Export", NOW), strict=True) == feeds


@pytest.mark.parametrize("path", OPML_FILES, ids=lambda path: path.name)
def test_real_files_round_trip_through_toml(path: Path) -> None:
    feeds = parse_opml(path.read_bytes())
    sources = tomllib.loads(sources_toml(feeds))["sources"]
    assert [(s["url"], s.get("name", "")) for s in sources] == [(f.url, f.title) for f in feeds]


def test_netnewswire_known_values() -> None:
    feeds = corpus("netnewswire_Subs.opml")
    assert len(feeds) == 207
    assert feeds[0] == OpmlFeed(
        "http://daringfireball.net/feeds/main", "Daring Fireball", "http://daringfireball.net/", ()
    )
    (chat,) = (feed for feed in feeds if "corinnekrych" in feed.url)
    assert chat.title == "chat & code"
    (unit,) = (feed for feed in feeds if feed.url == "http://iosunittesting.com/feed/")
    assert unit.categories == ("Programming",)
    assert {feed.categories for feed in feeds} >= {("Programming",), ("Macintosh",), ()}


def test_titles_fall_back_to_text() -> None:
    # The same subscriptions, one file with title attributes and one with text only.
    assert corpus("netnewswire_SubsNoTitleAttributes.opml") == corpus("netnewswire_Subs.opml")


def test_folder_categories_from_title_or_text() -> None:
    flym = {feed.title: feed for feed in corpus("feeder_Flym_auto_backup.opml")}  # folders: title
    assert len(flym) == 11
    assert flym["SMBC"].categories == ("black humor",)
    assert flym["Arch news"] == OpmlFeed(
        "https://www.archlinux.org/feeds/news/", "Arch news", "", ("Tech",)
    )
    rssguard = corpus("feeder_rssguard_2.opml")  # folders: text only
    (linuxfr,) = (feed for feed in rssguard if feed.url == "http://linuxfr.org/news.atom")
    assert linuxfr.title == "LinuxFr.org : les dépêches"
    assert linuxfr.categories == ("Actu Geek",)


def test_antennapod_known_values() -> None:
    feeds = corpus("feeder_antennapod-feeds.opml")
    assert len(feeds) == 8
    assert feeds[0] == OpmlFeed(
        "http://aliceisntdead.libsyn.com/rss", "Alice Isn't Dead", "http://www.aliceisntdead.com"
    )


def test_markup_in_an_attribute_is_recovered() -> None:
    feeds = corpus("feeder_Programming.opml")
    assert len(feeds) == 50
    (signal,) = (feed for feed in feeds if "signalvnoise" in feed.url)
    assert signal == OpmlFeed("https://m.signalvnoise.com/feed/", "Signal v. Noise")
    assert feeds[0] == OpmlFeed(
        "https://medium.com/feed/better-programming", "Better Programming - Medium"
    )


# --- parsing rules -----------------------------------------------------------------------------


def test_nested_folders_and_category_attribute() -> None:
    data = opml(
        '<outline text="News"><outline title="World" text="ignored">'
        '<outline text="A" xmlUrl="http://a.example/feed" category="/Asia/Kazakhstan, World ,x/"/>'
        "</outline></outline>"
        '<outline text="B" xmlUrl="http://b.example/feed"/>'
    )
    assert parse_opml(data) == [
        OpmlFeed("http://a.example/feed", "A", "", ("News", "World", "Asia", "Kazakhstan", "x")),
        OpmlFeed("http://b.example/feed", "B", "", ()),
    ]


def test_attribute_names_are_case_insensitive_and_values_stripped() -> None:
    data = opml(
        '<outline text="one" xmlurl=" http://one.example/ " HTMLURL="http://one.example/site"/>'
        '<outline TITLE="two" XMLURL="http://two.example/"/>'
        '<outline xmlUrl="http://three.example/" title="" text="  "/>'
        '<outline text="empty" xmlUrl="  "/><outline text="folder without url"/>'
    )
    assert parse_opml(data) == [
        OpmlFeed("http://one.example/", "one", "http://one.example/site"),
        OpmlFeed("http://two.example/", "two"),
        OpmlFeed("http://three.example/", ""),
    ]


def test_duplicates_fold_scheme_and_host_case_only() -> None:
    data = opml(
        '<outline text="first" xmlUrl="http://Example.ORG/Feed"/>'
        '<outline text="again" xmlUrl="HTTP://example.org/Feed "/>'
        '<outline text="other path" xmlUrl="http://example.org/feed"/>'
    )
    assert [(f.title, f.url) for f in parse_opml(data)] == [
        ("first", "http://Example.ORG/Feed"),
        ("other path", "http://example.org/feed"),
    ]


def test_commented_out_outlines_are_feeds_not_polled() -> None:
    """OPML 2.0's isComment, inherited by the outlines inside; a disabled source goes out so
    and comes back as `enabled = false` (it came back enabled)."""
    data = opml(
        '<outline text="on" xmlUrl="http://a.example/"/>'
        '<outline text="off" isComment="TRUE" xmlUrl="http://b.example/"/>'
        '<outline text="Old" isComment="true"><outline text="in" xmlUrl="http://c.example/"/>'
        "</outline>"
        '<outline text="no" isComment="false" xmlUrl="http://d.example/"/>'
    )
    feeds = parse_opml(data)
    assert [(feed.url, feed.enabled) for feed in feeds] == [
        ("http://a.example/", True),
        ("http://b.example/", False),
        ("http://c.example/", False),
        ("http://d.example/", True),
    ]
    rendered = render_opml(feeds, "t", NOW)
    assert rendered.count(b'isComment="true"') == 2
    assert parse_opml(rendered, strict=True) == feeds
    settings = parse_settings(sources_toml(feeds), Path("test.toml"), {})
    assert [source.enabled for source in settings.sources] == [True, False, False, True]


def test_a_doubly_escaped_ampersand_in_a_url_is_one_ampersand() -> None:
    """`&amp;amp;` (a URL escaped once in the exporter's store, again in its OPML) was polled
    as "?a=1&amp;b=2", a parameter "amp;b" the server does not know."""
    data = opml('<outline text="t &amp;amp; u" xmlUrl="http://a.example/rss?a=1&amp;amp;b=2"/>')
    assert parse_opml(data, strict=True) == [OpmlFeed("http://a.example/rss?a=1&b=2", "t &amp; u")]


def test_the_feed_pseudo_scheme_is_read_as_http() -> None:
    """Browsers' subscribe links, kept by some readers: was "skipped invalid" at import."""
    data = opml(
        '<outline text="a" xmlUrl="feed://a.example/rss"/>'
        '<outline text="b" xmlUrl="FEED:https://b.example/rss"/>'
        '<outline text="a again" xmlUrl="http://a.example/rss"/>'
        '<outline text="c" xmlUrl="feed:c.example/rss"/>'
    )
    assert [feed.url for feed in parse_opml(data)] == [
        "http://a.example/rss",
        "https://b.example/rss",
        "feed:c.example/rss",  # names no URL: left for the config check to refuse
    ]


def test_outlines_outside_body_are_ignored() -> None:
    head = '<head><outline text="x" xmlUrl="http://head.example/"/></head>'
    assert parse_opml(opml('<outline text="y" xmlUrl="http://y.example/"/>', head)) == [
        OpmlFeed("http://y.example/", "y")
    ]


def test_encodings_other_than_utf8() -> None:
    latin1 = '<?xml version="1.0" encoding="ISO-8859-1"?><opml><body><outline text="Café" xmlUrl="http://c.example/"/></body></opml>'
    assert parse_opml(latin1.encode("latin-1"))[0].title == "Café"
    utf16 = latin1.replace("ISO-8859-1", "UTF-16").encode("utf-16")
    assert parse_opml(utf16)[0].title == "Café"


def test_latin1_saved_as_if_utf8_is_read_as_windows_1252() -> None:
    """A list saved by a Windows editor (no declaration) or declared UTF-8 by an exporter that
    writes Latin-1: was "not well-formed (invalid token)" for the whole import."""
    body = '<opml><body><outline text="Caf\xe9 \x93Z\xfcrich\x94" xmlUrl="http://c.example/"/></body></opml>'
    for declaration in ("", '<?xml version="1.0" encoding="UTF-8"?>\n'):
        data = (declaration + body).encode("latin-1")
        with pytest.raises(OpmlError, match=r"^not UTF-8 text, and no other encoding declared"):
            parse_opml(data, strict=True)
        assert parse_opml(data) == [OpmlFeed("http://c.example/", "Café “Zürich”")]
    # Another encoding declared wrongly, or bytes no encoding reads: still an error.
    wrong = ('<?xml version="1.0" encoding="ascii"?>' + body).encode("latin-1")
    with pytest.raises(OpmlError, match="malformed XML"):
        parse_opml(wrong)


def test_bare_ampersand_in_url_is_recovered_but_not_in_strict_mode() -> None:
    data = opml('<outline text="a &amp; b" xmlUrl="http://q.example/?a=1&b=2&amp;c=3"/>')
    with pytest.raises(OpmlError, match=r"line 3, column"):
        parse_opml(data, strict=True)
    assert parse_opml(data) == [OpmlFeed("http://q.example/?a=1&b=2&c=3", "a & b")]


def test_html_named_references_are_recovered() -> None:
    """Exporters that escape with HTML's table write `&eacute;`, which XML does not define:
    one in a title made the whole import fail (expat reports it at the tag's `<`)."""
    title = opml('<outline text="Caf&eacute; &mdash; Z&uuml;rich" xmlUrl="http://c.example/"/>')
    with pytest.raises(OpmlError, match=r"undefined entity \(line 3, column 1\)"):
        parse_opml(title, strict=True)
    assert parse_opml(title) == [OpmlFeed("http://c.example/", "Café — Zürich")]
    folder = opml('<outline text="Pol&iacute;tica"><outline text="a" xmlUrl="http://a.example/"/>'
                  "</outline>")  # fmt: skip
    assert parse_opml(folder) == [OpmlFeed("http://a.example/", "a", categories=("Política",))]
    head = opml(
        '<outline text="b" xmlUrl="http://b.example/"/>', "<head><title>R&eacute;f</title></head>"
    )
    assert parse_opml(head) == [OpmlFeed("http://b.example/", "b")]
    # A name HTML does not know is an ampersand and text; "&copy=1" in a URL is no reference.
    odd = opml('<outline text="&bogus; &copy=1" xmlUrl="http://d.example/?x=1&copy=1&amp;y"/>')
    assert parse_opml(odd) == [OpmlFeed("http://d.example/?x=1&copy=1&y", "&bogus; &copy=1")]


# --- errors and hostile input ------------------------------------------------------------------


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE opml [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<opml version="2.0"><body><outline text="&lol9;" xmlUrl="http://x.example/&lol9;"/></body></opml>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<opml version="2.0"><body><outline text="&secret;" xmlUrl="http://x.example/"/></body></opml>
"""


@pytest.mark.parametrize("strict", [True, False])
@pytest.mark.parametrize("data", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["laughs", "external"])
def test_entity_declarations_are_refused_quickly(data: bytes, strict: bool) -> None:
    started = time.perf_counter()
    with pytest.raises(OpmlError, match=r"refused: <!DOCTYPE opml \[\.\.\.\]>.*\(line 2, column"):
        parse_opml(data, strict=strict)
    assert time.perf_counter() - started < 0.5


def test_a_bare_doctype_is_harmless_and_accepted() -> None:
    data = b'<?xml version="1.0"?>\n<!DOCTYPE opml>\n<opml><body><outline xmlUrl="http://d.example/"/></body></opml>'
    assert parse_opml(data) == [OpmlFeed("http://d.example/", "")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            opml('<outline text="x" xmlUrl="http://x.example/"/>')[:-20],
            r"^truncated: the file ends inside <body> \(opened on line 2\): .*\(line 3, column 1\)",
        ),
        (
            opml('<outline text="x" xmlUrl="http://x.example/">'),
            r"^malformed XML: <outline> \(opened on line 3\) is still open here: mismatched tag "
            r"\(line 4, column 3\)",
        ),
        (b"", r"^not an OPML document: the file is empty$"),
        (b" \n", r"^not an OPML document: the file is empty$"),
        (
            b'<opml>\n<body>\n<outline text="F\xc3',
            r"^truncated: the file ends inside <body> \(opened on line 2\)",
        ),
        (b"\x00\x01 not xml", r"malformed XML"),
        (b"<rss><channel/></rss>", r"root element is <rss>, not <opml> \(line 1, column 1\)"),
        (b"<opml><head/></opml>", r"no <body> element"),
    ],
    ids=["truncated", "unclosed", "empty", "blank", "cut-in-a-tag", "binary", "rss", "no-body"],
)
def test_broken_or_foreign_documents_raise(data: bytes, message: str) -> None:
    with pytest.raises(OpmlError, match=message):
        parse_opml(data)


def test_html_pages_raise() -> None:
    page = (
        b'<!doctype html>\n<html><head><meta charset="utf-8"><title>News</title></head>\n'
        b"<body><p>Hi<br></body></html>"
    )
    with pytest.raises(OpmlError, match=r"looks like an HTML page"):
        parse_opml(page)
    xhtml = b'<!DOCTYPE html>\n<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>'
    with pytest.raises(OpmlError, match=r"root element is <html>, not <opml> \(line 2, column 1\)"):
        parse_opml(xhtml)


def test_error_carries_line_and_column_and_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="line") as caught:
        parse_opml(b"<opml>\n<body>\n</opml>")
    assert isinstance(caught.value, OpmlError)
    assert (caught.value.line, caught.value.column) == (3, 3)


# --- rendering ---------------------------------------------------------------------------------


def test_render_writes_opml_2_with_the_given_head() -> None:
    feeds = [
        OpmlFeed(
            "http://a.example/feed?x=1&y=2",
            'A "quoted" <title>',
            "http://a.example/",
            ("News", "World"),
        ),
        OpmlFeed("http://b.example/", ""),
    ]
    document = render_opml(feeds, "My feeds", NOW)
    assert document.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">\n')
    assert b"<title>My feeds</title>" in document
    assert f"<dateCreated>{NOW}</dateCreated>".encode() in document
    assert (
        b'<outline text="News" title="News">\n      <outline text="World" title="World">'
        in document
    )
    assert b"category=" not in document
    assert b'htmlUrl="http://a.example/"' in document
    assert b'<outline type="rss" text="http://b.example/" xmlUrl="http://b.example/" />' in document
    assert parse_opml(document, strict=True) == feeds


def test_render_nests_feeds_in_folders_in_order_of_first_use() -> None:
    """Folders are what other readers read back; a feed keeps its place within its folder."""
    feeds = [
        OpmlFeed("https://a.example/1", "1", categories=("News",)),
        OpmlFeed("https://a.example/2", "2"),
        OpmlFeed("https://a.example/3", "3", categories=("News", "Asia/Central")),
        OpmlFeed("https://a.example/4", "4", categories=("News",)),
    ]
    parsed = parse_opml(render_opml(feeds, "t", NOW), strict=True)
    assert [feed.title for feed in parsed] == ["1", "3", "4", "2"]
    assert sorted(parsed, key=lambda feed: feed.url) == feeds


def test_source_categories_reads_back_what_sources_toml_writes() -> None:
    feeds = [
        OpmlFeed("https://a.example/1", "one", categories=("News", "Мир")),
        OpmlFeed("https://a.example/2", "two"),
        OpmlFeed("https://a.example/3", "three", categories=("Tech & Science",)),
    ]
    config = '# my desk\n[[sources]]\nurl = "https://x.example/"\n' + sources_toml(feeds)
    config += '\n# categories: Edited / By hand\n# a note\n  [[ sources ]]  # spaced\nurl = "u"\n'
    assert source_categories(config, 5) == [
        (),
        ("News", "Мир"),
        (),
        ("Tech & Science",),
        ("Edited", "By hand"),
    ]
    # Headers that do not match the sources (an inline array, a string): no guessing.
    inline = 'sources = [{url = "https://x.example/"}]\n# categories: A\n'
    assert source_categories(inline, 1) == [()]
    quoted = 'x = """\n[[sources]]\n"""\n# categories: A\n[[sources]]\nurl = "u"\n'
    assert source_categories(quoted, 1) == [()]


def test_render_drops_characters_xml_cannot_carry() -> None:
    feed = OpmlFeed("http://c.example/\x00", "bell\x07 tab\t\ufffe end", "", ("a\x1b",))
    document = render_opml([feed], "t\x01", "now\x0b")
    assert parse_opml(document, strict=True) == [
        OpmlFeed("http://c.example/", "bell tab\t end", "", ("a",))
    ]


XML_TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cn", "Cc")) | st.sampled_from("\t\n\r")
)
STRIPPED = XML_TEXT.map(str.strip)
CATEGORY = STRIPPED.filter(lambda part: part and "/" not in part and "," not in part)


@st.composite
def feed_lists(draw: st.DrawFn) -> list[OpmlFeed]:
    paths = draw(st.lists(STRIPPED, max_size=6, unique_by=str.lower))
    return [
        OpmlFeed(
            f"https://feeds.example/{index}/{path}",
            draw(STRIPPED),
            draw(STRIPPED),
            tuple(draw(st.lists(CATEGORY, max_size=3, unique=True))),
            draw(STRIPPED),
            draw(STRIPPED),
            draw(st.booleans()),
        )
        for index, path in enumerate(paths)
    ]


@deterministic
@given(feed_lists())
def test_render_then_parse_gives_the_same_feeds(feeds: list[OpmlFeed]) -> None:
    parsed = parse_opml(render_opml(feeds, "t", NOW), strict=True)
    assert sorted(parsed, key=lambda feed: feed.url) == sorted(feeds, key=lambda feed: feed.url)


# --- TOML --------------------------------------------------------------------------------------

TRICKY_TITLES = [
    'He said "hi"',
    "C:\\path\\to\\feed \\u0041 not an escape",
    "Новости Казахстана",
    "Emoji 📰🇰🇿 news",
    "tab\tnewline\nreturn\rformfeed\fbackspace\b",
    "control \x01\x1f and delete \x7f",
    "'single' and '''triple''' and \"\"\"triple double\"\"\"",
    "# not a comment ] [[sources]] = x",
]


def test_sources_toml_round_trips_tricky_titles() -> None:
    feeds = [
        OpmlFeed(f'https://x.example/{index}?q="a"&b=\\', title, "", ("Мир", "Asia/Central"))
        for index, title in enumerate(TRICKY_TITLES)
    ]
    text = sources_toml(feeds)
    assert "Новости Казахстана" in text  # non-ASCII kept, not \u-escaped
    assert "📰" in text
    sources = tomllib.loads(text)["sources"]
    assert [(s["url"], s["name"]) for s in sources] == [(f.url, f.title) for f in feeds]


def test_sources_toml_layout() -> None:
    feeds = [
        OpmlFeed("http://a.example/", "A", "http://a/", ("News", "Line\nbreak")),
        OpmlFeed("http://b.example/", ""),
    ]
    assert sources_toml(feeds) == (
        "\n# categories: News / Line break\n"
        '[[sources]]\nurl = "http://a.example/"\nname = "A"\n'
        '\n[[sources]]\nurl = "http://b.example/"\n'
    )
    assert sources_toml([]) == ""


def test_sources_toml_appends_to_a_config_the_config_accepts() -> None:
    config = '[polling]\ninterval = "30m"\n\n[[sources]]\nurl = "https://existing.example/rss"'
    feeds = [OpmlFeed("https://new.example/atom", 'New "one"', "", ("World",))]
    settings = parse_settings(config + sources_toml(feeds), Path("t.toml"), {})
    assert [(s.url, s.name) for s in settings.sources] == [
        ("https://existing.example/rss", ""),
        ("https://new.example/atom", 'New "one"'),
    ]


def test_language_and_region_travel_through_opml_and_toml() -> None:
    document = b"""<opml version="2.0"><body>
  <outline text="Tengri" type="rss" xmlUrl="https://tengrinews.kz/rss" language=" ru "
           region="KZ"/>
  <outline text="Plain" type="rss" xmlUrl="https://plain.example/rss"/>
</body></opml>"""
    tengri, plain = parse_opml(document, strict=True)
    assert (tengri.language, tengri.region) == ("ru", "KZ")
    assert (plain.language, plain.region) == ("", "")
    rendered = render_opml([tengri, plain], "t", NOW).decode()
    assert 'language="ru" region="KZ"' in rendered
    assert rendered.count("language=") == 1
    assert parse_opml(rendered.encode(), strict=True) == [tengri, plain]
    config = parse_settings(sources_toml([tengri, plain]), Path("t.toml"), {})
    assert [(s.language, s.region) for s in config.sources] == [("ru", "KZ"), ("", "")]


def test_sources_toml_values_are_never_environment_references() -> None:
    """The config reads `${NAME}` as an environment variable: an imported OPML must not put
    a secret into a URL that is then polled (or fail the import on an unset name)."""
    feeds = [
        OpmlFeed("https://evil.example/rss?k=${SMTP_PASSWORD}", "Template ${title}"),
        OpmlFeed("https://a.example/$${X}/$$$${Y}", "$ {X} ${ 1} $5"),
    ]
    environ = {"SMTP_PASSWORD": "s3cret", "X": "x", "Y": "y"}
    settings = parse_settings(sources_toml(feeds), Path("test.toml"), environ)
    assert [(s.url, s.name) for s in settings.sources] == [(f.url, f.title) for f in feeds]


def test_sources_toml_refuses_lone_surrogates() -> None:
    with pytest.raises(ValueError, match="surrogate"):
        sources_toml([OpmlFeed("http://s.example/", "bad \ud800")])


@deterministic
@given(
    st.lists(
        st.tuples(
            st.text(st.characters(blacklist_categories=("Cs",)), min_size=1),
            st.text(st.characters(blacklist_categories=("Cs",))),
        ),
        max_size=5,
    )
)
def test_sources_toml_round_trips_any_text(pairs: list[tuple[str, str]]) -> None:
    feeds = [OpmlFeed(url, title, "", (title, url)) for url, title in pairs]
    sources = tomllib.loads(sources_toml(feeds)).get("sources", [])
    assert [
        (_as_config_reads(s["url"]), _as_config_reads(s.get("name", ""))) for s in sources
    ] == pairs


def _as_config_reads(value: str) -> str:
    """A TOML string as the config reads it: `$${NAME}` is the literal `${NAME}`."""
    return re.sub(r"\$(\$\{[A-Za-z_][A-Za-z0-9_]*\})", r"\1", value)
