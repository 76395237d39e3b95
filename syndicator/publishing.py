"""Publish: every feed's clusters from the store, rendered to Atom, written atomically.

Writes `feeds/<slug>.atom` for each configured section plus `feeds/all.atom` (every story),
the automatic feeds `feeds/regions/<country, sub-region or continent>.atom` (countries that
have stories, every M49 sub-region and continent), `feeds/topics/<slug>.atom` and
`feeds/alerts/<name>.atom` (what each alert matched), each with its JSON Feed twin and its
RFC 5005 archive pages, then `index.html` (every feed with a subscribe link) and
`feeds.opml`, all under `publish.output_dir`. A file is rewritten only when its bytes would
change, so unchanged feeds keep their mtime and ETag. Writes go to a temp file, are fsynced,
then renamed over the old file: a reader or a crash never sees half a feed. One failing feed
is logged and skipped; the others are still written. An output directory that cannot be
written at all (missing permissions, a read-only or full file system, a file in its place)
stops the publish with one `PublishError` naming `publish.output_dir`, not an error per feed.

Archives: a feed document holds its newest `limit` clusters, then the clusters pushed out of
them that are not archived yet; once there are `limit` of those, the oldest `limit` are
frozen into the next archive page (`feeds/archive/<feed>/<n>.atom`, `fh:archive`, `current`
and `prev-archive` links). So nothing leaves the subscription document before a page holds
it, and a page never changes once written, except when retention removes its stories or
`publish.base_url` changes (its links then name the new address).
"""

from __future__ import annotations

import errno
import hashlib
import html
import logging
import os
import re
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

from syndicator.atom import RENDERING, FeedContext, render_atom, with_feed_updated
from syndicator.atomic import write_atomically
from syndicator.config import SectionSettings, Settings
from syndicator.errors import PublishError, StorageError
from syndicator.jsonfeed import json_feed_url, render_json_feed
from syndicator.models import Cluster, Section
from syndicator.normalize import bytes_hash
from syndicator.storage import ClusterFilter, FeedMembers, PublishedFeed, Store, is_locked
from syndicator.tagging.regions import M49_CONTINENTS, M49_SUBREGIONS, region_label

log = logging.getLogger(__name__)

ALL_SLUG = "all"
ARCHIVE_DIR = "feeds/archive"
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
    return specs + automatic_specs(settings, countries) + alert_specs(settings)


def alert_specs(settings: Settings) -> list[FeedSpec]:
    """feeds/alerts/<name>.atom: every story cluster each alert matched, newest first."""
    return [
        FeedSpec(
            f"feeds/alerts/{alert.name}.atom",
            Section(
                slug=f"alerts-{alert.name}",
                title=f"Alert: {alert.name}",
                subtitle=f"Stories matching {alert.query}",
            ),
            ClusterFilter(alert=alert.name, limit=AUTOMATIC_ENTRIES),
        )
        for alert in settings.alerts
    ]


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
        min_score=section.min_score,
    )
    where = ClusterFilter(
        regions=section.regions,
        topics=section.topics,
        sources=section.sources,
        limit=section.max_entries,
        query=section.query,
        min_score=section.min_score,
    )
    return FeedSpec(f"feeds/{section.slug}.atom", model, where)


def publish_all(store: Store, settings: Settings, now: datetime) -> list[str]:
    """Render and write every feed whose content changed, then the index and OPML.

    Returns the paths (relative to output_dir) that were written.
    """
    return [path for path in publish_steps(store, settings, now) if path is not None]


# A write failing for one of these reasons fails for every feed: the file system is the
# trouble, not the feed. (A file in the way of one subdirectory, or one not writable, fails
# only the feeds under it; the output directory itself is checked first, `check_output_dir`.)
_FILE_SYSTEM_ERRNOS = frozenset({errno.EROFS, errno.ENOSPC, errno.EDQUOT})


