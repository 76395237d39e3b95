"""One poll cycle: due sources are fetched concurrently, and each fetched feed goes through
parse -> normalise -> dedup -> store, one transaction per feed, in the calling thread (the
single writer).

What each HTTP outcome does to a source:

- 200: parsed and stored; the next poll follows the feed's TTL, Cache-Control/Expires and its
  observed entry frequency. An unchanged body from a server without validators is not parsed.
- 304: nothing to parse; counted for the 304 ratio.
- 301/308 (via `FetchResult.moved_to`) and HTML pages that advertise a feed
  (autodiscovery): the source is polled at the new URL from now on, and that is logged.
- 410: the source is disabled with the reason recorded.
- 429/503: Retry-After is honoured.
- Every other failure (network, timeout, HTTP error, oversize body, refused address, parse
  error) is recorded on the source, backs off exponentially, and adds its weight to the
  failure score; at `polling.disable_after_score` the source is disabled with its reason.

Per-source errors are recorded, never raised, so one bad source never stops the batch. The
clock is a parameter (`clock`), so tests can run cycles at any simulated time. A `Metrics`
object, when given, counts every fetch by outcome with its duration (`fetch_status`), and the
stories and clusters stored; without one nothing is counted.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import re
import signal
import site
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from multiprocessing.context import BaseContext
from typing import Protocol
from urllib.parse import urljoin, urlsplit

from syndicator.config import Settings, SourceSettings, TopicSettings
from syndicator.dedup import ClusterRules, entry_key, fingerprint_stories
from syndicator.discovery import discover_feed_urls, looks_like_html
from syndicator.errors import FetchError, ParseError, SourceError, StorageError
from syndicator.fetch import FeedClient, FetchLimits
from syndicator.heap import trim_heap
from syndicator.metrics import Metrics
from syndicator.models import (
    FetchResult,
    ParsedEntry,
    ParsedFeed,
    Source,
    SourceOutcome,
    Story,
    Tag,
)
from syndicator.normalize import bytes_hash, clean_line, is_feed_ad, normalize_entry
from syndicator.parentdeath import die_with_parent
from syndicator.parsing import parse_feed
from syndicator.schedule import (
    PollBounds,
    PollSignals,
    entry_interval,
    feed_ttl,
    fresh_for,
    next_poll_after,
    parse_retry_after,
)
from syndicator.storage import ConfiguredSource, Store
from syndicator.tagging.tagger import (
    TagContext,
    merge_tags,
    tag_story,
    tag_story_with_language,
)

DEFAULT_TAGGING = TagContext()

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Progress = Callable[[int, int], None]

# How much each kind of failure adds to a source's failure score.
FAILURE_WEIGHTS = {
    "network": 1.0,
    "timeout": 1.0,
    "http": 1.0,  # 5xx and odd statuses; 4xx below
    "client": 2.0,  # 4xx other than 410/429: the URL is probably wrong
    "limit": 3.0,  # larger than max_bytes
    "refused": 5.0,  # the SSRF guard refused the address or scheme
    "parse": 2.0,
    "rate-limited": 0.5,  # 429: the server asks us to slow down, not a broken source
}


@dataclass(frozen=True, slots=True)
class PollPlan:
    """What a cycle needs from the configuration."""

    bounds: PollBounds
    limits: FetchLimits
    disable_after_score: float = 20.0
    topics: TopicSettings = field(default_factory=TopicSettings)


def plan_from_settings(settings: Settings) -> PollPlan:
    polling = settings.polling
    return PollPlan(
        bounds=PollBounds(polling.interval, polling.min_interval, polling.max_interval),
        limits=FetchLimits(
            timeout_s=polling.timeout.total_seconds(),
            max_bytes=polling.max_bytes,
            concurrency=polling.concurrency,
            per_host_concurrency=polling.per_host_concurrency,
            allow_private_addresses=polling.allow_private_addresses,
            contact_url=polling.user_agent_contact,
            proxy=polling.proxy,
        ),
        disable_after_score=polling.disable_after_score,
        topics=settings.topics,
    )


def cluster_rules(settings: Settings) -> ClusterRules:
    """The near-duplicate rules of the `[dedup]` table."""
    dedup = settings.dedup
    return ClusterRules(
        copy_threshold=dedup.threshold,
        related_threshold=dedup.related_threshold,
        window=dedup.window,
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
            language=source.language,
        )
        for source in sources
    ]


@dataclass(frozen=True, slots=True)
class ParsedStories:
    """A parsed feed's metadata (its `entries` left empty) and its entries as stories."""

    feed: ParsedFeed
    stories: tuple[Story, ...]
    left_out: int = 0  # entries past MAX_ENTRIES_PER_FEED


