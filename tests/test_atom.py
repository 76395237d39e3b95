"""Tests for syndicator.atom: RFC 4287 structure, stable ids, categories, sanitised content."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from lxml import etree

from syndicator.atom import (
    MAX_NESTING,
    FeedContext,
    render_atom,
    sanitise_html,
    with_feed_updated,
    without_furniture,
)
from syndicator.models import Cluster, Section, StoredStory

ATOM_NS = "http://www.w3.org/2005/Atom"
NS = {"a": ATOM_NS}
RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$", re.IGNORECASE
)
TAG_URI = re.compile(r"^tag:[a-z0-9.-]+,\d{4}(-\d{2}(-\d{2})?)?:\S+$")

BASE_URL = "https://feeds.example.org/"
CONTEXT = FeedContext(
    base_url=BASE_URL,
    feed_url=f"{BASE_URL}feeds/central-asia.atom",
    index_url=BASE_URL,
)
SECTION = Section(slug="central-asia", title="Central Asia", regions=("KZ", "Central Asia"))
EMPTY_UPDATED = datetime(2024, 5, 1, 0, 0, tzinfo=UTC)
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
T1 = datetime(2024, 5, 1, 10, 30, tzinfo=UTC)
T2 = datetime(2024, 5, 2, 8, 15, 30, tzinfo=UTC)


def _story(story_id: int, cluster_id: int, **changes: Any) -> StoredStory:
    story = StoredStory(
        id=story_id,
        cluster_id=cluster_id,
        source_id=story_id,
        source_name=f"Outlet {story_id}",
        source_url=f"https://outlet{story_id}.example.org/rss.xml",
        source_link=f"https://outlet{story_id}.example.org/",
        url=f"https://outlet{story_id}.example.org/stories/{cluster_id}",
        title=f"Story {cluster_id}",
        summary=f"Summary of story {cluster_id}.",
        content_html=f"<p>Body of story {cluster_id}.</p>",
        author="Desk Writer",
        published_at=T0,
        first_seen_at=T0,
        updated_at=T1,
    )
    return dataclasses.replace(story, **changes)


def _cluster(cluster_id: int, *copy_ids: int, **changes: Any) -> Cluster:
    representative = _story(cluster_id * 10, cluster_id)
    copies = tuple(_story(copy_id, cluster_id) for copy_id in copy_ids)
    cluster = Cluster(
        id=cluster_id,
        title=f"Story {cluster_id}",
        published_at=T0,
        first_seen_at=T0,
        updated_at=T1,
        representative=representative,
        copies=(representative, *copies),
        regions=("KZ", "Central Asia"),
        topics=("conflict",),
    )
    return dataclasses.replace(cluster, **changes)


def _render(clusters: list[Cluster], section: Section = SECTION) -> bytes:
    return render_atom(section, clusters, CONTEXT, EMPTY_UPDATED)


def _parse(document: bytes) -> etree._Element:
    root = etree.fromstring(document)
    assert root.tag == f"{{{ATOM_NS}}}feed"
    return root


def _entries(root: etree._Element) -> list[etree._Element]:
    return root.findall("a:entry", NS)


def _only(parent: etree._Element, name: str) -> etree._Element:
    found = parent.findall(f"a:{name}", NS)
    assert len(found) == 1, f"expected exactly one atom:{name}, got {len(found)}"
    return found[0]


def _links(parent: etree._Element, rel: str) -> list[etree._Element]:
    """Links with this rel; a link without rel is "alternate" (RFC 4287 4.2.7.2)."""
    return [link for link in parent.findall("a:link", NS) if link.get("rel", "alternate") == rel]


def _content(entry: etree._Element) -> str:
    return _only(entry, "content").text or ""


# ---------------------------------------------------------------------------------------------
# Feed and entry structure.


def test_feed_has_exactly_one_id_title_updated_and_self_link() -> None:
    root = _parse(_render([_cluster(1, 2), _cluster(3)]))

    assert _only(root, "id").text == CONTEXT.feed_url
    assert _only(root, "title").text == "Central Asia"
    _only(root, "updated")
    (self_link,) = _links(root, "self")
    assert self_link.get("href") == CONTEXT.feed_url


def test_empty_feed_is_valid_and_uses_empty_updated() -> None:
    root = _parse(_render([]))

    _only(root, "id")
    _only(root, "title")
    assert len(_links(root, "self")) == 1
    assert _entries(root) == []
    assert datetime.fromisoformat(_only(root, "updated").text or "") == EMPTY_UPDATED


def test_feed_updated_is_the_newest_cluster_change() -> None:
    clusters = [_cluster(1), _cluster(2, updated_at=T2), _cluster(3)]

    root = _parse(_render(clusters))

    assert datetime.fromisoformat(_only(root, "updated").text or "") == T2


def test_moving_the_feed_updated_equals_rendering_with_it() -> None:
    """`with_feed_updated` spares a publish rendering a changed feed twice: its result must
    be the document rendered with that `updated`, byte for byte, archive links and all."""
    clusters = [_cluster(1, 2), _cluster(3, published_at=datetime(2024, 5, 2, 9, tzinfo=UTC))]
    later = datetime(2024, 6, 1, 12, 30, 5, 123456, tzinfo=UTC)
    for context in (CONTEXT, dataclasses.replace(CONTEXT, prev_archive_url=BASE_URL + "a/1.atom")):
        first = render_atom(SECTION, clusters, context, EMPTY_UPDATED)
        again = render_atom(SECTION, clusters, context, EMPTY_UPDATED, at_least=later)
        assert first != again
        assert with_feed_updated(first, later) == again


def test_every_entry_has_id_title_updated_and_unique_ids() -> None:
    clusters = [_cluster(1, 2, 3), _cluster(4), _cluster(5, 6)]

    entries = _entries(_parse(_render(clusters)))

    assert len(entries) == 3
    ids = [_only(entry, "id").text for entry in entries]
    for entry in entries:
        assert _only(entry, "title").text
        _only(entry, "updated")
    assert len(set(ids)) == len(ids)
    assert [_only(entry, "title").text for entry in entries] == ["Story 1", "Story 4", "Story 5"]


def test_every_entry_has_an_author_as_rfc4287_requires() -> None:
    # RFC 4287 4.1.2: an entry MUST contain an atom:author unless its atom:source or the
    # feed has one. Stories often come without an author.
    anonymous = _cluster(1)
    anonymous = dataclasses.replace(
        anonymous, representative=dataclasses.replace(anonymous.representative, author="")
    )

    root = _parse(_render([anonymous, _cluster(2)]))

    feed_has_author = bool(root.findall("a:author", NS))
    for entry in _entries(root):
        source_has_author = bool(entry.findall("a:source/a:author", NS))
        entry_has_author = bool(entry.findall("a:author", NS))
        assert entry_has_author or source_has_author or feed_has_author


def test_all_dates_are_rfc3339() -> None:
    root = _parse(_render([_cluster(1, 2), _cluster(3, published_at=T2, updated_at=T2)]))

    dates = [element.text or "" for element in root.iter(f"{{{ATOM_NS}}}updated")]
    dates += [element.text or "" for element in root.iter(f"{{{ATOM_NS}}}published")]
    assert len(dates) >= 5
    for text in dates:
        assert RFC3339.match(text), text


def test_entry_dates_come_from_the_cluster() -> None:
    (entry,) = _entries(_parse(_render([_cluster(1, published_at=T0, updated_at=T2)])))

    assert datetime.fromisoformat(_only(entry, "published").text or "") == T0
    assert datetime.fromisoformat(_only(entry, "updated").text or "") == T2


# ---------------------------------------------------------------------------------------------
# Stable ids.


def test_ids_are_tag_uris_and_rendering_is_byte_stable() -> None:
    clusters = [_cluster(1, 2), _cluster(3)]

    first = _render(clusters)
    second = _render(clusters)

    assert first == second
    for entry in _entries(_parse(first)):
        assert TAG_URI.match(_only(entry, "id").text or "")


def test_entry_id_survives_changes_to_the_cluster() -> None:
    before = _cluster(7, 8)
    after = dataclasses.replace(before, title="Story 7, updated", updated_at=T2, copies=())

    (old,) = _entries(_parse(_render([before])))
    (new,) = _entries(_parse(_render([after])))

    assert _only(old, "id").text == _only(new, "id").text


def test_different_clusters_get_different_ids() -> None:
    entries = _entries(_parse(_render([_cluster(1), _cluster(11), _cluster(111)])))

    assert len({_only(entry, "id").text for entry in entries}) == 3


# ---------------------------------------------------------------------------------------------
# Links, source and categories.


def test_copies_appear_as_related_links() -> None:
    cluster = _cluster(1, 2, 3)

    (entry,) = _entries(_parse(_render([cluster])))

    (alternate,) = _links(entry, "alternate")
    assert alternate.get("href") == cluster.representative.url
    related = {link.get("href") for link in _links(entry, "related")}
    assert related == {
        "https://outlet2.example.org/stories/1",
        "https://outlet3.example.org/stories/1",
    }


def test_at_most_one_alternate_link_per_entry() -> None:
    # RFC 4287 4.1.1: no two alternate links with the same type and hreflang.
    (entry,) = _entries(_parse(_render([_cluster(1, 2, 3)])))

    alternates = [(link.get("type"), link.get("hreflang")) for link in _links(entry, "alternate")]
    assert len(alternates) == len(set(alternates))


def test_origin_appears_as_atom_source() -> None:
    cluster = _cluster(1, 2)

    (entry,) = _entries(_parse(_render([cluster])))

    source = _only(entry, "source")
    assert _only(source, "title").text == cluster.representative.source_name
    hrefs = {link.get("href") for link in source.findall("a:link", NS)}
    assert cluster.representative.source_url in hrefs


def test_region_and_topic_categories_carry_schemes() -> None:
    (entry,) = _entries(_parse(_render([_cluster(1)])))

    categories = {
        (category.get("term"), category.get("scheme"), category.get("label"))
        for category in entry.findall("a:category", NS)
    }
    assert categories == {
        ("KZ", f"{BASE_URL}regions", "Kazakhstan"),
        ("Central Asia", f"{BASE_URL}regions", "Central Asia"),
        ("conflict", f"{BASE_URL}topics", "Conflict, war and peace"),
    }


# ---------------------------------------------------------------------------------------------
# Hostile strings.


def test_title_with_control_characters_renders_without_them() -> None:
    cluster = _cluster(1, title="Breaking\x01 news\x0b from Almaty")

    document = _render([cluster])

    assert b"\x01" not in document
    assert b"\x0b" not in document
    (entry,) = _entries(_parse(document))
    assert _only(entry, "title").text == "Breaking news from Almaty"


def _with_representative(cluster: Cluster, **changes: Any) -> Cluster:
    representative = dataclasses.replace(cluster.representative, **changes)
    copies = tuple(
        representative if copy.id == representative.id else copy for copy in cluster.copies
    )
    return dataclasses.replace(cluster, representative=representative, copies=copies)


def _with_copy(cluster: Cluster, **changes: Any) -> Cluster:
    copies = tuple(
        copy if copy.id == cluster.representative.id else dataclasses.replace(copy, **changes)
        for copy in cluster.copies
    )
    return dataclasses.replace(cluster, copies=copies)


CONTROL = "\x01\x0b\x1f"
HOSTILE_FIELDS: dict[str, Callable[[Cluster], tuple[Cluster, Section]]] = {
    "section-title": lambda c: (c, Section(slug="s", title=f"Central{CONTROL} Asia")),
    "section-subtitle": lambda c: (c, Section(slug="s", title="S", subtitle=f"Sub{CONTROL}")),
    "author": lambda c: (_with_representative(c, author=f"Ann{CONTROL}"), SECTION),
    "summary": lambda c: (_with_representative(c, summary=f"Sum{CONTROL}mary"), SECTION),
    "content": lambda c: (_with_representative(c, content_html=f"<p>B{CONTROL}</p>"), SECTION),
    "source-name": lambda c: (_with_representative(c, source_name=f"Out{CONTROL}"), SECTION),
    "copy-source-name": lambda c: (_with_copy(c, source_name=f"Other{CONTROL}"), SECTION),
    "url": lambda c: (_with_representative(c, url=f"https://a.example.org/x{CONTROL}"), SECTION),
    "copy-url": lambda c: (_with_copy(c, url=f"https://b.example.org/y{CONTROL}"), SECTION),
}


@pytest.mark.parametrize("make", list(HOSTILE_FIELDS.values()), ids=list(HOSTILE_FIELDS))
def test_control_characters_in_any_field_render_without_them(
    make: Callable[[Cluster], tuple[Cluster, Section]],
) -> None:
    cluster, section = make(_cluster(1, 2))

    document = render_atom(section, [cluster], CONTEXT, EMPTY_UPDATED)

    assert not re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]", document)
    assert len(_entries(_parse(document))) == 1


def test_already_clean_text_is_not_unescaped_again() -> None:
    # Stored titles and names are clean text (entities already decoded by normalize); a
    # headline about HTML that literally says "&lt;b&gt;" must stay as it is.
    cluster = _with_representative(
        _cluster(1, title="Why &lt;b&gt; beats &amp;nbsp;"), source_name="Q&amp;A Weekly"
    )

    (entry,) = _entries(_parse(_render([cluster])))

    assert _only(entry, "title").text == "Why &lt;b&gt; beats &amp;nbsp;"
    assert _only(_only(entry, "source"), "title").text == "Q&amp;A Weekly"


HOSTILE_HTML = (
    "<p>Safe paragraph with <b>bold</b> and <a href='https://example.org/ok'>a link</a>.</p>"
    "<script>alert(1)</script>"
    "<img src=x onerror=alert(1)>"
    '<a href="javascript:alert(1)">click</a>'
    '<iframe src="https://evil.example.org/"></iframe>'
    '<form action="https://evil.example.org/steal"><input name="pw"></form>'
    "<style>body { display: none }</style>"
    '<div onclick="alert(1)" style="position:fixed">overlay</div>'
)


def test_an_entrys_own_text_carries_its_language() -> None:
    """A section mixing Al Jazeera Arabic and Reuters: without xml:lang a reader shows the
    Arabic headline left to right and reads it aloud as English. The entry's own text says
    its language; the category labels and source name (ours, English) do not."""
    arabic = _cluster(1)
    arabic = dataclasses.replace(
        arabic, representative=dataclasses.replace(arabic.representative, language="ar")
    )
    unknown = _cluster(2)
    odd = _cluster(3)
    odd = dataclasses.replace(
        odd, representative=dataclasses.replace(odd.representative, language="en_US")
    )
    entries = _entries(_parse(_render([arabic, unknown, odd])))
    lang = "{http://www.w3.org/XML/1998/namespace}lang"
    for name in ("title", "summary", "content"):
        assert _only(entries[0], name).get(lang) == "ar"
        assert _only(entries[1], name).get(lang) is None
        assert _only(entries[2], name).get(lang) == "en-US"
    assert entries[0].get(lang) is None
    assert all(category.get(lang) is None for category in entries[0].iter(f"{{{ATOM_NS}}}category"))


def test_content_is_sanitised() -> None:
    cluster = _with_representative(_cluster(1, 2), content_html=HOSTILE_HTML)

    (entry,) = _entries(_parse(_render([cluster])))

    content_element = _only(entry, "content")
    assert content_element.get("type") == "html"
    content = (content_element.text or "").lower()
    for forbidden in ("script", "onerror", "javascript:", "iframe", "form", "onclick", "style"):
        assert forbidden not in content, f"{forbidden!r} survived sanitising: {content}"
    assert "safe paragraph" in content
    assert "<b>bold</b>" in content
    assert "https://example.org/ok" in content


def test_summary_fallback_content_is_sanitised() -> None:
    cluster = _with_representative(_cluster(1), content_html="", summary=HOSTILE_HTML)

    (entry,) = _entries(_parse(_render([cluster])))

    content = _content(entry).lower()
    for forbidden in ("<script", "onerror", "javascript:", "<iframe", "<form"):
        assert forbidden not in content


def test_an_entry_without_content_or_summary_shows_its_headline() -> None:
    """Readers show the content first: an empty one was a blank entry."""
    cluster = _with_representative(
        dataclasses.replace(_cluster(1), title="Ads & more"), content_html="", summary=" "
    )

    (entry,) = _entries(_parse(_render([cluster])))

    assert _content(entry) == "<p>Ads &amp; more</p>"


def test_relative_links_in_content_are_resolved_against_the_feed_url() -> None:
    from syndicator.atom import absolute_links

    html = '<p><a href="/sport/x">more</a> <img src="pic.png"> <a href="#top">top</a></p>'
    resolved = absolute_links(html, "https://wire.example/feeds/rss.xml")
    assert 'href="https://wire.example/sport/x"' in resolved
    assert 'src="https://wire.example/feeds/pic.png"' in resolved
    assert resolved.count("https://wire.example/") == 3
    untouched = '<p><a href="https://other.example/a">a</a></p>'
    assert absolute_links(untouched, "https://wire.example/") == untouched


@pytest.mark.parametrize(
    "markup",
    [
        "<div>" * 100_000 + "deep" + "</div>" * 100_000,  # nh3 took 125 s on this
        "<span><div>" * 30_000 + "deep",  # unclosed
        "a&amp;b " * 800_000,  # 80 s
    ],
    ids=["nested-divs", "unclosed-nesting", "character-references"],
)
def test_markup_too_complex_to_sanitise_is_published_as_text(markup: str) -> None:
    cleaned = sanitise_html(markup)
    assert cleaned.startswith("<p>")
    assert "<div" not in cleaned
    assert "deep" in cleaned or "a&amp;b a&amp;b" in cleaned


def test_ordinary_markup_is_sanitised_not_flattened() -> None:
    paragraphs = "".join(f"<p>Paragraph {n} with <b>bold</b> &amp; more.</p>" for n in range(3000))
    nested = "<div>" * (MAX_NESTING - 10) + "<script>x</script>ok" + "</div>" * (MAX_NESTING - 10)
    assert sanitise_html(paragraphs).count("<p>") == 3000
    assert "<b>bold</b>" in sanitise_html(paragraphs)
    kept = sanitise_html(nested)
    assert "<div>" in kept
    assert "script" not in kept
    assert sanitise_html("<p>x" * 5000).count("<p>") == 5000  # unclosed <p>s nest nothing


def test_without_furniture_keeps_the_article_and_drops_what_the_text_left_out() -> None:
    body = (
        "<p>ALMATY (Reuters) - A quake hit the city.</p>"
        '<div class="share"><p>Share this:</p><p>Tweet</p></div>'
        "<table><tr><td>Magnitude</td><td>6.1</td></tr></table>"
        "<p>Rescuers searched the rubble.</p><p>© 2026 Site. All rights reserved.</p>"
    )
    text = "A quake hit the city.\n\nMagnitude6.1\n\nRescuers searched the rubble."
    cleaned = without_furniture(body, text, "A quake hit the city.")
    assert cleaned == (
        "<p>ALMATY (Reuters) - A quake hit the city.</p>"  # the dateline was taken off it
        '<div class="share"></div>'
        "<table><tr><td>Magnitude</td><td>6.1</td></tr></table>"  # tables stay whole
        "<p>Rescuers searched the rubble.</p>"
    )
    # Without a dateline, a line merely ending with the first line is not the article's.
    crumbs = "<p>Home / WORLD / Quake hits</p><p>Quake hits</p>"
    assert without_furniture(crumbs, "Quake hits") == "<p>Quake hits</p>"
    # Nothing of the text found (another rendering of it): the body as it was.
    assert without_furniture("<p>Something else</p>", "A quake") == "<p>Something else</p>"
    assert without_furniture("plain text, no markup", "other") == "plain text, no markup"
