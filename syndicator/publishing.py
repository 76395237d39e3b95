"""Publish: every feed's clusters from the store, rendered to Atom, written atomically.

Writes `feeds/<slug>.atom` for each configured section plus `feeds/all.atom` (every story),
the automatic feeds `feeds/regions/<country, sub-region or continent>.atom` (countries that
have stories, every M49 sub-region and continent) and `feeds/topics/<slug>.atom`, then
`index.html` (every feed with a subscribe link) and `feeds.opml`, all under
`publish.output_dir`. A file is rewritten only when its bytes would change, so unchanged feeds
keep their mtime and ETag. Writes go to a temp file, are fsynced, then renamed over the old
file: a reader or a crash never sees half a feed. One failing feed is logged and skipped; the
others are still written. Filtering by query arrives with the query language (alerts issue).
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from syndicator.atom import FeedContext, render_atom
from syndicator.atomic import write_atomically
from syndicator.config import SectionSettings, Settings
from syndicator.errors import PublishError, StorageError
from syndicator.models import Section
from syndicator.normalize import bytes_hash
from syndicator.storage import ClusterFilter, PublishedFeed, Store
from syndicator.tagging.regions import M49_CONTINENTS, M49_SUBREGIONS, region_label

log = logging.getLogger(__name__)

ALL_SLUG = "all"
AUTOMATIC_ENTRIES = 100
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One feed document to publish: its path under output_dir, section and filter."""

    path: str
    section: Section
    where: ClusterFilter


def feed_specs(settings: Settings, countries: Sequence[str] = ()) -> list[FeedSpec]:
    """Every feed to publish: the configured sections, 'all' if its name is free, then the
    automatic feeds: one per country in `countries` (those with stories), per M49 sub-region
    and continent, and per topic."""
    specs = [_section_spec(section) for section in settings.sections]
    if all(section.slug != ALL_SLUG for section in settings.sections):
        everything = Section(slug=ALL_SLUG, title="All stories", subtitle="Every story, once")
        specs.append(FeedSpec(f"feeds/{ALL_SLUG}.atom", everything, ClusterFilter(limit=100)))
    return specs + automatic_specs(settings, countries)


def automatic_specs(settings: Settings, countries: Sequence[str]) -> list[FeedSpec]:
    """feeds/regions/<code or name>.atom and feeds/topics/<slug>.atom, lower-case slugs."""
    regions = [*countries, *M49_SUBREGIONS, *M49_CONTINENTS]
    specs = [
        _automatic_spec(f"regions/{_slug(code)}", region_label(code), code, "regions")
        for code in regions
    ]
    labels = settings.topics.labels()
    specs += [
        _automatic_spec(f"topics/{slug}", labels.get(slug, slug), slug, "topics")
        for slug in settings.topics.slugs()
    ]
    return specs


def _automatic_spec(path: str, title: str, code: str, kind: str) -> FeedSpec:
    regions, topics = ((code,), ()) if kind == "regions" else ((), (code,))
    section = Section(
        slug=path.replace("/", "-"),
        title=title,
        subtitle=f"Stories about {title}, each once, from the first source that had it",
        regions=regions,
        topics=topics,
    )
    where = ClusterFilter(regions=regions, topics=topics, limit=AUTOMATIC_ENTRIES)
    return FeedSpec(f"feeds/{path}.atom", section, where)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _section_spec(section: SectionSettings) -> FeedSpec:
    model = Section(
        slug=section.slug,
        title=section.title,
        regions=section.regions,
        topics=section.topics,
        sources=section.sources,
        query=section.query,
        max_entries=section.max_entries,
    )
    where = ClusterFilter(
        regions=section.regions,
        topics=section.topics,
        sources=section.sources,
        limit=section.max_entries,
    )
    return FeedSpec(f"feeds/{section.slug}.atom", model, where)


def publish_all(store: Store, settings: Settings, now: datetime) -> list[str]:
    """Render and write every feed whose content changed, then the index and OPML.

    Returns the paths (relative to output_dir) that were written.
    """
    output_dir = settings.publish.output_dir
    written = []
    specs = feed_specs(settings, store.tagged_countries())
    for spec in specs:
        try:
            if publish_feed(store, settings, spec, now):
                written.append(spec.path)
        except (PublishError, StorageError, OSError) as e:
            log.error("feed %s not published: %s", spec.path, e)
    current = {spec.path for spec in specs}
    feeds = [feed for feed in store.published_feeds() if feed.path in current]
    for name, data in (
        ("index.html", render_index(settings, feeds)),
        ("feeds.opml", render_opml(settings, feeds)),
    ):
        if write_if_changed(output_dir / name, data):
            written.append(name)
    return written


