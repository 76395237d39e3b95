"""Process lifecycle: logging, the lock file, one cycle (`--once`), and the long-running daemon.

The daemon holds the lock, opens the store, starts the HTTP server and schedules a poll tick;
each tick polls whatever the store says is due and republishes when stories changed. SIGTERM
and SIGINT stop it gracefully (the tick in flight finishes, the store closes); SIGHUP reloads
the config, keeping the old one if the new one is invalid. The lock file (next to the database)
keeps a cron `--once` and a daemon, or two crons, from working on one store at the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from syndicator import __version__
from syndicator.config import Settings, load_settings
from syndicator.errors import ConfigError, LockError
from syndicator.models import CycleReport, SourceOutcome
from syndicator.pipeline import (
    Clock,
    Parser,
    ParserPool,
    Progress,
    cluster_rules,
    configured_sources,
    parse_inline,
    plan_from_settings,
    poll_due_sources,
)
from syndicator.publishing import publish_all
from syndicator.scheduler import JobRunner, PeriodicJob
from syndicator.server import RunningServer, build_feed_app, start_server
from syndicator.storage import Store, open_store

log = logging.getLogger("syndicator")

MAX_TICK = timedelta(seconds=30)
MIN_TICK = timedelta(seconds=1)
SHUTDOWN_GRACE = timedelta(seconds=8)  # SIGTERM to exit stays within 10 s
RETENTION_EVERY = timedelta(hours=1)
POOL_THRESHOLD = 20  # due sources from which `run --once` parses in worker processes


def utc_now() -> datetime:
    return datetime.now(UTC)


def lock_path(settings: Settings) -> Path:
    return settings.storage.path.with_name(settings.storage.path.name + ".lock")


@contextlib.contextmanager
def hold_lock(path: Path) -> Iterator[None]:
    """An exclusive, non-blocking lock; raises `LockError` if another run holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise LockError(f"{path}: locked by pid {holder}; is another run active?") from e
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


async def run_cycle(
    store: Store,
    settings: Settings,
    clock: Clock,
    on_progress: Progress | None = None,
    parser: Parser = parse_inline,
) -> CycleReport:
    """One cycle, the same steps the daemon's jobs take: poll every due source, publish,
    apply retention. Source errors are in the report, not raised."""
    started = clock()
    plan = plan_from_settings(settings)
    outcomes = await poll_due_sources(store, plan, clock, on_progress, parser)
    written = publish_all(store, settings, clock())
    apply_retention(store, settings, clock())
    report = CycleReport(started, clock(), tuple(outcomes), tuple(written))
    _log_cycle(report)
    return report


def apply_retention(store: Store, settings: Settings, now: datetime) -> int:
    """Delete clusters older than `storage.retention` ("0s" keeps everything), their stories,
    tags and fingerprints with them, forget fingerprints past the clustering window, and give
    the freed space back (incremental vacuum, WAL truncated)."""
    pruned = store.prune_fingerprints(now)  # past the clustering window, kept or not
    removed = 0
    if settings.storage.retention > timedelta(0):
        removed = store.delete_clusters_before(now - settings.storage.retention)
    if removed or pruned:
        store.reclaim_space()
    if removed:
        log.info(
            "retention: removed %d story cluster(s) older than %s",
            removed,
            settings.storage.retention,
        )
    return removed


def _log_cycle(report: CycleReport) -> None:
    if not report.outcomes and not report.feeds_written:
        return
    seconds = (report.finished_at - report.started_at).total_seconds()
    log.info(
        "cycle: %d source(s) polled, %d failed, %d new stories, %d file(s) written in %.1fs",
        len(report.outcomes),
        report.failed_sources,
        report.new_stories,
        len(report.feeds_written),
        seconds,
    )


def run_once(
    settings: Settings, clock: Clock = utc_now, on_progress: Progress | None = None
) -> CycleReport:
    """One full cycle for cron: lock, sync sources from the config, poll, publish."""
    _warn_unapplied(settings)
    with hold_lock(lock_path(settings)):
        store = open_store(settings.storage.path, cluster_rules(settings))
        pool = ParserPool()
        try:
            store.sync_sources(configured_sources(settings.sources), clock())
            # Worker processes pay off only for a batch; a few feeds parse faster inline.
            many = len(store.due_sources(clock(), limit=POOL_THRESHOLD)) >= POOL_THRESHOLD
            parser: Parser = pool if many else parse_inline
            return asyncio.run(run_cycle(store, settings, clock, on_progress, parser))
        finally:
            pool.close()
            store.close()


class TerminalProgress:
    """A one-line progress bar on a terminal's stderr, for cycles with many due sources.

    Silent when stderr is not a terminal (systemd, cron, pipes) or the batch is small.
    """

    def __init__(self, label: str, stream: TextIO = sys.stderr, threshold: int = 20) -> None:
        self.label = label
        self.stream = stream
        self.enabled = stream.isatty()
        self.threshold = threshold

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total < self.threshold:
            return
        width = 30
        filled = width * done // total
        bar = "#" * filled + "-" * (width - filled)
        end = "\n" if done == total else ""
        self.stream.write(f"\r{self.label} [{bar}] {done}/{total}{end}")
        self.stream.flush()


def _warn_unapplied(settings: Settings) -> None:
    for section in settings.sections:
        if section.query:
            log.warning(
                "sections.%s.query is accepted but not applied yet: the query language "
                "arrives with alerts",
                section.slug,
            )


