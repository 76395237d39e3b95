"""One poll cycle: due sources are fetched concurrently, and each fetched feed goes through
parse -> normalise -> dedup -> store, one transaction per feed, in the calling thread (the
single writer).

Per-source errors (network, HTTP, parse) are recorded on the source and reported in the
`SourceOutcome`; they are never raised, so one bad source never stops the batch. The clock is
a parameter (`clock`), so tests can run cycles at any simulated time. Tagging and alert
matching plug in here when they land.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from syndicator.config import Settings, SourceSettings
from syndicator.dedup import entry_key
from syndicator.errors import SourceError, StorageError
from syndicator.fetch import FeedClient, FetchLimits
from syndicator.models import FetchResult, ParsedFeed, Source, SourceOutcome, Story
from syndicator.normalize import bytes_hash, normalize_entry
from syndicator.parsing import parse_feed
from syndicator.schedule import PollBounds, next_poll_after
from syndicator.storage import ConfiguredSource, Store

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class PollPlan:
    """What a cycle needs from the configuration."""

    bounds: PollBounds
    limits: FetchLimits


def plan_from_settings(settings: Settings) -> PollPlan:
    polling = settings.polling
    return PollPlan(
        bounds=PollBounds(polling.interval, polling.min_interval, polling.max_interval),
        limits=FetchLimits(
            timeout_s=polling.timeout.total_seconds(),
            max_bytes=polling.max_bytes,
            concurrency=polling.concurrency,
            allow_private_addresses=polling.allow_private_addresses,
            contact_url=polling.user_agent_contact,
        ),
    )


def configured_sources(sources: Iterable[SourceSettings]) -> list[ConfiguredSource]:
    """The config's sources in the form the store syncs against."""
    return [
        ConfiguredSource(
            url=source.url,
            name=source.name,
            region=source.region,
            enabled=source.enabled,
            interval_s=source.interval.total_seconds() if source.interval else None,
        )
        for source in sources
    ]


async def poll_due_sources(store: Store, plan: PollPlan, clock: Clock) -> list[SourceOutcome]:
    """Fetch every due source concurrently and ingest each feed as soon as it arrives."""
    due = store.due_sources(clock())
    if not due:
        return []
    outcomes: list[SourceOutcome] = []
    async with FeedClient(plan.limits) as client:
        tasks = [asyncio.create_task(_fetch(client, source)) for source in due]
        for finished in asyncio.as_completed(tasks):
            source, result = await finished
            outcomes.append(ingest(store, source, result, plan.bounds, clock()))
    return outcomes


async def _fetch(client: FeedClient, source: Source) -> tuple[Source, FetchResult | SourceError]:
    try:
        return source, await client.fetch(source.url, source.etag, source.last_modified)
    except SourceError as e:
        return source, e


def ingest(
    store: Store,
    source: Source,
    result: FetchResult | SourceError,
    bounds: PollBounds,
    now: datetime,
) -> SourceOutcome:
    """Take one fetch outcome through parse, normalise, dedup and store; record the outcome."""
    source_bounds = _source_bounds(store, source, bounds)
    if isinstance(result, SourceError):
        return _record_failure(store, source, source_bounds, now, str(result))
    if result.not_modified:
        _record_success(store, source, source_bounds, now, result, body_hash=None, feed=None)
        return SourceOutcome(source.url, "not-modified")
    body_hash = bytes_hash(result.body)
    if not result.etag and not result.last_modified and body_hash == source.content_hash:
        _record_success(store, source, source_bounds, now, result, body_hash=body_hash, feed=None)
        return SourceOutcome(source.url, "unchanged")
    try:
        feed = parse_feed(result.body, result.url, result.headers)
    except SourceError as e:
        return _record_failure(store, source, source_bounds, now, str(e))
    stories = [normalize_entry(source.id, entry, entry_key(entry), now) for entry in feed.entries]
    try:
        stored = store.store_stories(_unique_by_key(stories), now)
    except StorageError as e:
        return _record_failure(store, source, source_bounds, now, str(e))
    _record_success(store, source, source_bounds, now, result, body_hash=body_hash, feed=feed)
    if feed.warning:
        log.info("%s: read with a parser warning: %s", source.url, feed.warning)
    return SourceOutcome(source.url, "ok", stored.inserted, stored.updated)


def _unique_by_key(stories: list[Story]) -> list[Story]:
    """A feed that lists one entry twice stores it once (the last copy wins, as in readers)."""
    return list({story.guid_key: story for story in stories}.values())


def _source_bounds(store: Store, source: Source, bounds: PollBounds) -> PollBounds:
    interval_s = store.source_interval_s(source.id)
    if interval_s is None:
        return bounds
    return PollBounds(timedelta(seconds=interval_s), bounds.min_interval, bounds.max_interval)


def _record_success(
    store: Store,
    source: Source,
    bounds: PollBounds,
    now: datetime,
    result: FetchResult,
    *,
    body_hash: str | None,
    feed: ParsedFeed | None,
) -> None:
    ttl = timedelta(minutes=feed.ttl_minutes) if feed and feed.ttl_minutes else None
    store.record_success(
        source.id,
        now,
        next_poll_after(now, source.url, bounds, feed_ttl=ttl),
        etag=result.etag if result.status != 304 else source.etag,
        last_modified=result.last_modified if result.status != 304 else source.last_modified,
        content_hash=body_hash,
        feed_title=feed.title if feed else "",
        feed_link=feed.link if feed else "",
    )


def _record_failure(
    store: Store, source: Source, bounds: PollBounds, now: datetime, error: str
) -> SourceOutcome:
    failures = store.source_failures(source.id) + 1
    store.record_failure(source.id, now, next_poll_after(now, source.url, bounds, failures), error)
    log.warning("source %s failed: %s", source.name or source.url, error)
    return SourceOutcome(source.url, "error", error=error)