def output_dir_error(output_dir: Path, error: OSError, written: str = "") -> PublishError:
    """The one error of a publish that cannot write under `output_dir`, naming the key."""
    if isinstance(error, (FileExistsError, NotADirectoryError)):
        reason = "a file is in the way of a directory"
    else:
        reason = error.strerror or str(error)
    where = f" ({written})" if written else ""
    return PublishError(
        f"publish.output_dir = {output_dir}: cannot write the feeds there{where}: {reason}"
    )


def check_output_dir(output_dir: Path) -> None:
    """Make `output_dir` if missing and see that a file can be created in it; raises
    `PublishError` (see `output_dir_error`) otherwise. The probe is named like
    `write_atomically`'s temp files, so one a kill leaves behind is cleaned up as they are."""
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=output_dir, prefix=".probe.", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise output_dir_error(output_dir, e) from e


def publish_steps(store: Store, settings: Settings, now: datetime) -> Iterator[str | None]:
    """`publish_all` a file at a time: yields, after each feed and listing, the path written
    or None when it was unchanged. The daemon runs its event loop (the HTTP server, polls)
    between two steps, since a publish at 10,000 sources takes a minute.

    Each step first commits a poll's open write group (`Store.end_group`; the daemon polls
    between the steps, on the same connection): a feed shows committed stories only. One
    rendered from a group that a kill then lost would carry cluster ids that the next poll
    gives to other stories, under entry ids subscribers have already read."""
    output_dir = settings.publish.output_dir
    check_output_dir(output_dir)
    store.end_group()
    specs = feed_specs(settings, _countries(store))
    sources = store.sources_signature()
    # Archive pages hold a removed cluster only after a removal (retention, recluster): with
    # none since the last publish that checked them all, nothing is read to look for one.
    removed, checked = store.removals()
    failed = False
    for number, spec in enumerate(specs):
        written = False
        try:
            store.end_group()
            written = publish_feed(
                store, settings, spec, now, sources=sources, removals=removed != checked
            )
        except OSError as e:
            if e.errno in _FILE_SYSTEM_ERRNOS:  # the next feeds would fail the same way
                done = f"{spec.path} failed, {len(specs) - number} of {len(specs)} feeds unwritten"
                raise output_dir_error(output_dir, e, done) from e
            log.error("feed %s not published: %s", spec.path, e)
            failed = True
        except StorageError as e:
            if is_locked(e):  # another process writes: so would every next feed wait, and fail
                raise
            log.error("feed %s not published: %s", spec.path, e)
            failed = True
        except PublishError as e:
            log.error("feed %s not published: %s", spec.path, e)
            failed = True
        yield spec.path if written else None
    store.end_group()
    if removed != checked and not failed:  # a failed feed checks again at the next publish
        store.mark_removals_published(removed)
    current = {spec.path for spec in specs}
    for path in store.published_paths("feeds/"):
        if path not in current:
            remove_feed(store, output_dir, path)
            yield None  # nothing written
    feeds = [feed for feed in store.published_feeds() if feed.path in current]
    for name, data in (
        ("index.html", render_index(settings, feeds)),
        ("feeds.opml", render_opml(settings, feeds)),
    ):
        try:
            changed = write_if_changed(output_dir / name, data)
        except OSError as e:
            raise output_dir_error(output_dir, e, f"{name} failed") from e
        yield name if changed else None


def remove_feed(store: Store, output_dir: Path, path: str) -> None:
    """Delete a feed that is no longer configured (a section or an alert removed from the
    config, a topic no longer defined): its Atom and JSON documents and its archive pages,
    then its rows. They stayed on disk and were served, frozen, for good (with stories that
    retention had removed), while the index no longer listed them. A reader now gets 404."""
    archive = output_dir / ARCHIVE_DIR / path.removeprefix("feeds/").removesuffix(".atom")
    shutil.rmtree(archive, ignore_errors=True)
    for name in (path, json_feed_url(path)):
        try:
            (output_dir / name).unlink()
        except FileNotFoundError:
            pass
        except OSError as e:
            raise output_dir_error(output_dir, e, f"{name} not removed") from e
    store.forget_feed(path)
    log.info("feed %s is no longer configured: removed", path)