def poll_tick(settings: Settings) -> timedelta:
    """How often the daemon asks the store what is due: often enough for min_interval."""
    return max(MIN_TICK, min(MAX_TICK, settings.polling.min_interval))


class Daemon:
    """`syndicator run`: scheduler, publishing and HTTP server until a stop signal.

    Jobs (APScheduler, each at most one instance at a time, missed runs coalesced):
    `poll` every tick asks the store which sources are due and publishes at once when stories
    changed; `publish` every tick writes the feeds when something else asks for it (start-up,
    a reload); `retention` hourly. Alert
    delivery joins them with the alerts issue.
    """

    def __init__(self, config_path: Path, settings: Settings, clock: Clock = utc_now) -> None:
        self.config_path = config_path
        self.settings = settings
        self.clock = clock
        self.started_at = clock()
        self.last_report: CycleReport | None = None
        self.server: RunningServer | None = None
        self._store: Store | None = None
        self._stop = asyncio.Event()
        self._needs_publish = True
        self._first_poll = True
        self._parser = ParserPool()

    def run(self, on_ready: Callable[[Daemon], None] | None = None) -> None:
        """Block until SIGTERM or SIGINT. Raises LockError/StorageError/OSError at start-up."""
        _warn_unapplied(self.settings)
        with hold_lock(lock_path(self.settings)):
            asyncio.run(self._main(on_ready))

    async def _main(self, on_ready: Callable[[Daemon], None] | None) -> None:
        self._store = open_store(self.settings.storage.path, cluster_rules(self.settings))
        try:
            self._store.sync_sources(configured_sources(self.settings.sources), self.clock())
            self._install_signal_handlers()
            self.server = await self._start_http()
            tick = poll_tick(self.settings)
            runner = JobRunner(
                [
                    PeriodicJob("poll", tick, self._poll),
                    PeriodicJob("publish", tick, self._publish),
                    PeriodicJob("retention", RETENTION_EVERY, self._retention),
                ]
            )
            runner.start()
            log.info(
                "syndicator %s running: %d source(s), feeds at %s",
                __version__,
                len(self.settings.sources),
                self.server.url if self.server else self.settings.publish.output_dir,
            )
            if on_ready is not None:
                on_ready(self)
            await self._stop.wait()
            log.info("stopping: finishing or cancelling the work in flight")
            await runner.stop(SHUTDOWN_GRACE)
            if self.server is not None:
                await self.server.stop()
        finally:
            self._parser.close()
            self._store.close()
            log.info("stopped")

    async def _start_http(self) -> RunningServer:
        app = build_feed_app(self.settings.publish.output_dir, self.health)
        host, port = self.settings.server.host, self.settings.server.port
        try:
            return await start_server(app, host, port)
        except OSError as e:
            raise OSError(f"server: cannot listen on {host}:{port}: {e.strerror or e}") from e

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.stop)
        loop.add_signal_handler(signal.SIGINT, self.stop)
        loop.add_signal_handler(signal.SIGHUP, self.reload)

    def stop(self) -> None:
        self._stop.set()

    def reload(self) -> None:
        """Re-read the config; an invalid one is logged and the running one kept.

        Added sources are due at once, removed ones stop being polled (their stories stay),
        sections are republished. Storage and server addresses need a restart.
        """
        try:
            settings = load_settings(self.config_path)
        except ConfigError as e:
            log.error("reload refused, keeping the running configuration: %s", e)
            return
        if (settings.storage, settings.server) != (self.settings.storage, self.settings.server):
            log.warning("reload: [storage] and [server] changes take effect after a restart")
        self.settings = settings
        if self._store is not None:
            self._store.sync_sources(configured_sources(settings.sources), self.clock())
            self._store.rules = cluster_rules(settings)  # for stories stored from now on
        self._needs_publish = True
        _warn_unapplied(settings)
        log.info(
            "configuration reloaded from %s (%d sources)", self.config_path, len(settings.sources)
        )

    async def _poll(self) -> None:
        if self._store is None or self._stop.is_set():
            return
        started = self.clock()
        progress = TerminalProgress("first poll") if self._first_poll else None
        self._first_poll = False
        plan = plan_from_settings(self.settings)
        outcomes = await poll_due_sources(self._store, plan, self.clock, progress, self._parser)
        if outcomes:
            self.last_report = CycleReport(started, self.clock(), tuple(outcomes))
            _log_cycle(self.last_report)
        if _changed(outcomes):
            self._needs_publish = True
            await self._publish()  # new stories reach the feeds now, not a tick later

    async def _publish(self) -> None:
        if self._store is None or not self._needs_publish:
            return
        self._needs_publish = False
        written = publish_all(self._store, self.settings, self.clock())
        if written:
            log.info("published %d file(s)", len(written))

    async def _retention(self) -> None:
        if self._store is not None:
            apply_retention(self._store, self.settings, self.clock())

    def health(self) -> dict[str, Any]:
        store = self._store
        return {
            "status": "ok",
            "version": __version__,
            "started_at": self.started_at.isoformat(),
            "sources": len(self.settings.sources),
            "stories": store.story_count() if store else 0,
            "last_cycle_at": self.last_report.finished_at.isoformat() if self.last_report else None,
        }


def _changed(outcomes: list[SourceOutcome]) -> bool:
    return any(outcome.new_stories or outcome.updated_stories for outcome in outcomes)