# A feed document lists a few dozen entries, an archive feed a few thousand. Past this, only the
# newest are stored: 100,000 entries in one document took the single writer 100 s, which every
# other source waited for.
MAX_ENTRIES_PER_FEED = 5_000


def newest_entries(entries: Sequence[ParsedEntry], limit: int) -> tuple[ParsedEntry, ...]:
    """The `limit` newest entries by date (undated ones by their place in the document, which
    lists the newest first), in document order."""
    if len(entries) <= limit:
        return tuple(entries)
    oldest = datetime.min.replace(tzinfo=UTC)
    ranked = sorted(
        range(len(entries)),
        key=lambda i: (-(entries[i].published or entries[i].updated or oldest).timestamp(), i),
    )
    return tuple(entries[i] for i in sorted(ranked[:limit]))


def parse_stories(
    body: bytes,
    url: str,
    headers: Mapping[str, str],
    source_id: int,
    now: datetime,
    *,
    tagging: TagContext = DEFAULT_TAGGING,
) -> ParsedStories:
    """Parse, normalise, fingerprint and tag one document: the CPU-heavy part, run in a
    worker process."""
    feed = parse_feed(body, url, headers)
    kept = newest_entries(feed.entries, MAX_ENTRIES_PER_FEED)
    stories = _stories(source_id, replace(feed, entries=kept), now, tagging, document_url=url)
    left_out = len(feed.entries) - len(kept)
    return ParsedStories(replace(feed, entries=()), tuple(stories), left_out)


class Parser(Protocol):
    """Runs `parse_stories` somewhere: inline, or in a process pool."""

    async def __call__(
        self,
        body: bytes,
        url: str,
        headers: Mapping[str, str],
        source_id: int,
        now: datetime,
        *,
        tagging: TagContext = DEFAULT_TAGGING,
    ) -> ParsedStories: ...


async def parse_inline(
    body: bytes,
    url: str,
    headers: Mapping[str, str],
    source_id: int,
    now: datetime,
    *,
    tagging: TagContext = DEFAULT_TAGGING,
) -> ParsedStories:
    """The default parser: in the calling thread (tests, small cycles)."""
    return parse_stories(body, url, headers, source_id, now, tagging=tagging)


# A body at least this big leaves the worker's heap grown by many times its size once parsed
# (the document tree, the entries' text): the worker gives the pages back after it.
TRIM_AFTER_BYTES = 256 * 1024


def _parse_in_worker(
    body: bytes,
    url: str,
    headers: Mapping[str, str],
    source_id: int,
    now: datetime,
    *,
    tagging: TagContext,
) -> ParsedStories:
    """`parse_stories` in a pool worker, which then returns the heap pages that a big
    document took (`heap`): otherwise each worker stays at the size of the largest feed it
    has parsed so far."""
    try:
        return parse_stories(body, url, headers, source_id, now, tagging=tagging)
    finally:
        if len(body) >= TRIM_AFTER_BYTES:
            trim_heap()