_COUNTRY_FEED = re.compile(r"feeds/regions/([a-z]{2})\.atom")


def _countries(store: Store) -> list[str]:
    """The countries to publish a feed for: those with stories, and those published before.
    A country whose last stories retention removed has its feed written again, empty: it was
    left as it was, served and read with the stories the database no longer has."""
    published = {
        match.group(1).upper()
        for path in store.published_paths("feeds/regions/")
        if (match := _COUNTRY_FEED.fullmatch(path))
    }
    return sorted(published.union(store.tagged_countries()))


def publish_feed(
    store: Store,
    settings: Settings,
    spec: FeedSpec,
    now: datetime,
    *,
    sources: str = "",
    removals: bool = True,
) -> bool:
    """Render one feed; write it only if its bytes changed. True when the file was written.
    `sources`: `Store.sources_signature()`, read once for all feeds (else read here).
    `removals`: whether clusters may have been removed since its archive pages were checked
    (`Store.removals`); if not, they are not read to look for one.

    A feed whose clusters, members and tags are as they were when it was last written (same
    signature) and whose file is still there is not rendered at all: with a feed per country,
    region and topic, most feeds are unchanged in most cycles. Entries pushed out of the
    newest `limit` are archived (see the module docstring)."""
    target = settings.publish.output_dir / spec.path
    sources = sources or store.sources_signature()
    previous = store.published_feed(spec.path)
    members, known = _members_for(store, settings, spec)
    removed_pages = store.archive_pages_with_removed_clusters(spec.path) if removals else []
    # A query's matches are found once, for the signature and for the document: finding
    # them costs most of a query section's publish (110 such sections: 5 s of every one).
    matched = store.query_matches(spec.where) if spec.where.query.strip() else None
    if matched is None:
        newest_signature = store.feed_signature(spec.where)
    else:
        newest_signature = store.clusters_signature(matched)
    mark = store.max_cluster_id()
    # Clusters created since the last publish: usually among the newest, but an old-dated
    # story (a new source's back catalogue, a late copy) or a burst of more than `limit`
    # would never be, and so would be in no document and no archive page.
    late = store.cluster_ids_after(spec.where, members.seen_up_to) if known else []
    if (
        previous is not None
        and not late
        and previous.signature
        == _signature(store, settings, spec, newest_signature, members, sources=sources)
        and target.exists()
        and (settings.publish.output_dir / json_feed_url(spec.path)).exists()
        and not removed_pages
    ):
        if mark - members.seen_up_to > MARK_SLACK:  # keep the next `late` query a short range
            store.advance_feed_mark(spec.path, mark)
        return False
    newest = store.clusters(spec.where) if matched is None else store.clusters_by_id(matched)
    newest_ids = frozenset(cluster.id for cluster in newest)
    pending = store.clusters_by_id((members.current | members.pending | set(late)) - newest_ids)
    pages = members.pages
    frozen_pages: list[list[Cluster]] = []
    while len(pending) >= spec.where.limit:  # full pages: freeze the oldest into the archive
        pending, frozen = pending[: -spec.where.limit], pending[-spec.where.limit :]
        frozen_pages.append(frozen)
    members = FeedMembers(
        definition=members.definition,
        pages=pages + len(frozen_pages),
        current=newest_ids,
        pending=frozenset(cluster.id for cluster in pending),
        seen_up_to=mark,
    )
    for number, frozen in enumerate(frozen_pages, start=pages + 1):
        _write_archive_page(settings, spec, number, frozen, now)
    for page in removed_pages:
        clusters = store.clusters_by_id(store.archive_page_ids(spec.path, page))
        _write_archive_page(settings, spec, page, clusters, now)
        store.forget_removed_archived(spec.path, page)
    # Pages whose file is gone (a new `publish.output_dir`, a cleaned directory) or that
    # were written for another `publish.base_url`: the feed's `prev-archive` chain must not
    # lead a reader paging back to a 404 or to the old address.
    for page in _archive_pages_to_write_again(settings, spec, pages, set(removed_pages)):
        clusters = store.clusters_by_id(store.archive_page_ids(spec.path, page))
        _write_archive_page(settings, spec, page, clusters, now)
    store.save_feed_members(
        spec.path, members, [[cluster.id for cluster in page] for page in frozen_pages]
    )
    clusters = [*newest, *pending]
    empty_updated = previous.updated_at if previous else now
    prev_archive = _archive_url(settings, spec, members.pages) if members.pages else ""
    context = _feed_context(settings, spec.path, prev_archive_url=prev_archive)
    context = replace(context, json_url=settings.publish.base_url + json_feed_url(spec.path))
    updated, document = _feed_document(
        spec, clusters, context, empty_updated, previous=previous, now=now
    )
    changed = write_if_changed(target, document)
    # JSON Feed 1.1 of the same entries (the subscription document only: no archive pages).
    json_document = render_json_feed(spec.section, clusters, context, empty_updated)
    write_if_changed(settings.publish.output_dir / json_feed_url(spec.path), json_document)
    store.record_published(
        PublishedFeed(
            path=spec.path,
            title=spec.section.title,
            content_hash=bytes_hash(document),
            entry_count=len(clusters),
            updated_at=updated,
            signature=_signature(store, settings, spec, newest_signature, members, sources=sources),
        ),
        now,
    )
    return changed


