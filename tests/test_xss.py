"""Hostile HTML through the whole daemon path: feedparser's sanitize test cases as sources.

Every file of shared/corpus/feeds-conformance/feedparser/tests/wellformed/sanitize/ (745: RSS,
Atom 0.3 and Atom 1.0 documents with script, style, on* handlers, javascript: URLs, iframes,
embed, object, applet, meta, link, forms, CSS expressions, "crazy" hand-made HTML, base64- and
CDATA-wrapped script, ...) is served by a loopback feed server as one source, and one
`run --once` polls them all and publishes. Then every published document is re-parsed the way
a browser would (html5lib) and must hold nothing that can run script: see `script_hazards`.

The cases are served with two small, mechanical additions, so that every entry becomes its own
story and cluster and its hostile content is what gets published (left alone, the minimal
entries have no id, link, title or date and 390 of them fold into one cluster):
- each entry gets an id/guid, a link and a title when it has none, and a date when it has
  none (one hour apart per case, with `[dedup] window = "1s"`, so no near-duplicate folding);
- a feed-level case (feed title, subtitle, tagline, info, copyright) has no entry, so it gets
  one plain entry: its hostile feed title then travels as the story's source name.
The hostile markup itself is served byte for byte.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.etree import ElementTree

import feedparser
import html5lib
import pytest
from lxml import etree

from tests.atom_checks import ATOM, XHTML_NS
from tests.conftest import SHARED, FeedServer, Route, syndicator, write_config

SANITIZE = SHARED / "corpus/feeds-conformance/feedparser/tests/wellformed/sanitize"

DANGEROUS_ELEMENTS = frozenset(
    {
        "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "form",
        "input", "button", "select", "textarea", "meta", "link", "base", "portal",
        "foreignobject",
    }
)  # fmt: skip
URL_ATTRIBUTES = frozenset(
    {
        "href", "src", "action", "formaction", "data", "poster", "background", "dynsrc",
        "lowsrc", "codebase", "srcset",
    }
)  # fmt: skip
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_INVISIBLE = re.compile(r"[\x00-\x20\x7f-\x9f]+")  # browsers drop these inside URL schemes
_CSS_NOISE = re.compile(r"/\*.*?\*/|\\|\s+", re.S)


def script_hazards(fragment: str) -> list[str]:
    """What in this HTML fragment, parsed as a browser would, could run script: elements that
    run or load code, on* handler attributes, URL attributes with a scheme other than http,
    https or mailto (after entity decoding and dropping whitespace and control characters),
    and style attributes with expression(), url(javascript:...), -moz-binding or behavior."""
    tree = html5lib.parseFragment(fragment, treebuilder="etree", namespaceHTMLElements=False)
    hazards = []
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue  # a comment
        name = _local(element.tag)
        if name.lower() in DANGEROUS_ELEMENTS or (name == "svg" and _has_script(element)):
            hazards.append(f"<{name}> element")
        for raw_attribute, value in element.attrib.items():
            attribute = _local(raw_attribute).lower()
            if attribute.startswith("on"):
                hazards.append(f"{attribute}= handler on <{name}>")
            elif attribute in URL_ATTRIBUTES:
                hazards += [f"{attribute}={url!r} on <{name}>" for url in _unsafe_urls(value)]
            elif attribute == "style" and _unsafe_style(value):
                hazards.append(f"style={value!r} on <{name}>")
    return hazards


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _has_script(svg: ElementTree.Element) -> bool:
    return any(_local(str(child.tag)).lower() == "script" for child in svg.iter())


def _unsafe_urls(value: str) -> list[str]:
    candidates = [part.strip().split(" ")[0] for part in value.split(",")]
    urls = [value, *candidates] if "," in value else [value]
    unsafe = []
    for url in urls:
        plain = _INVISIBLE.sub("", html.unescape(html.unescape(url)))
        scheme = _SCHEME.match(plain)
        if scheme and scheme.group(1).lower() not in SAFE_SCHEMES:
            unsafe.append(url)
    return unsafe


def _unsafe_style(value: str) -> bool:
    css = _CSS_NOISE.sub("", html.unescape(value)).lower()
    return any(
        bad in css
        for bad in ("expression(", "url(javascript", "javascript:", "-moz-binding", "behavior:")
    )


def test_script_hazards_finds_what_it_should_and_passes_clean_html() -> None:
    clean = (
        '<p>Hello <a href="https://example.org/a?b=1&amp;c=2" rel="nofollow">link</a> '
        '<img src="http://example.org/i.png" alt="x"> <a href="mailto:a@example.org">mail</a> '
        '<a href="/relative">rel</a> <span style="color: red">red</span></p>'
    )
    assert script_hazards(clean) == []
    hostile = {
        "<script>alert(1)</script>": "<script>",
        "<img src=x onerror=alert(1)>": "onerror",
        '<a href=" &#106;ava&#x0A;script:alert(1)">x</a>': "href",
        '<a href="&amp;#106;avascript:alert(1)">x</a>': "href",  # double-encoded
        '<form action="https://evil.example/"><button formaction="javascript:x">': "<form>",
        '<div style="width: expr/**/ession(alert(1))">': "style",
        '<div style="background:url(&quot;javascript:alert(1)&quot;)">': "style",
        '<svg><script xlink:href="data:,alert(1)"></script></svg>': "<svg>",
        '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>': "href",
        '<object data="data:text/html;base64,PHNjcmlwdD4=">': "<object>",
        '<video poster="javascript:alert(1)">': "poster",
        '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">': "<meta>",
        '<img srcset="https://ok.example/a.png 1x, javascript:alert(1) 2x">': "srcset",
    }
    for markup, expected in hostile.items():
        found = script_hazards(markup)
        assert any(expected in hazard for hazard in found), (markup, found)


# ---------------------------------------------------------------------------------------------
# The corpus through the daemon.

_ENTRY = re.compile(r"<(entry|item)\b[^>]*>(.*?)</\1>", re.S)
_FIRST_DATE = datetime(2020, 1, 1, tzinfo=UTC)


def served_case(name: str, text: str, number: int) -> bytes:
    """The case as served: identity, link, title and date added where missing (see above)."""
    stem = name.removesuffix(".xml")
    kind = "rss" if "<rss" in text else "atom03" if "purl.org/atom/ns#" in text else "atom"
    when = _FIRST_DATE + timedelta(hours=number)
    count = 0

    def complete(match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        body = match.group(2)
        key = f"{stem}/{count}"
        added = ""
        if not re.search(r"<(id|guid)\b", body):
            added += _tag(kind, "id", f"urn:sanitize:{key}")
        if not re.search(r"<link\b", body):
            added += _tag(kind, "link", f"https://sanitize.test/{key}")
        if not re.search(r"<(updated|modified|issued|published|pubDate)\b", body):
            added += _tag(kind, "date", when)
        if not re.search(r"<title\b", body):
            added += f"<title>Sanitize case {stem.replace('_', ' ')} {count}</title>"
        opening = match.group(0)[: match.start(2) - match.start(0)]
        return opening + added + match.group(0)[len(opening) :]

    document = _ENTRY.sub(complete, text)
    if count == 0:  # a feed-level case: one plain entry carries the feed
        key = f"{stem}/feed"
        entry = (
            f"<entry>{_tag(kind, 'id', f'urn:sanitize:{key}')}"
            f"{_tag(kind, 'link', f'https://sanitize.test/{key}')}{_tag(kind, 'date', when)}"
            f"<title>Sanitize case {stem.replace('_', ' ')}</title>"
            "<summary>A plain entry carrying the feed-level case.</summary></entry>"
        )
        assert "</feed>" in document, name
        document = document.replace("</feed>", entry + "</feed>")
    return document.encode("utf-8", "surrogateescape")


def _tag(kind: str, what: str, value: object) -> str:
    if what == "id":
        return f'<guid isPermaLink="false">{value}</guid>' if kind == "rss" else f"<id>{value}</id>"
    if what == "link":
        return (
            f"<link>{value}</link>"
            if kind == "rss"
            else f'<link rel="alternate" type="text/html" href="{value}"/>'
        )
    assert isinstance(value, datetime)
    if kind == "rss":
        return f"<pubDate>{format_datetime(value, usegmt=True)}</pubDate>"
    stamp = f"{value:%Y-%m-%dT%H:%M:%SZ}"
    if kind == "atom03":
        return f"<modified>{stamp}</modified><issued>{stamp}</issued>"
    return f"<updated>{stamp}</updated>"


EVERYTHING = """
[dedup]
window = "1s"