class ParserPool:
    """`parse_stories` in worker processes, so parsing uses every core while the event loop
    keeps fetching and the main process keeps writing. Not forked from the daemon, which has
    threads (DNS resolver, scheduler) that a fork would copy in an undefined state: forked
    from a fork server (a fresh single-threaded process) that has loaded the parsers and the
    tagging tables first, so the workers share those pages instead of each holding a copy.
    Where there is no fork server (Windows), spawned."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self._pool: ProcessPoolExecutor | None = None
        self._started = False
        self.inline = False  # the workers could not start: parsing in this process instead

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=_worker_context(), initializer=_ignore_interrupts
            )
        return self._pool

    async def __call__(
        self,
        body: bytes,
        url: str,
        headers: Mapping[str, str],
        source_id: int,
        now: datetime,
        *,
        tagging: TagContext = DEFAULT_TAGGING,
    ) -> ParsedStories:
        if self.inline:
            return parse_stories(body, url, headers, source_id, now, tagging=tagging)
        call = partial(_parse_in_worker, body, url, dict(headers), source_id, now, tagging=tagging)
        try:
            future = await self._submit(call)
        except (BrokenProcessPool, EOFError, OSError) as e:
            # The fork server or a worker could not start (it died loading the parsers, the
            # system is out of processes): every source would fail with this one cause, so
            # say it once and parse here, slower but working.
            self.close()
            self.inline = True
            log.error(
                "the parser processes could not start (%s: %s); parsing in the main process "
                "until the daemon restarts",
                type(e).__name__,
                e,
            )
            return parse_stories(body, url, headers, source_id, now, tagging=tagging)
        try:
            return await asyncio.wrap_future(future)
        except BrokenProcessPool as e:
            self.close()  # a worker died (e.g. out of memory): start fresh ones next time
            raise ParseError(f"{url}: the parser process died: {e}") from e

    async def _submit(self, call: Callable[[], ParsedStories]) -> Future[ParsedStories]:
        """Queue the call. The first submit starts the workers, and the first worker waits
        for the fork server to load the parsers and tagging tables (2-3 s): that one is made
        from a thread, so the event loop goes on fetching and answering /healthz meanwhile."""
        executor = self._executor()
        if self._started:
            return executor.submit(call)
        future = await asyncio.to_thread(executor.submit, call)
        self._started = True
        return future

    def close(self) -> None:
        self._started = False
        if self._pool is not None:
            # Not shutdown(wait=True): a worker stuck in a hostile document would hold up a
            # SIGTERM. But the pool's manager thread must be gone before the interpreter
            # exits: CPython 3.11's exit hook races it to a closed pipe and prints
            # "OSError: Bad file descriptor" (a traceback at every exit, seen under load).
            manager = getattr(self._pool, "_executor_manager_thread", None)
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            if isinstance(manager, threading.Thread):
                manager.join(timeout=POOL_CLOSE_WAIT_S)


POOL_CLOSE_WAIT_S = 5.0


def _ignore_interrupts() -> None:
    """In a parser worker: Ctrl-C in a terminal reaches the whole process group, but only
    the daemon should act on it (and stop the workers); a worker would print a traceback.
    And a worker ends when its parent does, even when that parent was SIGKILLed."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()


def _worker_context() -> BaseContext:
    _keep_the_working_directory_off_the_path()
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    server = multiprocessing.get_context("forkserver")
    server.set_forkserver_preload(["syndicator.pipeline", "syndicator.tagging.preload"])
    return server


def _keep_the_working_directory_off_the_path() -> None:
    """The fork server starts as `python -c ...`, which puts the working directory first on
    its sys.path (Python 3.11 ignores the parent's path handed to it): a daemon started in a
    directory holding an `inspect.py` ran that file, and every parse then failed with
    "EOFError". PYTHONSAFEPATH (3.11+) keeps the working directory out; the directory this
    package was imported from goes on PYTHONPATH, so a checkout run without installing
    still finds it. Set in this process's environment, which the fork server inherits."""
    os.environ["PYTHONSAFEPATH"] = "1"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if root in site.getsitepackages() or root == site.getusersitepackages():
        return  # installed: found by every interpreter
    paths = [path for path in os.environ.get("PYTHONPATH", "").split(os.pathsep) if path]
    if root not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([root, *paths])


@dataclass(frozen=True, slots=True)
class Fetched:
    """One source's fetch, and its parse when there was something new to parse."""

    source: Source
    result: FetchResult | SourceError
    parsed: ParsedStories | SourceError | None = None
    body_hash: str | None = None
    fetch_s: float = 0.0  # the fetch alone (redirects and autodiscovery included)