MARK_SLACK = 1_000  # clusters created since a feed's mark before an unchanged feed moves it


def _feed_document(
    spec: FeedSpec,
    clusters: Sequence[Cluster],
    context: FeedContext,
    empty_updated: datetime,
    *,
    previous: PublishedFeed | None,
    now: datetime,
) -> tuple[datetime, bytes]:
    """The feed's Atom document and its `updated`: its newest entry's change, never earlier
    than the last document's (an entry leaving must not move the feed back in time), and
    `now` when the document changed although no entry in it changed later than that: an
    entry dated earlier was added (a late copy, a new source's back catalogue) or one left.
    RFC 4287 4.2.15: a feed's `updated` is when it was last modified; it stood still, and a
    reader or planet that goes by it saw nothing new."""
    newest = max((cluster.updated_at for cluster in clusters), default=empty_updated)
    if previous is None:
        return newest, render_atom(spec.section, clusters, context, empty_updated)
    floor = max(newest, previous.updated_at)
    document = render_atom(spec.section, clusters, context, empty_updated, at_least=floor)
    if newest > previous.updated_at or bytes_hash(document) == previous.content_hash:
        return floor, document
    later = max(now, floor)  # later than every entry: only the feed's own updated moves
    return later, with_feed_updated(document, later)


def _members_for(store: Store, settings: Settings, spec: FeedSpec) -> tuple[FeedMembers, bool]:
    """The feed's archive state, and whether it was published before as it is defined now.
    A feed whose definition changed starts a new archive (its old pages are deleted: they
    held entries of a different filter), from the clusters it holds at its first publish."""
    definition = feed_definition(spec)
    members = store.feed_members(spec.path)
    if members.definition == definition:
        return members, True
    if members.definition == _whole_spec_digest(spec):
        store.rename_feed_definition(spec.path, definition)
        return replace(members, definition=definition), True
    if members.definition:
        shutil.rmtree(settings.publish.output_dir / _archive_dir(spec), ignore_errors=True)
    return FeedMembers(definition=definition), False


def feed_definition(spec: FeedSpec) -> str:
    """A digest of what decides which entries a feed's documents and archive pages hold: its
    path and filter (page size included). Not its title or subtitle: renaming a section, or
    a topic's label, must not delete the archive pages its subscribers page back through."""
    return hashlib.sha256(f"{spec.path}|{spec.where!r}".encode()).hexdigest()


def _whole_spec_digest(spec: FeedSpec) -> str:
    """The definition as stored before `feed_definition`: the whole spec, title included. A
    feed recorded so is taken for the same feed (and given the new digest), not restarted."""
    return hashlib.sha256(f"{spec!r}".encode()).hexdigest()