def publish_feed(store: Store, settings: Settings, spec: FeedSpec, now: datetime) -> bool:
    """Render one feed; write it only if its bytes changed. True when the file was written.

    A feed whose clusters, members and tags are as they were when it was last written (same
    signature) and whose file is still there is not rendered at all: with a feed per country,
    region and topic, most feeds are unchanged in most cycles."""
    base_url = settings.publish.base_url
    target = settings.publish.output_dir / spec.path
    previous = store.published_feed(spec.path)
    signature = hashlib.sha256(
        f"{store.feed_signature(spec.where)}|{spec!r}|{settings.publish!r}".encode()
    ).hexdigest()
    if previous is not None and previous.signature == signature and target.exists():
        return False
    clusters = store.clusters(spec.where)
    context = FeedContext(
        base_url=base_url,
        feed_url=base_url + spec.path,
        index_url=base_url,
        hub_url=settings.publish.hub,
        publisher=settings.publish.title,
        topic_labels=tuple(settings.topics.labels().items()),
    )
    empty_updated = previous.updated_at if previous else now
    document = render_atom(spec.section, clusters, context, empty_updated)
    changed = write_if_changed(target, document)
    updated = max((cluster.updated_at for cluster in clusters), default=empty_updated)
    if changed or previous is None or previous.signature != signature:
        store.record_published(
            PublishedFeed(
                path=spec.path,
                title=spec.section.title,
                content_hash=bytes_hash(document),
                entry_count=len(clusters),
                updated_at=updated,
                signature=signature,
            ),
            now,
        )
    return changed


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write atomically unless the file already holds exactly these bytes."""
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    write_atomically(path, data)
    return True


def render_index(settings: Settings, feeds: Sequence[PublishedFeed]) -> bytes:
    """The HTML index: every feed with its title, entry count, last update and subscribe link."""
    base = settings.publish.base_url
    title = html.escape(settings.publish.title)
    links = "".join(
        f'  <link rel="alternate" type="application/atom+xml" title="{html.escape(f.title)}" '
        f'href="{html.escape(base + f.path)}">\n'
        for f in feeds
    )
    rows = "".join(_index_row(base, feed) for feed in feeds)
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title}: feeds</title>
{links}  <style>
    body {{ font: 16px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 52rem;
           padding: 0 1rem; color: #1d232a; }}
    table {{ border-collapse: collapse; width: 100%; }}
    th, td {{ text-align: left; padding: .45rem .6rem; border-bottom: 1px solid #dde2e8; }}
    td.n {{ text-align: right; font-variant-numeric: tabular-nums; }}
    a.subscribe {{ background: #e8590c; color: #fff; border-radius: 4px; padding: .1rem .5rem;
                  text-decoration: none; font-size: .85rem; }}
  </style>
</head>
<body>
  <h1>{title}</h1>
  <p>Each story once, from the first source that had it. Subscribe to any feed below in your
  feed reader, or import <a href="{html.escape(base)}feeds.opml">all feeds as OPML</a>.</p>
  <table>
    <thead><tr><th>Feed</th><th>Entries</th><th>Updated (UTC)</th><th></th></tr></thead>
    <tbody>
{rows}    </tbody>
  </table>
</body>
</html>
"""
    return page.encode("utf-8")


def _index_row(base: str, feed: PublishedFeed) -> str:
    url = html.escape(base + feed.path)
    updated = feed.updated_at.strftime("%Y-%m-%d %H:%M") if feed.updated_at > _EPOCH else "-"
    return (
        f'      <tr><td><a href="{url}">{html.escape(feed.title)}</a></td>'
        f'<td class="n">{feed.entry_count}</td><td>{updated}</td>'
        f'<td><a class="subscribe" href="{url}">Subscribe</a></td></tr>\n'
    )


def render_opml(settings: Settings, feeds: Sequence[PublishedFeed]) -> bytes:
    """OPML 2.0 listing every published feed, for importing all of them into a reader."""
    opml = ET.Element("opml", version="2.0")
    head = ET.SubElement(opml, "head")
    ET.SubElement(head, "title").text = f"{settings.publish.title} feeds"
    body = ET.SubElement(opml, "body")
    for feed in feeds:
        ET.SubElement(
            body,
            "outline",
            type="rss",
            text=feed.title,
            title=feed.title,
            xmlUrl=settings.publish.base_url + feed.path,
            htmlUrl=settings.publish.base_url,
        )
    ET.indent(opml)
    document: bytes = ET.tostring(opml, encoding="utf-8", xml_declaration=True)
    return document + b"\n"