async def poll_due_sources(
    store: Store,
    plan: PollPlan,
    clock: Clock,
    on_progress: Progress | None = None,
    parser: Parser = parse_inline,
    *,
    metrics: Metrics | None = None,
    stopping: Callable[[], bool] | None = None,
    on_outcome: Callable[[SourceOutcome], None] | None = None,
) -> list[SourceOutcome]:
    """Fetch, parse and store every due source, `polling.concurrency` at a time.

    A fixed number of workers each take the next due source, fetch it, parse it (in the pool)
    and store it (in this thread, the single writer), so memory holds at most that many
    bodies however many sources are due. Due sources are interleaved by host, so the workers
    are not all queued behind one host's per-host limit. Once `stopping()` is true no new
    fetch starts: the ones in flight finish (the daemon's shutdown grace), the rest stay due.
    `on_outcome` hears of each source as soon as it is stored (the daemon publishes a long
    poll's stories while it goes on).
    """
    pending = interleave_by_host(store.due_sources(clock()))
    total = len(pending)
    outcomes: list[SourceOutcome] = []
    commits = GroupCommit(store, metrics=metrics)

    async def worker(client: FeedClient) -> None:
        while pending and not (stopping is not None and stopping()):
            source = pending.pop()
            fetched = await _fetch_and_parse(
                client, parser, source, clock, tag_context(source, plan)
            )
            outcome = commits.ingest(fetched, plan, clock())
            outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
            if on_progress is not None:
                on_progress(len(outcomes), total)

    if not pending:
        return outcomes
    if on_progress is not None:
        on_progress(0, total)  # how many are due, known even if the poll is cut short
    pending.reverse()  # pop() from the end takes them in order
    try:
        async with FeedClient(plan.limits) as client:
            workers = min(plan.limits.concurrency, total)
            await asyncio.gather(*(worker(client) for _ in range(workers)))
    finally:
        # Also on cancellation (SIGTERM): every ingest in the group is complete.
        commits.close()
        trim_heap()  # the round's bodies, parsed stories and write buffers are freed
    return outcomes


# Stories written (new or updated) after which a write group commits: see GroupCommit.
GROUP_MAX_STORIES = 2_000


class GroupCommit:
    """Ingests fetched feeds in write groups (`Store.begin_group`): a commit after `size`
    feeds, once `max_stories` stories were written, or `max_age_s` after the group's first
    feed, whichever comes first, so that one commit serves many feeds while no write waits
    long and the writer lock is released often for other processes (`syndicator sources
    enable`, a second reader).

    Why a story bound as well: SQLite checkpoints the WAL only between transactions, so the
    largest transaction sets how far the WAL grows past its autocheckpoint size. 64 feeds of
    1,000 new items each made one 64,000-story transaction, about 6 KB of WAL per story (the
    soak saw the WAL at 210 MB); with the bound a group stops at one feed past 2,000 stories.
    """

    def __init__(
        self,
        store: Store,
        size: int = 64,
        max_age_s: float = 1.0,
        metrics: Metrics | None = None,
        max_stories: int = GROUP_MAX_STORIES,
    ) -> None:
        self.store = store
        self.size = size
        self.max_age_s = max_age_s
        self.max_stories = max_stories
        self.metrics = metrics
        self._count = 0
        self._stories = 0
        self._timer: asyncio.TimerHandle | None = None

    def ingest(self, fetched: Fetched, plan: PollPlan, now: datetime) -> SourceOutcome:
        if not self.store.in_group:
            self.store.begin_group()
            self._count = 0
            self._stories = 0
            if self.store.in_group:
                loop = asyncio.get_running_loop()
                self._timer = loop.call_later(self.max_age_s, self.close)
        outcome = ingest(self.store, fetched, plan, now, self.metrics)
        self._count += 1
        self._stories += outcome.new_stories + outcome.updated_stories
        if self._count >= self.size or self._stories >= self.max_stories:
            self.close()
        return outcome

    def close(self) -> None:
        """Commit the open group, if any. A failed commit loses only that group's writes,
        validators included, so its feeds are simply polled again."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        try:
            self.store.end_group()
        except StorageError as e:
            log.error("could not commit %d polled feed(s), to be polled again: %s", self._count, e)


def interleave_by_host(sources: Sequence[Source]) -> list[Source]:
    """Round-robin over hosts, keeping each host's own order (most overdue first)."""
    by_host: dict[str, list[Source]] = {}
    for source in sources:
        by_host.setdefault(urlsplit(source.url).hostname or "", []).append(source)
    queues = [iter(group) for group in by_host.values()]
    ordered: list[Source] = []
    while queues:
        still = []
        for queue in queues:
            if (head := next(queue, None)) is not None:
                ordered.append(head)
                still.append(queue)
        queues = still
    return ordered