def _signature(
    store: Store,
    settings: Settings,
    spec: FeedSpec,
    newest: str,
    members: FeedMembers,
    *,
    sources: str,
) -> str:
    """Everything the subscription document is rendered from: its newest clusters, the
    pending ones, the archive's length, the feed's definition, the publish settings, the
    sources' names and links, and the version of the rendering (`atom.RENDERING`)."""
    pending = store.clusters_signature(members.pending)
    text = f"{newest}|{pending}|{members.pages}|{spec!r}|{settings.publish!r}|{sources}|{RENDERING}"
    return hashlib.sha256(text.encode()).hexdigest()


def _write_archive_page(
    settings: Settings, spec: FeedSpec, page: int, clusters: Sequence[Cluster], now: datetime
) -> None:
    """Archive page `page` (1 is the oldest): `fh:archive`, a `current` link to the
    subscription document and a `prev-archive` link to page - 1."""
    base = settings.publish.base_url
    context = _feed_context(
        settings,
        _archive_path(spec, page),
        prev_archive_url=_archive_url(settings, spec, page - 1) if page > 1 else "",
        current_url=base + spec.path,
    )
    document = render_atom(spec.section, clusters, context, now)
    write_if_changed(settings.publish.output_dir / _archive_path(spec, page), document)


def _archive_pages_to_write_again(
    settings: Settings, spec: FeedSpec, pages: int, rewritten: set[int]
) -> list[int]:
    """The archive pages 1..`pages` (but `rewritten`) to write again, with the same entries:
    every one when the newest was written under another `publish.base_url` (its feed id,
    self, current and prev-archive links name the old address: a feed moved behind a proxy
    sent readers paging back to it), else those whose file is not in the output directory."""
    output_dir = settings.publish.output_dir
    if pages and not _written_for_base_url(settings, spec, pages):
        return [page for page in range(1, pages + 1) if page not in rewritten]
    return [
        page
        for page in range(1, pages + 1)
        if page not in rewritten and not (output_dir / _archive_path(spec, page)).exists()
    ]


_FEED_HEAD_BYTES = 4096  # the feed's own <id> comes first, before any entry


def _written_for_base_url(settings: Settings, spec: FeedSpec, page: int) -> bool:
    """Whether archive page `page` carries the feed id (its subscription document's URL) of
    the current base URL. True for a missing page (it is written anyway)."""
    feed_id = "<id>" + xml_escape(settings.publish.base_url + spec.path) + "</id>"
    try:
        with (settings.publish.output_dir / _archive_path(spec, page)).open("rb") as page_file:
            head = page_file.read(_FEED_HEAD_BYTES)
    except FileNotFoundError:
        return True
    return feed_id.encode("utf-8") in head


def _archive_dir(spec: FeedSpec) -> str:
    """feeds/regions/kz.atom archives under feeds/archive/regions/kz/."""
    stem = spec.path.removeprefix("feeds/").removesuffix(".atom")
    return f"{ARCHIVE_DIR}/{stem}"


def _archive_path(spec: FeedSpec, page: int) -> str:
    return f"{_archive_dir(spec)}/{page}.atom"


def _archive_url(settings: Settings, spec: FeedSpec, page: int) -> str:
    return settings.publish.base_url + _archive_path(spec, page)


def _feed_context(
    settings: Settings, path: str, *, prev_archive_url: str = "", current_url: str = ""
) -> FeedContext:
    base_url = settings.publish.base_url
    return FeedContext(
        base_url=base_url,
        feed_url=base_url + path,
        index_url=base_url,
        hub_url=settings.publish.hub,
        publisher=settings.publish.title,
        topic_labels=tuple(settings.topics.labels().items()),
        prev_archive_url=prev_archive_url,
        current_url=current_url,
    )