[[sections]]
slug = "everything"
title = "Everything"
max_entries = 2000
"""


@pytest.mark.slow
def test_the_served_cases_are_hostile_before_sanitising() -> None:
    """The control: read without sanitising (feedparser, sanitize_html=False), 386 of the
    745 served cases hold a script hazard (script 71, on* handlers 18 to 32 each, embed,
    object, applet, iframe, link, meta 18 or 19 each, forms ...); the others are the
    "acceptable_*" and style cases, which must come through usable, not stripped."""
    paths = sorted(SANITIZE.glob("*.xml"))
    hostile = 0
    for number, path in enumerate(paths):
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        parsed = feedparser.parse(served_case(path.name, text, number), sanitize_html=False)
        texts = [parsed.feed.get(key, "") for key in ("title", "subtitle", "rights", "info")]
        for entry in parsed.entries:
            texts += [content.value for content in entry.get("content", [])]
            texts += [entry.get("summary", ""), entry.get("title", "")]
        hostile += any(script_hazards(text) for text in texts)
    assert hostile >= 350


@dataclass(frozen=True)
class Run:
    output_dir: Path
    cases: int
    stories: int


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Run:
    tmp = tmp_path_factory.mktemp("xss")
    paths = sorted(SANITIZE.glob("*.xml"))
    assert len(paths) > 700, f"the feedparser sanitize cases are missing: {SANITIZE}"
    server = FeedServer()
    server.start()
    try:
        for number, path in enumerate(paths):
            text = path.read_text(encoding="utf-8", errors="surrogateescape")
            server.routes[f"/{path.name}"] = Route(
                served_case(path.name, text, number), content_type="application/xml"
            )
        config = write_config(
            tmp, [server.url(f"/{path.name}") for path in paths], extra=EVERYTHING
        )
        result = syndicator("--config", str(config), "run", "--once", cwd=tmp)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        polled = re.search(
            r"(\d+) source\(s\) polled, (\d+) failed, (\d+) new stories",
            result.stderr + result.stdout,
        )
        assert polled, result.stderr
    finally:
        server.stop()
    return Run(tmp / "feeds", cases=len(paths), stories=int(polled.group(3)))


@dataclass(frozen=True)
class Fragment:
    where: str  # file and entry
    field: str  # content, summary, title, ...
    html: str


def atom_fragments(path: Path, name: str) -> Iterator[Fragment]:
    """Every HTML-bearing text of the entries of an Atom document, as the HTML a reader would
    render: html and xhtml content and text constructs; text ones are rendered as text, so
    they are escaped first."""
    root = etree.parse(str(path)).getroot()
    for number, entry in enumerate(root.iter(f"{ATOM}entry")):
        where = f"{name} entry {number} ({entry.findtext(f'{ATOM}id')})"
        for element in entry:
            name = etree.QName(element).localname
            if name in ("content", "summary", "title", "rights"):
                yield Fragment(where, name, _as_html(element))


def _as_html(element: etree._Element) -> str:
    kind = element.get("type", "text")
    if kind == "html":
        return element.text or ""
    if kind == "xhtml":
        div = element.find(f"{{{XHTML_NS}}}div")
        parts = [] if div is None else [etree.tostring(child, encoding="unicode") for child in div]
        return (div.text or "" if div is not None else "") + "".join(parts)
    return html.escape(element.text or "")


def json_fragments(path: Path, name: str) -> Iterator[Fragment]:
    """content_html of every JSON Feed item; its summary, content_text and title are plain
    text, so they are escaped first."""
    feed = json.loads(path.read_text(encoding="utf-8"))
    for number, item in enumerate(feed.get("items", [])):
        where = f"{name} item {number} ({item.get('id')})"
        if "content_html" in item:
            yield Fragment(where, "content_html", item["content_html"])
        for field in ("summary", "content_text", "title"):
            if field in item:
                yield Fragment(where, field, html.escape(item[field]))


@pytest.mark.slow
def test_no_published_entry_can_run_script(published: Run) -> None:
    """745 sanitize cases (759 entries: one file holds 15) become 759 stories in 759
    clusters, all in the `everything` section. When written, the run published 52 Atom files
    (everything, all, regions, topics) with 913 entries and 52 JSON feeds with 913 items:
    5,478 fragments (Atom content, summary, title; JSON content_html and, escaped as the plain
    text they are, summary and title) were checked and none held a script hazard."""
    fragments: list[Fragment] = []
    for path in sorted(published.output_dir.rglob("*.atom")):  # archive pages included
        fragments += atom_fragments(path, str(path.relative_to(published.output_dir)))
    for path in sorted(published.output_dir.rglob("*.json")):  # none before JSON Feed landed
        fragments += json_fragments(path, str(path.relative_to(published.output_dir)))
    checked, entries, hazards = 0, set(), []
    for fragment in fragments:
        checked += 1
        entries.add(fragment.where)
        hazards += [
            f"{fragment.where} {fragment.field}: {h}" for h in script_hazards(fragment.html)
        ]
    assert not hazards, f"{len(hazards)} hazards:\n" + "\n".join(hazards[:50])
    everything = etree.parse(str(published.output_dir / "feeds" / "everything.atom"))
    assert published.stories >= published.cases
    assert len(everything.getroot().findall(f"{ATOM}entry")) == published.stories
    assert len(entries) >= published.stories
    assert checked > 2 * published.stories


def _titles(path: Path) -> Iterator[Fragment]:
    """Entry titles and atom:source titles, read as the HTML a careless reader makes of them."""
    root = etree.parse(str(path)).getroot()
    for number, entry in enumerate(root.iter(f"{ATOM}entry")):
        where = f"{path.name} entry {number} ({entry.findtext(f'{ATOM}id')})"
        for field, element in (
            ("title", entry.find(f"{ATOM}title")),
            ("source title", entry.find(f"{ATOM}source/{ATOM}title")),
        ):
            if element is not None:
                yield Fragment(where, field, element.text or "")


@pytest.mark.slow
def test_titles_and_source_names_are_text_not_markup(published: Run) -> None:
    """Titles are type="text", so a conforming reader shows markup in them as text and runs
    nothing. But a title is meant to be clean text (normalize: "clean text from HTML"), and
    feedparser itself reads these feed titles as "safe description": markup left in one is a
    trap for every reader that renders titles as HTML. Before feed titles were read as text,
    31 titles held a script hazard here: 30 source names (feed_title_* cases: script, iframe,
    embed, object, on* handlers, javascript: links ...) and 1 entry title
    (entry_title_script_inline.xml, an Atom 0.3 inline-XML title)."""
    path = published.output_dir / "feeds" / "everything.atom"
    hazards = [
        f"{fragment.where} {fragment.field}: {hazard}"
        for fragment in _titles(path)
        for hazard in script_hazards(fragment.html)
    ]
    assert not hazards, f"{len(hazards)} hazards:\n" + "\n".join(hazards[:20])
