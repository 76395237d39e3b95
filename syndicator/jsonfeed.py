"""A section and its clusters in, a JSON Feed 1.1 document (bytes) out, next to the Atom feed.

The same data as `atom.render_atom`, for clients that prefer JSON (https://jsonfeed.org/version/1.1):
one item per cluster with the Atom entry's tag-URI id, the representative's link, title and the
very same sanitised content HTML (`atom`'s renderer is reused, never a second sanitiser), region
and topic codes as `tags`, and what JSON Feed has no field for (labelled regions and topics, every
copy with its source, the cluster id) in a `_syndicator` extension object.

Every string is cleaned with `normalize.clean_line` / `clean_xml_text` first: they drop control
characters and lone surrogates, which would otherwise make the UTF-8 encoding fail. Keys come in a
fixed order and nothing depends on the clock, so an unchanged feed is byte-identical (same ETag).
No I/O and no feedgen: writing files is `publishing`'s job.

JSON Feed has no feed-level date, so `empty_updated` is accepted only to mirror `render_atom`.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from syndicator.atom import FeedContext, cluster_entry_id, content_html, iri_reference
from syndicator.errors import PublishError
from syndicator.models import Cluster, Section, StoredStory
from syndicator.normalize import clean_line, clean_xml_text, public_feed_url
from syndicator.tagging.regions import region_label
from syndicator.tagging.topics import topic_label

log = logging.getLogger(__name__)

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
JSON_FEED_MEDIA_TYPE = "application/feed+json"
EXTENSION_KEY = "_syndicator"  # JSON Feed 1.1: custom objects are "_" followed by a letter

# RFC 5646 in outline: a 2-3 letter language, then subtags of 1-8 letters or digits.
_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")

Json = dict[str, Any]


def json_feed_url(atom_url: str) -> str:
    """The JSON Feed's URL (or relative path) beside an Atom feed's: `.atom` becomes `.json`.

    Empty when `atom_url` does not end in `.atom`: a guessed URL would be worse than none.
    """
    return atom_url.removesuffix(".atom") + ".json" if atom_url.endswith(".atom") else ""


def render_json_feed(
    section: Section,
    clusters: Sequence[Cluster],
    context: FeedContext,
    empty_updated: datetime,
    *,
    language: str = "",
) -> bytes:
    """Render a section as JSON Feed 1.1: compact UTF-8, keys in a fixed order, a final newline.

    Clusters are rendered in the order given. `language` (RFC 5646) is written when it is a
    well-formed tag and skipped otherwise. Raises `PublishError` naming the section if the
    document cannot be built or encoded.
    """
    del empty_updated  # no feed-level date in JSON Feed; kept so both renderers share a call
    try:
        feed = _feed(section, clusters, context, language)
        # Compact: json's C encoder only runs without `indent` (five times the speed).
        text = json.dumps(feed, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return text.encode("utf-8") + b"\n"
    except (ValueError, TypeError) as e:  # UnicodeEncodeError is a ValueError
        raise PublishError(f"section {section.slug!r}: could not render JSON Feed: {e}") from e


def _feed(
    section: Section, clusters: Sequence[Cluster], context: FeedContext, language: str
) -> Json:
    title = clean_line(section.title) or clean_line(section.slug) or "syndicator"
    feed: Json = {
        "version": JSON_FEED_VERSION,
        "title": title,
        "description": clean_line(section.subtitle) or f"Stories for {title}",
    }
    _put(feed, "home_page_url", _web_url(context.index_url))
    _put(feed, "feed_url", _web_url(context.json_url or json_feed_url(context.feed_url)))
    feed["authors"] = [{"name": clean_line(context.publisher) or "syndicator"}]
    if _LANGUAGE_TAG.match(language):
        feed["language"] = language
    if hub := _web_url(context.hub_url):
        feed["hubs"] = [{"type": "WebSub", "url": hub}]
    labels = context.topic_labels
    feed["items"] = [
        item
        for cluster in clusters
        if (item := _item_or_none(section, cluster, context.base_url, labels)) is not None
    ]
    return feed


def _item_or_none(
    section: Section, cluster: Cluster, base_url: str, topic_labels: tuple[tuple[str, str], ...]
) -> Json | None:
    """One cluster's item; a cluster that cannot be rendered is logged and left out, as in
    the Atom feed, so one bad story never keeps a section from being published."""
    try:
        return _item(cluster, base_url, topic_labels)
    except (ValueError, TypeError, PublishError) as e:
        log.error(
            "section %r: cluster %d left out of the JSON feed: %s", section.slug, cluster.id, e
        )
        return None


@functools.lru_cache(maxsize=8192)
def _item(cluster: Cluster, base_url: str, topic_labels: tuple[tuple[str, str], ...]) -> Json:
    """A cluster's item, built once per version of the cluster and shared by every feed that
    lists it (as `atom._entry`); `json.dumps` only reads it."""
    story = cluster.representative
    title = clean_line(cluster.title) or "(untitled)"
    item: Json = {"id": cluster_entry_id(base_url, cluster)}
    _put(item, "url", _web_url(story.url))
    item["title"] = title
    item["content_html"] = content_html(cluster)  # exactly what the Atom entry carries
    item["summary"] = clean_xml_text(story.summary).strip() or title
    item["date_published"] = _rfc3339(cluster.published_at)
    item["date_modified"] = _rfc3339(cluster.updated_at)
    if author := clean_line(story.author):
        item["authors"] = [{"name": author}]
    if _LANGUAGE_TAG.match(language := story.language.replace("_", "-")):
        item["language"] = language
    _put(item, "tags", _tags(cluster))
    item[EXTENSION_KEY] = _extension(cluster, dict(topic_labels))
    return item


def _tags(cluster: Cluster) -> list[str]:
    tags = (clean_line(tag) for tag in (*cluster.regions, *cluster.topics))
    return list(dict.fromkeys(tag for tag in tags if tag))  # unique, first occurrence wins


def _extension(cluster: Cluster, topic_labels: dict[str, str]) -> Json:
    regions = [
        {"code": clean_line(code), "label": clean_line(region_label(code))}
        for code in cluster.regions
    ]
    topics = [
        {"slug": clean_line(slug), "label": clean_line(topic_labels.get(slug) or topic_label(slug))}
        for slug in cluster.topics
    ]
    story = cluster.representative
    copies = [story, *(copy for copy in cluster.copies if copy.id != story.id)]
    return {
        "regions": regions,
        "topics": topics,
        "sources": [_source(copy) for copy in copies],
        "cluster_id": cluster.id,
    }


def _source(copy: StoredStory) -> Json:
    source: Json = {"name": clean_line(copy.source_name)}
    _put(source, "url", _web_url(copy.url))
    _put(source, "feed", _web_url(public_feed_url(copy.source_url)))  # as in atom:source
    return source


def _put(target: Json, key: str, value: object) -> None:
    """Set a key only when it has a value: JSON Feed omits what is unknown."""
    if value:
        target[key] = value


@functools.lru_cache(maxsize=16384)  # source and story URLs recur across feeds and items
def _web_url(url: str) -> str:
    """The URL, as a valid IRI (spaces escaped, as in the Atom feed), when it is absolute
    http(s), else "" (readers cannot follow the rest)."""
    cleaned = iri_reference(url)
    try:
        parts = urlsplit(cleaned)
    except ValueError:  # e.g. an unbalanced "[" in the host
        return ""
    return cleaned if parts.scheme in ("http", "https") and parts.netloc else ""


def _rfc3339(moment: datetime) -> str:
    """RFC 3339 in UTC with "Z". A naive datetime is a bug upstream, not something to guess."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"datetime {moment.isoformat()} has no time zone")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
