"""Tests for syndicator.jsonfeed: a valid JSON Feed 1.1 beside each Atom feed, same data."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from syndicator.atom import FeedContext, render_atom
from syndicator.jsonfeed import json_feed_url, render_json_feed
from syndicator.models import Cluster, Section
from tests.fuzzing import budget
from tests.test_atom import (
    BASE_URL,
    CONTEXT,
    EMPTY_UPDATED,
    HOSTILE_HTML,
    NS,
    SECTION,
    T0,
    T2,
    _cluster,
    _with_copy,
    _with_representative,
)

VERSION_1_1 = "https://jsonfeed.org/version/1.1"
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
EXTENSION_NAME = re.compile(r"^_[A-Za-z]")
JSON_URL = f"{BASE_URL}feeds/central-asia.json"
HUB = "https://hub.example.org/"

# ---------------------------------------------------------------------------------------------
# A JSON Feed 1.1 checker (https://www.jsonfeed.org/version/1.1/): what the spec requires, plus
# what we promise (absolute URLs, RFC 3339 dates, unique string ids).

FEED_KEYS = {
    "version", "title", "home_page_url", "feed_url", "description", "user_comment", "next_url",
    "icon", "favicon", "author", "authors", "language", "expired", "hubs", "items",
}  # fmt: skip
ITEM_KEYS = {
    "id", "url", "external_url", "title", "content_html", "content_text", "summary", "image",
    "banner_image", "date_published", "date_modified", "author", "authors", "tags", "language",
    "attachments",
}  # fmt: skip
AUTHOR_KEYS = {"name", "url", "avatar"}
HUB_KEYS = {"type", "url"}
FEED_URL_FIELDS = ("home_page_url", "feed_url", "next_url", "icon", "favicon")
ITEM_URL_FIELDS = ("url", "external_url", "image", "banner_image")


def check_json_feed(document: bytes) -> dict[str, Any]:
    """Assert `document` is a valid JSON Feed 1.1 in UTF-8; return it parsed."""
    feed = json.loads(document.decode("utf-8"))
    assert isinstance(feed, dict)
    _check_keys(feed, FEED_KEYS, "feed")
    assert feed.get("version") == VERSION_1_1
    _check_string(feed, "title", required=True)
    for key in ("description", "user_comment", "language"):
        _check_string(feed, key)
    for key in FEED_URL_FIELDS:
        _check_url(feed, key)
    if "expired" in feed:
        assert isinstance(feed["expired"], bool)
    _check_authors(feed)
    for hub in _list_of_objects(feed, "hubs"):
        _check_keys(hub, HUB_KEYS, "hub")
        _check_string(hub, "type", required=True)
        _check_url(hub, "url", required=True)
    items = feed.get("items")
    assert isinstance(items, list), "items is required and is an array"
    for item in items:
        _check_item(item)
    ids = [item["id"] for item in items]
    assert len(ids) == len(set(ids)), "item ids must be unique"
    return feed


def _check_item(item: object) -> None:
    assert isinstance(item, dict)
    _check_keys(item, ITEM_KEYS, "item")
    _check_string(item, "id", required=True)
    assert item["id"], "an item id is not empty"
    assert "content_html" in item or "content_text" in item, "one of content_html/content_text"
    for key in ("title", "content_html", "content_text", "summary", "language"):
        _check_string(item, key)
    for key in ITEM_URL_FIELDS:
        _check_url(item, key)
    for key in ("date_published", "date_modified"):
        if key in item:
            assert isinstance(item[key], str)
            assert RFC3339.match(item[key]), f"{key} {item[key]!r} is not RFC 3339"
    _check_authors(item)
    if "tags" in item:
        assert isinstance(item["tags"], list)
        assert all(isinstance(tag, str) for tag in item["tags"])
    for attachment in _list_of_objects(item, "attachments"):
        _check_url(attachment, "url", required=True)
        _check_string(attachment, "mime_type", required=True)


def _check_authors(parent: dict[str, Any]) -> None:
    for author in _list_of_objects(parent, "authors"):
        _check_keys(author, AUTHOR_KEYS, "author")
        assert set(author) & AUTHOR_KEYS, "an author object has at least one member"
        _check_string(author, "name")
        _check_url(author, "url")
        _check_url(author, "avatar")


def _check_keys(obj: dict[str, Any], known: set[str], what: str) -> None:
    for key in obj:
        assert key in known or EXTENSION_NAME.match(key), f"{what} has non-extension key {key!r}"


def _check_string(obj: dict[str, Any], key: str, *, required: bool = False) -> None:
    assert key in obj or not required, f"{key} is required"
    if key in obj:
        assert isinstance(obj[key], str), f"{key} must be a string"


def _check_url(obj: dict[str, Any], key: str, *, required: bool = False) -> None:
    _check_string(obj, key, required=required)
    if key in obj:
        assert _is_absolute(obj[key]), f"{key} {obj[key]!r} is not an absolute URL"


def _is_absolute(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _list_of_objects(obj: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = obj.get(key, [])
    assert isinstance(value, list), f"{key} must be an array"
    assert all(isinstance(element, dict) for element in value)
    return value


# ---------------------------------------------------------------------------------------------
# Helpers.


def _render(
    clusters: list[Cluster], section: Section = SECTION, context: FeedContext = CONTEXT
) -> bytes:
    return render_json_feed(section, clusters, context, EMPTY_UPDATED)


def _feed(clusters: list[Cluster], **kwargs: Any) -> dict[str, Any]:
    return check_json_feed(_render(clusters, **kwargs))


def _atom_ids(clusters: list[Cluster]) -> list[str]:
    root = etree.fromstring(render_atom(SECTION, clusters, CONTEXT, EMPTY_UPDATED))
    return [entry.findtext("a:id", namespaces=NS) or "" for entry in root.findall("a:entry", NS)]


def _atom_contents(clusters: list[Cluster]) -> list[str]:
    root = etree.fromstring(render_atom(SECTION, clusters, CONTEXT, EMPTY_UPDATED))
    return [
        entry.findtext("a:content", namespaces=NS) or "" for entry in root.findall("a:entry", NS)
    ]


# ---------------------------------------------------------------------------------------------
# The checker itself: it must reject what the spec forbids, or the other tests prove nothing.


@pytest.mark.parametrize(
    "broken",
    [
        {"title": "no version", "items": []},
        {"version": VERSION_1_1, "items": []},
        {"version": VERSION_1_1, "title": "no items"},
        {"version": VERSION_1_1, "title": "t", "items": [{"id": 1, "content_html": "x"}]},
        {"version": VERSION_1_1, "title": "t", "items": [{"id": "a"}]},
        {"version": VERSION_1_1, "title": "t", "items": [{"id": "a", "content_text": "x"}] * 2},
        {"version": VERSION_1_1, "title": "t", "feed_url": "/relative.json", "items": []},
        {"version": VERSION_1_1, "title": "t", "custom": {}, "items": []},
        {
            "version": VERSION_1_1,
            "title": "t",
            "items": [{"id": "a", "content_text": "x", "date_published": "1 May 2024"}],
        },
        {"version": VERSION_1_1, "title": "t", "authors": [{}], "items": []},
    ],
)
def test_checker_rejects_invalid_feeds(broken: dict[str, Any]) -> None:
    with pytest.raises(AssertionError):
        check_json_feed(json.dumps(broken).encode())


# ---------------------------------------------------------------------------------------------
# Structure.


def test_feed_is_valid_json_feed_1_1_with_the_section_metadata() -> None:
    section = dataclasses.replace(SECTION, subtitle="Everything about Central Asia")

    feed = _feed([_cluster(1, 2), _cluster(3)], section=section)

    assert list(feed)[:4] == ["version", "title", "description", "home_page_url"]
    assert feed["title"] == "Central Asia"
    assert feed["description"] == "Everything about Central Asia"
    assert feed["home_page_url"] == CONTEXT.index_url
    assert feed["feed_url"] == JSON_URL
    assert feed["authors"] == [{"name": "syndicator"}]
    assert "language" not in feed
    assert len(feed["items"]) == 2


def test_item_carries_the_cluster() -> None:
    cluster = _cluster(1, 2, published_at=T0, updated_at=T2)

    (item,) = _feed([cluster])["items"]

    assert item["url"] == cluster.representative.url
    assert item["title"] == "Story 1"
    assert item["summary"] == "Summary of story 1."
    assert datetime.fromisoformat(item["date_published"]) == T0
    assert datetime.fromisoformat(item["date_modified"]) == T2
    assert item["authors"] == [{"name": "Desk Writer"}]
    assert item["tags"] == ["KZ", "Central Asia", "conflict"]


def test_extension_lists_regions_topics_every_source_and_the_cluster_id() -> None:
    cluster = _cluster(1, 2, 3)

    (item,) = _feed([cluster])["items"]

    extension = item["_syndicator"]
    assert extension["regions"] == [
        {"code": "KZ", "label": "Kazakhstan"},
        {"code": "Central Asia", "label": "Central Asia"},
    ]
    assert extension["topics"] == [{"slug": "conflict", "label": "Conflict, war and peace"}]
    assert extension["cluster_id"] == 1
    sources = extension["sources"]
    assert [source["name"] for source in sources] == ["Outlet 10", "Outlet 2", "Outlet 3"]
    assert sources[0] == {
        "name": "Outlet 10",
        "url": "https://outlet10.example.org/stories/1",
        "feed": "https://outlet10.example.org/rss.xml",
    }


def test_representative_comes_first_even_when_copies_do_not_list_it() -> None:
    cluster = _cluster(1, 2)
    cluster = dataclasses.replace(cluster, copies=cluster.copies[::-1])

    (item,) = _feed([cluster])["items"]

    assert [source["name"] for source in item["_syndicator"]["sources"]] == [
        "Outlet 10",
        "Outlet 2",
    ]
    bare = dataclasses.replace(cluster, copies=())
    (item,) = _feed([bare])["items"]
    assert [source["name"] for source in item["_syndicator"]["sources"]] == ["Outlet 10"]


def test_configured_topic_labels_win() -> None:
    context = dataclasses.replace(CONTEXT, topic_labels=(("conflict", "War"),))

    (item,) = _feed([_cluster(1)], context=context)["items"]

    assert item["_syndicator"]["topics"] == [{"slug": "conflict", "label": "War"}]


def test_item_without_author_or_web_link_omits_them() -> None:
    cluster = _with_representative(_cluster(1), author=" \x01", url="ftp://outlet.example/x")

    (item,) = _feed([cluster])["items"]

    assert "authors" not in item
    assert "url" not in item
    assert "url" not in item["_syndicator"]["sources"][0]


def test_language_is_written_only_when_well_formed() -> None:
    def language_of(tag: str) -> object:
        document = render_json_feed(SECTION, [], CONTEXT, EMPTY_UPDATED, language=tag)
        return check_json_feed(document).get("language")

    assert language_of("en-US") == "en-US"
    assert language_of("") is None
    assert language_of("not a language") is None


def test_json_feed_url_replaces_a_trailing_atom_only() -> None:
    assert json_feed_url("https://x.example/feeds/kz.atom") == "https://x.example/feeds/kz.json"
    assert json_feed_url("feeds/regions/KZ.atom") == "feeds/regions/KZ.json"
    assert json_feed_url("https://x.example/atom.atom") == "https://x.example/atom.json"
    assert json_feed_url("https://x.example/feed") == ""


def test_feed_url_is_omitted_when_the_atom_url_has_no_atom_suffix() -> None:
    context = dataclasses.replace(CONTEXT, feed_url=f"{BASE_URL}feed")

    assert "feed_url" not in _feed([], context=context)


# ---------------------------------------------------------------------------------------------
# The same feed as Atom.


def test_item_ids_equal_the_atom_entry_ids() -> None:
    clusters = [_cluster(1, 2, 3), _cluster(4), _cluster(11, 5)]

    items = _feed(clusters)["items"]

    assert [item["id"] for item in items] == _atom_ids(clusters)
    assert all(item["id"].startswith("tag:feeds.example.org,") for item in items)


def test_content_html_is_the_atom_content() -> None:
    clusters = [_cluster(1, 2, 3), _with_representative(_cluster(4), content_html=HOSTILE_HTML)]

    items = _feed(clusters)["items"]

    assert [item["content_html"] for item in items] == _atom_contents(clusters)


def test_content_html_is_sanitised() -> None:
    cluster = _with_representative(_cluster(1, 2), content_html=HOSTILE_HTML)

    (item,) = _feed([cluster])["items"]

    content = item["content_html"].lower()
    for forbidden in ("<script", "onerror", "javascript:", "<iframe", "<form", "onclick", "<style"):
        assert forbidden not in content, f"{forbidden!r} survived sanitising: {content}"
    assert "<b>bold</b>" in content
    assert "https://example.org/ok" in content
    assert "also reported by" in content


# ---------------------------------------------------------------------------------------------
# Hostile strings and stability.


CONTROL = "\x00\x01\x0b\x1f"


def test_control_characters_in_titles_vanish() -> None:
    cluster = _cluster(1, title=f"Breaking{CONTROL} news\x0b from Almaty")
    section = Section(slug="central-asia", title=f"Central{CONTROL} Asia")

    document = _render([cluster], section=section)

    assert not re.search(rb"[\x00-\x1f]", document.replace(b"\n", b""))
    assert b"\\u00" not in document  # not even escaped
    feed = check_json_feed(document)
    assert feed["title"] == "Central Asia"
    assert feed["items"][0]["title"] == "Breaking news from Almaty"


def test_control_characters_and_lone_surrogates_anywhere_never_break_the_document() -> None:
    junk = "\x01\ud800\x0b\udfff"
    cluster = _with_representative(
        _cluster(1, 2, title=f"T{junk}"),
        summary=f"S{junk}",
        content_html=f"<p>B{junk}</p>",
        author=f"A{junk}",
        source_name=f"N{junk}",
        url=f"https://a.example.org/x{junk}",
    )
    cluster = _with_copy(cluster, source_name=f"O{junk}", url=f"https://b.example.org/{junk}")
    context = dataclasses.replace(CONTEXT, publisher=f"P{junk}", topic_labels=(("conflict", junk),))

    document = render_json_feed(Section(slug="s", title=f"S{junk}"), [cluster], context, T0)

    document.decode("utf-8", errors="strict")
    assert not re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]", document)
    assert b"\\ud8" not in document
    assert b"\\udf" not in document
    check_json_feed(document)


def test_rendering_is_byte_stable_and_ends_with_a_newline() -> None:
    clusters = [_cluster(1, 2), _cluster(3, updated_at=T2)]

    first = _render(clusters)
    second = _render(list(clusters))

    assert first == second
    assert first.endswith(b"}\n")
    assert first.startswith(b'{"version":"https://jsonfeed.org/version/1.1",')
    # empty_updated has no place in JSON Feed: it must not change the bytes
    assert render_json_feed(SECTION, clusters, CONTEXT, T2) == first


def test_non_ascii_text_is_written_as_utf8_not_escaped() -> None:
    cluster = _cluster(1, title="Алматы: протесты")

    document = _render([cluster])

    assert "Алматы: протесты".encode() in document


def test_empty_feed_is_valid() -> None:
    feed = _feed([])

    assert feed["items"] == []
    assert feed["title"] == "Central Asia"


def test_hubs_only_with_a_hub() -> None:
    assert "hubs" not in _feed([_cluster(1)])

    with_hub = _feed([_cluster(1)], context=dataclasses.replace(CONTEXT, hub_url=HUB))

    assert with_hub["hubs"] == [{"type": "WebSub", "url": HUB}]


def test_a_bad_cluster_is_logged_and_left_out_and_the_rest_render(
    caplog: pytest.LogCaptureFixture,
) -> None:
    naive = _cluster(1, published_at=datetime(2024, 5, 1, 9, 0))

    feed = _feed([naive, _cluster(2)])

    assert [item["_syndicator"]["cluster_id"] for item in feed["items"]] == [2]
    assert "section 'central-asia': cluster 1 left out" in caplog.text


def test_dates_are_utc_rfc3339() -> None:
    (item,) = _feed([_cluster(1, published_at=T0, updated_at=T2)])["items"]

    assert item["date_published"] == "2024-05-01T09:00:00Z"
    assert item["date_modified"] == "2024-05-02T08:15:30Z"
    assert T0.tzinfo is UTC


# ---------------------------------------------------------------------------------------------
# Property: no text breaks the document.


@budget(150)
@given(title=st.text(), summary=st.text(), author=st.text(), section_title=st.text())
def test_arbitrary_text_never_breaks_json(
    title: str, summary: str, author: str, section_title: str
) -> None:
    cluster = _with_representative(_cluster(1, 2, title=title), summary=summary, author=author)
    section = Section(slug="s", title=section_title)

    document = render_json_feed(section, [cluster], CONTEXT, EMPTY_UPDATED)

    feed = check_json_feed(document)
    (item,) = feed["items"]
    assert item["title"].strip()
    assert item["summary"].strip()
    assert json.loads(document) == feed
    assert render_json_feed(section, [cluster], CONTEXT, EMPTY_UPDATED) == document


def test_an_item_says_its_language() -> None:
    arabic = _cluster(1)
    arabic = dataclasses.replace(
        arabic, representative=dataclasses.replace(arabic.representative, language="ar")
    )
    items = _feed([arabic, _cluster(2)])["items"]
    assert items[0]["language"] == "ar"
    assert "language" not in items[1]