async def _fetch_and_parse(
    client: FeedClient, parser: Parser, source: Source, clock: Clock, tagging: TagContext
) -> Fetched:
    started = time.perf_counter()
    result = await _fetch(client, source)
    fetch_s = time.perf_counter() - started
    if not isinstance(result, FetchResult):
        return Fetched(source, result, fetch_s=fetch_s)
    if result.not_modified:
        return Fetched(source, result, fetch_s=fetch_s)
    body_hash = bytes_hash(result.body)
    if not result.etag and not result.last_modified and body_hash == source.content_hash:
        # unchanged: no need to parse
        return Fetched(source, result, body_hash=body_hash, fetch_s=fetch_s)
    try:
        parsed = await parser(
            result.body, result.url, result.headers, source.id, clock(), tagging=tagging
        )
    except SourceError as e:
        return Fetched(source, result, e, body_hash, fetch_s)
    except Exception as e:  # a document that trips a bug in parsing or normalising
        log.debug("unexpected error parsing %s", source.url, exc_info=True)
        error = ParseError(f"{source.url}: {type(e).__name__}: {e}")
        return Fetched(source, result, error, body_hash, fetch_s)
    return Fetched(source, result, parsed, body_hash, fetch_s)


async def _fetch(client: FeedClient, source: Source) -> FetchResult | SourceError:
    try:
        result = await client.fetch(source.url, source.etag, source.last_modified)
        return await _discover_if_html(client, source, result)
    except SourceError as e:
        return e
    except Exception as e:  # a hostile response must never end the batch: record it
        log.debug("unexpected error fetching %s", source.url, exc_info=True)
        return FetchError(f"{source.url}: {type(e).__name__}: {e}")


def fetch_status(result: FetchResult | SourceError) -> str:
    """A fetch's outcome as a metrics label: the HTTP status when there was a response
    ("200", "304", "404", ...), else the failure kind ("timeout", "network", "refused",
    "limit", "http"), and "error" for a page that is not a feed and advertises none."""
    if isinstance(result, FetchResult):
        return str(result.status)
    if isinstance(result, FetchError):
        return str(result.status) if result.status is not None else result.kind
    return "error"


# A feed's root element, prefixed or not, anywhere in a document taken for HTML (feedjira's
# DuplicateContentAtomFeed.xml is an Atom <feed> inside an XHTML <html>, which readers read).
_FEED_ELEMENT = re.compile(rb"<(?:[A-Za-z][\w.-]*:)?(?:feed|rss|RDF)[\s>]")


async def _discover_if_html(client: FeedClient, source: Source, result: FetchResult) -> FetchResult:
    """An HTML page in place of a feed: follow its `<link rel="alternate">` to the feed."""
    if result.not_modified or not looks_like_html(result.body, result.headers.get("content-type")):
        return result
    candidates = discover_feed_urls(result.body, result.url)
    if not candidates:
        if _FEED_ELEMENT.search(result.body):
            return result  # a feed inside an (X)HTML document: the parser may read it
        raise ParseError(f"{source.url}: not a feed: an HTML page that advertises no feed")
    if source.last_success_at is not None:
        # A feed that answers a page now (a maintenance or login page, a soft 404 with the
        # site's <head>) has not moved: following the page's link would swap the source
        # for another feed of the site (its main feed for a section's) for good.
        raise ParseError(
            f"{source.url}: not a feed: an HTML page where the feed was (the page advertises "
            f"{candidates[0]}; if the feed moved there, change the source's url)"
        )
    found = await client.fetch(candidates[0])
    return replace(
        found,
        moved_to=found.moved_to or candidates[0],
        moved_because=f"feed autodiscovery on {result.url}",
    )