def changed_topics(settings: Settings, written: Sequence[str]) -> list[str]:
    """The WebSub topic URLs of the subscription feeds among `written` paths: each Atom
    feed and the JSON Feed beside it (archive pages, the index and the OPML are no topics)."""
    if not settings.publish.hub:
        return []
    base = settings.publish.base_url
    feeds = [
        path
        for path in written
        if path.startswith("feeds/")
        and path.endswith(".atom")
        and not path.startswith(f"{ARCHIVE_DIR}/")
    ]
    return [url for path in feeds for url in (base + path, base + json_feed_url(path))]


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write atomically unless the file already holds exactly these bytes."""
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    write_atomically(path, data)
    return True


def _group_of(feed: PublishedFeed) -> str:
    if feed.path.startswith("feeds/alerts/"):
        return "Alerts"
    if feed.path.startswith("feeds/regions/"):
        name = feed.path.removeprefix("feeds/regions/").removesuffix(".atom")
        return "Countries" if len(name) == 2 else "Regions and continents"
    if feed.path.startswith("feeds/topics/"):
        return "Topics"
    return "Sections"


_GROUP_ORDER = ("Sections", "Alerts", "Topics", "Regions and continents", "Countries")


def render_index(settings: Settings, feeds: Sequence[PublishedFeed]) -> bytes:
    """The HTML index: every feed with its title, entry count, last update and subscribe
    links (Atom and JSON Feed), grouped: sections, topics, regions and continents, countries."""
    base = settings.publish.base_url
    title = html.escape(settings.publish.title)
    links = "".join(
        f'  <link rel="alternate" type="application/atom+xml" title="{html.escape(f.title)}" '
        f'href="{html.escape(base + f.path)}">\n'
        for f in feeds
        if _group_of(f) == "Sections"  # feed discovery: the configured sections only
    )
    groups = "".join(
        _index_group(base, name, [feed for feed in feeds if _group_of(feed) == name])
        for name in _GROUP_ORDER
    )
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title}: feeds</title>
{links}  <style>
    body {{ font: 16px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 56rem;
           padding: 0 1rem; color: #1d232a; }}
    h2 {{ margin-top: 2rem; font-size: 1.2rem; }}
    table {{ border-collapse: collapse; width: 100%; }}
    th, td {{ text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #dde2e8; }}
    td.n {{ text-align: right; font-variant-numeric: tabular-nums; }}
    tr.empty {{ color: #7a8591; }}
    a.subscribe {{ background: #e8590c; color: #fff; border-radius: 4px; padding: .1rem .5rem;
                  text-decoration: none; font-size: .85rem; }}
    a.json {{ font-size: .85rem; margin-left: .4rem; }}
  </style>
</head>
<body>
  <h1>{title}</h1>
  <p>Each story once, from the first source that had it. Subscribe to any feed below in your
  feed reader, or import <a href="{html.escape(base)}feeds.opml">all feeds as OPML</a>.</p>
{groups}</body>
</html>
"""
    return page.encode("utf-8")


def _index_group(base: str, name: str, feeds: Sequence[PublishedFeed]) -> str:
    if not feeds:
        return ""
    ordered = sorted(feeds, key=lambda feed: (feed.entry_count == 0, feed.title.casefold()))
    rows = "".join(_index_row(base, feed) for feed in ordered)
    anchor = _slug(name)
    return f"""  <h2 id="{anchor}">{html.escape(name)} ({len(feeds)})</h2>
  <table>
    <thead><tr><th>Feed</th><th>Entries</th><th>Updated (UTC)</th><th></th></tr></thead>
    <tbody>
{rows}    </tbody>
  </table>
"""


def _index_row(base: str, feed: PublishedFeed) -> str:
    url = html.escape(base + feed.path)
    json_url = html.escape(base + json_feed_url(feed.path))
    updated = feed.updated_at.strftime("%Y-%m-%d %H:%M") if feed.updated_at > _EPOCH else "-"
    empty = ' class="empty"' if feed.entry_count == 0 else ""
    return (
        f'      <tr{empty}><td><a href="{url}">{html.escape(feed.title)}</a></td>'
        f'<td class="n">{feed.entry_count}</td><td>{updated}</td>'
        f'<td><a class="subscribe" href="{url}">Subscribe</a>'
        f'<a class="json" href="{json_url}">JSON</a></td></tr>\n'
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