def ingest(
    store: Store, fetched: Fetched, plan: PollPlan, now: datetime, metrics: Metrics | None = None
) -> SourceOutcome:
    """Record one source's fetch outcome: store its stories, schedule its next poll."""
    source, result = fetched.source, fetched.result
    if metrics is not None:
        metrics.record_fetch(fetch_status(result), fetched.fetch_s)
    if isinstance(result, SourceError):
        return _record_failure(store, source, plan, now, result)
    if isinstance(fetched.parsed, SourceError):
        # Not moved: a 301 to something that is no feed (a home page, an error document)
        # is a failure of the source where it is, not its new address.
        return _record_failure(store, source, plan, now, fetched.parsed)
    _follow_move(store, source, result)
    bounds = _source_bounds(source, plan.bounds)
    if fetched.parsed is None:  # 304, or the same bytes as last time: nothing new to count
        signals = PollSignals(
            feed_ttl=source.feed_ttl,
            fresh_for=fresh_for(result.headers, now),
            entry_interval=source.entry_interval,
        )
        next_at = next_poll_after(now, source.url, bounds, signals)
        _record_success(store, source, result, now, next_at, body_hash=fetched.body_hash)
        return SourceOutcome(source.url, "not-modified" if result.not_modified else "unchanged")
    feed = fetched.parsed.feed
    if fetched.parsed.left_out:
        log.warning(
            "%s: the feed lists %d entries; only the newest %d are stored",
            source.url,
            fetched.parsed.left_out + MAX_ENTRIES_PER_FEED,
            MAX_ENTRIES_PER_FEED,
        )
    clusters_before = store.clusters_created
    try:
        stored = store.store_stories(fetched.parsed.stories, now)
    except StorageError as e:
        return _record_failure(store, source, plan, now, e)
    if metrics is not None:
        created = store.clusters_created - clusters_before
        metrics.record_ingest(stored.inserted, stored.updated, created)
    signals = _signals(store, source, result, feed, now)
    next_at = next_poll_after(now, source.url, bounds, signals)
    _record_success(
        store, source, result, now, next_at, body_hash=fetched.body_hash, feed=feed,
        signals=signals,
    )  # fmt: skip
    if feed.warning:
        log.info("%s: read with a parser warning: %s", source.url, feed.warning)
    if stored.expired:
        log.debug("%s: %d re-sent entries retention removed, not new", source.url, stored.expired)
    return SourceOutcome(source.url, "ok", stored.inserted, stored.updated)


def _stories(
    source_id: int,
    feed: ParsedFeed,
    now: datetime,
    tagging: TagContext = DEFAULT_TAGGING,
    *,
    document_url: str = "",
) -> list[Story]:
    sites = (feed.title,)  # an outlet's own name, as it may end every title
    stories = [
        # A configured language stands in for the feed's (an entry's own xml:lang still wins).
        _as_published(
            normalize_entry(
                source_id,
                entry,
                entry_key(entry),
                now,
                sites,
                feed_language=tagging.language or feed.language,
            ),
            document_url,
        )
        for entry in feed.entries
        if not is_feed_ad(entry.link or "")
    ]
    stories = tell_shared_links_apart(tell_shared_guids_apart(stories))
    # A feed that lists one entry twice stores it once (the last copy wins, as in readers).
    unique = list({story.guid_key: story for story in stories}.values())
    # Fingerprinted and tagged here, in the parser worker, so the single writer only stores.
    return tag_stories(fingerprint_stories(unique), tagging)


def _as_published(story: Story, document_url: str) -> Story:
    """The story with the guid its feed wrote, where feedparser made a URL of it.

    RSS takes a `<guid>` without `isPermaLink="false"` for a permalink, and feedparser
    resolves it against the feed's URL: "12345" in feeds.feedburner.com/SiteA became
    feeds.feedburner.com/12345, a URL that names no page, taken for a global id, so SiteB's
    own item 12345 joined SiteA's story as its exact copy. An entry with a link of its own
    and a guid that is the feed's directory plus one path segment keeps that segment, which
    is unique within its feed only. (Its identity within the feed, the resolved key, does
    not change.)"""
    guid = story.guid
    if not guid or not document_url or not story.url or guid.strip() == story.url:
        return story
    directory = urljoin(document_url, ".")
    tail = guid[len(directory) :] if guid.startswith(directory) else ""
    if not tail or "/" in tail or urljoin(document_url, tail) != guid:
        return story
    return replace(story, guid=tail)


def tell_shared_guids_apart(stories: Sequence[Story]) -> list[Story]:
    """Entries of one feed document that share a guid but are different entries (another
    link or another title): a generator that writes one guid for every item (the site's home
    page, "1") made each poll keep one of them, the last, as an edit of the others, and a
    permalink guid shared so joined every story of the feed to another feed's. The guid is
    not their identity: each is keyed as if it had none (its canonical link, or its title
    where it has no link), and joins no other feed's story by it."""
    by_key: dict[str, list[int]] = {}
    for index, story in enumerate(stories):
        if story.guid_key.startswith("guid:"):
            by_key.setdefault(story.guid_key, []).append(index)
    told = list(stories)
    for indexes in by_key.values():
        if len({(stories[i].canonical_url, stories[i].title) for i in indexes}) < 2:
            continue  # one entry (or one listed twice): its guid is its identity
        for i in indexes:
            told[i] = _without_guid(stories[i])
    return told


def _without_guid(story: Story) -> Story:
    if story.canonical_url:
        key = f"link:{story.canonical_url}"
    else:
        key = f"{story.guid_key}#{bytes_hash(story.title.encode('utf-8'))[:16]}"
    return replace(story, guid=None, guid_key=key)


def tell_shared_links_apart(stories: Sequence[Story]) -> list[Story]:
    """Entries of one feed document that share a canonical URL but are different entries: the
    URL is not their identity. Scripting News gives each post of a day the day's page with
    its own anchor (".../26.html#a080605"): the anchor is kept in their canonical URL, which
    drops fragments (they were all one cluster, "the same canonical URL"). NixOS's news feed
    links every item to news.html, without guids: such entries are told apart by their
    titles (they were one story, the oldest), and their URL joins them to nothing."""
    by_url: dict[str, list[int]] = {}
    for index, story in enumerate(stories):
        if story.canonical_url:
            by_url.setdefault(story.canonical_url, []).append(index)
    told = list(stories)
    for indexes in by_url.values():
        group = [stories[i] for i in indexes]
        if len({(story.guid_key, story.title) for story in group}) < 2:
            continue  # one entry (or one listed twice): its URL is its identity
        for i in indexes:
            told[i] = _told_apart(stories[i])
    return told


def _told_apart(story: Story) -> Story:
    fragment = urlsplit(story.url).fragment if "#" in story.url else ""
    if fragment:
        return replace(story, canonical_url=f"{story.canonical_url}#{fragment}")
    key = story.guid_key
    if key.startswith("link:"):  # no guid: the title tells entries of one link apart
        key = f"{key}#{bytes_hash(story.title.encode('utf-8'))[:16]}"
    return replace(story, canonical_url="", guid_key=key)


def tag_stories(stories: Sequence[Story], tagging: TagContext) -> list[Story]:
    """Each story with its region and topic tags, and where neither its entry, its feed nor
    the source's configuration gives its language, the one its text clearly reads as (many
    Russian, Ukrainian and Kazakh sites declare none: `lang:ru` and the published xml:lang
    need it). A story the taggers fail on is stored untagged (and logged): a tagging bug must
    never cost the story (`retag` fixes it later)."""
    tagged = []
    for story in stories:
        tags, language = _tags_or_none(story, tagging)
        tagged.append(replace(story, tags=tags, language=language))
    return tagged


def _tags_or_none(story: Story, tagging: TagContext) -> tuple[tuple[Tag, ...], str]:
    try:
        return tag_story_with_language(
            tagging,
            story.title,
            story.text,
            place=story.place,
            categories=story.categories,
            url=story.url,
            language=story.language,
        )
    except Exception:  # any bug in the taggers: the story is kept
        log.warning(
            "story %r of source %d left untagged", story.guid_key, story.source_id, exc_info=True
        )
        return (), story.language


def retag_clusters(
    store: Store, topics: TopicSettings, on_progress: Progress | None = None, batch: int = 500
) -> int:
    """Tag every stored story again (after the rules or the gazetteer changed) and replace
    each cluster's tags with its members' merged tags. Returns the number of clusters."""
    cluster_ids = store.cluster_ids()
    contexts: dict[str, TagContext] = {}
    for start in range(0, len(cluster_ids), batch):
        members = store.members_to_tag(cluster_ids[start : start + batch])
        tags = {
            cluster_id: merge_tags(
                tag_story(
                    contexts.setdefault(
                        story.region, TagContext(story.region, topics.overrides, topics.replace)
                    ),
                    story.title,
                    story.text,
                    place=story.place,
                    categories=story.categories,
                    url=story.url,
                    language=story.language,
                )
                for story in stories
            )
            for cluster_id, stories in members.items()
        }
        store.replace_cluster_tags(tags)
        if on_progress is not None:
            on_progress(min(start + batch, len(cluster_ids)), len(cluster_ids))
    return len(cluster_ids)


def tag_context(source: Source, plan: PollPlan) -> TagContext:
    """What tagging a source's stories needs: its region prior and language, and the topic
    overrides."""
    return TagContext(
        source.region, plan.topics.overrides, plan.topics.replace, language=source.language
    )


def _signals(
    store: Store, source: Source, result: FetchResult, feed: ParsedFeed, now: datetime
) -> PollSignals:
    return PollSignals(
        feed_ttl=feed_ttl(feed.ttl_minutes, feed.update_period, feed.update_frequency),
        fresh_for=fresh_for(result.headers, now),
        entry_interval=entry_interval(store.recent_published(source.id)),
    )


def _follow_move(store: Store, source: Source, result: FetchResult) -> None:
    if not result.moved_to or result.moved_to == source.url:
        return
    if store.move_source(source.id, result.moved_to):
        log.info("source %s moved to %s (%s)", source.url, result.moved_to, result.moved_because)
    else:
        log.warning(
            "source %s moved to %s (%s), which another source already polls; not followed",
            source.url,
            result.moved_to,
            result.moved_because,
        )


def _source_bounds(source: Source, bounds: PollBounds) -> PollBounds:
    if source.interval is None:
        return bounds
    return PollBounds(source.interval, bounds.min_interval, bounds.max_interval)


def _record_success(
    store: Store,
    source: Source,
    result: FetchResult,
    now: datetime,
    next_at: datetime,
    *,
    body_hash: str | None = None,
    feed: ParsedFeed | None = None,
    signals: PollSignals | None = None,
) -> None:
    ttl = signals.feed_ttl if signals else None
    interval = signals.entry_interval if signals else None
    store.record_success(
        source.id,
        now,
        next_at,
        # A 304 may omit the validators; the ones we sent stay valid then.
        etag=result.etag or (source.etag if result.not_modified else None),
        last_modified=result.last_modified
        or (source.last_modified if result.not_modified else None),
        content_hash=body_hash,
        not_modified=result.not_modified,
        # The source's name where the config gives none: one line (a title holding a line
        # break wrote a forged line into `status` and every log line naming the source).
        feed_title=clean_line(feed.title) if feed else "",
        feed_link=feed.link if feed else "",
        feed_ttl_s=ttl.total_seconds() if ttl else None,
        entry_interval_s=interval.total_seconds() if interval else None,
        parsed=feed is not None,
    )


def _record_failure(
    store: Store, source: Source, plan: PollPlan, now: datetime, error: SourceError | StorageError
) -> SourceOutcome:
    message = str(error)
    bounds = _source_bounds(source, plan.bounds)
    status = error.status if isinstance(error, FetchError) else None
    if status == 410:
        # The message ends in the status already ("<url>: HTTP 410 Gone"): said once.
        where = message.removesuffix(": HTTP 410 Gone")
        store.disable_source(source.id, f"HTTP 410 Gone: {where}", now)
        log.warning("source %s is gone (HTTP 410); disabled", source.name or source.url)
        return SourceOutcome(source.url, "gone", error=message)
    kind = _failure_kind(error)
    failures = store.source_failures(source.id) + 1
    retry_at = parse_retry_after(error.retry_after, now) if isinstance(error, FetchError) else None
    signals = PollSignals(consecutive_failures=failures, retry_at=retry_at)
    score = store.record_failure(
        source.id,
        now,
        next_poll_after(now, source.url, bounds, signals),
        message,
        weight=FAILURE_WEIGHTS[kind],
        disable_at_score=plan.disable_after_score,
    )
    log.warning("source %s failed: %s", source.name or source.url, message)
    if score >= plan.disable_after_score:
        log.warning("source %s disabled: failure score %g", source.name or source.url, score)
        return SourceOutcome(source.url, "disabled", error=message)
    return SourceOutcome(source.url, "error", error=message)


def _failure_kind(error: SourceError | StorageError) -> str:
    if isinstance(error, ParseError) or not isinstance(error, FetchError):
        return "parse"
    if error.status == 429:
        return "rate-limited"
    if error.status is not None and 400 <= error.status < 500:
        return "client"
    return error.kind if error.kind in FAILURE_WEIGHTS else "network"
