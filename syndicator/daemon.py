"""Process lifecycle: logging, the lock file, one cycle (`--once`), and the long-running daemon.

The daemon holds the lock, opens the store, starts the HTTP server and schedules a poll tick;
each tick polls whatever the store says is due and republishes when stories changed. SIGTERM
and SIGINT stop it gracefully: the jobs in flight get `SHUTDOWN_GRACE` to finish, then are
cancelled with one info line (`cut_short`: a routine stop is not an error), and the store
closes. SIGHUP reloads the config, keeping the old one if the new one is invalid. The lock
file (next to the database, `RunLock`) keeps a cron `--once` and a daemon, or two crons, from
working on one store at the same time; a daemon checks before each write job that the file is
still the one it locked.

Health (`/healthz`, see `Daemon.health`): the daemon is "ok" when its poll job shows a sign of
life (a start, a source done, an end) within `stall_after(settings)` (three ticks plus the
longer of `HEALTH_GRACE` and one fetch's timeout) and did not end in an exception, the
database takes its write lock (a lock held by another process is "busy", which is healthy),
and the output directory, once it exists, is readable and took the last publish. `serve` is
the HTTP server alone, for cron set-ups: no lock, no scheduler, no writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from syndicator import __version__
from syndicator.alerts import alert_index, deliver
from syndicator.atomic import remove_leftover_temp_files
from syndicator.config import Settings, load_settings, query_warnings
from syndicator.errors import ConfigError, LockError, PublishError, StorageError
from syndicator.heap import trim_heap
from syndicator.metrics import Metrics
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
from syndicator.publishing import changed_topics, publish_steps
from syndicator.scheduler import JobRunner, PeriodicJob
from syndicator.server import (
    Handler,
    HandlerSlot,
    RunningServer,
    base_path_of,
    build_feed_app,
    listen,
)
from syndicator.storage import Store, SyncNote, open_store, read_health
from syndicator.websub import notify_hub

log = logging.getLogger("syndicator")

MAX_TICK = timedelta(seconds=30)
MIN_TICK = timedelta(seconds=1)
SHUTDOWN_GRACE = timedelta(seconds=8)  # SIGTERM to exit stays within 10 s
RETENTION_EVERY = timedelta(hours=1)
HEALTH_GRACE = timedelta(seconds=30)
# Publishing takes at most about this share of the daemon's time: after a publish of d
# seconds the next waits (1/share - 1) * d. A small deployment (a publish of 0.2 s) still
# publishes right after each poll; one of 10,000 sources, whose publishes took 15 s, did so
# every 30 s tick, spending half its time rendering feeds (benchmarks/soak.py).
PUBLISH_SHARE = 0.2
# A publish runs on the event loop, between the HTTP server's requests and the other jobs:
# it lets them run for a moment after each feed once this long has passed since it last did.
# At 10,000 sources one publish took 86 s, which blocked `/healthz` past any health check's
# timeout; now a request waits at most for the feed being rendered (a second or two there).
PUBLISH_SLICE_S = 0.05
PUBLISH_BREATH_S = 0.002
POOL_THRESHOLD = 20  # due sources from which `run --once` parses in worker processes
# How long a daemon's write waits for another process's write lock (`syndicator alerts
# retry`, a `sqlite3` shell): SQLite waits synchronously, on the event loop, so the HTTP
# server and `/healthz` wait too. A longer hold fails that job with one line; the next tick
# tries again. (`run --once` and the other commands wait 10 s: they serve nothing.)
DAEMON_BUSY_TIMEOUT_MS = 500


def utc_now() -> datetime:
    return datetime.now(UTC)


def notify_systemd(state: str) -> None:
    """Tell systemd (`Type=notify`) how the daemon stands: "READY=1" once it holds the lock,
    has the database open and serves HTTP, so that `systemctl start` waits for that and
    fails when the daemon cannot start (a port taken, the lock held, a database refused)
    instead of reporting success for a process that exits a moment later; "STOPPING=1"
    when it stops. Nothing without $NOTIFY_SOCKET (not under systemd, or another Type)."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
    except OSError as e:
        log.warning("could not tell systemd %s: %s", state, e)


def lock_path(settings: Settings) -> Path:
    return settings.storage.path.with_name(settings.storage.path.name + ".lock")


class RunLock:
    """The run lock: an exclusive, non-blocking `flock` on a file beside the database, with
    the holder's pid in it (for the refusal's message).

    The file stays when the lock is released (a kill or a reboot releases it too: there is
    no stale lock), so it always holds some old pid, and an operator may delete it as stale
    while a daemon holds it: a cron run would then lock a new file of that name and write
    beside the daemon. `keep` takes the new file instead (see `Daemon._may_write`).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: TextIO | None = None

    def acquire(self) -> None:
        """Take the lock; raises `LockError` if another run holds it, or it cannot be taken
        (its directory cannot be made or written: named, not a traceback)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = self.path.open("a+")
        except OSError as e:
            # mkdir says "File exists" when a file stands where a directory is needed.
            reason = "a file is in the way" if isinstance(e, FileExistsError) else e.strerror or e
            raise LockError(
                f"{self.path}: cannot take the run lock beside the database: {reason}"
            ) from e
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise LockError(f"{self.path}: locked by pid {holder}; is another run active?") from e
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def in_place(self) -> bool:
        """Whether the file at `path` is still the one locked (not removed or replaced)."""
        if self._handle is None:
            return False
        try:
            on_disk = os.stat(self.path)
        except OSError:
            return False
        held = os.fstat(self._handle.fileno())
        return (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino)

    def keep(self) -> bool:
        """After `in_place` said no: lock the file now at `path` (made again if removed),
        keeping the old lock until then. False if another run holds the new one."""
        old = self._handle
        try:
            self.acquire()
        except LockError:
            self._handle = old
            return False
        if old is not None:
            old.close()  # closing releases its lock
        return True


@contextlib.contextmanager
def hold_lock(path: Path) -> Iterator[RunLock]:
    """`RunLock` held for the `with` block; raises `LockError` if it cannot be taken."""
    lock = RunLock(path)
    lock.acquire()
    try:
        yield lock
    finally:
        lock.release()


async def run_cycle(
    store: Store,
    settings: Settings,
    clock: Clock,
    on_progress: Progress | None = None,
    parser: Parser = parse_inline,
) -> CycleReport:
    """One cycle, the same steps the daemon's jobs take: poll every due source, apply
    retention, publish, deliver alerts. Source errors are in the report, not raised; an output
    directory that cannot be written is raised (`PublishError`) once the rest is done."""
    started = clock()
    plan = plan_from_settings(settings)
    store.alerts = alert_index(settings)
    outcomes = await poll_due_sources(store, plan, clock, on_progress, parser)
    # Before publishing, so that what it removes leaves the feeds in this cycle, not the
    # next (it keeps clusters whose alerts are still to be delivered).
    apply_retention(store, settings, clock())
    unpublished: PublishError | None = None
    try:
        written = await publish_and_notify(store, settings, clock())
    except PublishError as e:  # the output directory: alerts still go out
        unpublished, written = e, []
    await deliver(store, settings, clock())
    report = CycleReport(started, clock(), tuple(outcomes), tuple(written))
    _log_cycle(report)
    if unpublished is not None:
        raise unpublished  # the rest of the cycle is done; the caller says it and exits 1
    return report


async def publish_and_notify(
    store: Store, settings: Settings, now: datetime, *, slice_s: float = PUBLISH_SLICE_S
) -> list[str]:
    """Publish every changed feed, then ping the WebSub hub (`publish.hub`) for them.
    Returns the paths written; a failed ping is logged by `websub`, never raised.

    Between two feeds, once `slice_s` has passed since it last did, it lets the event loop
    run for `PUBLISH_BREATH_S`: the HTTP server answers (`/healthz` included) and the other
    jobs go on while a long publish runs."""
    written = []
    breathed = time.monotonic()
    for path in publish_steps(store, settings, now):
        if path is not None:
            written.append(path)
        if time.monotonic() - breathed >= slice_s:
            await asyncio.sleep(PUBLISH_BREATH_S)
            breathed = time.monotonic()
    trim_heap()  # the feeds' documents and their entries are freed
    topics = changed_topics(settings, written)
    if topics:
        await notify_hub(settings.publish.hub, topics, user_agent=f"syndicator/{__version__}")
    return written


def apply_retention(store: Store, settings: Settings, now: datetime) -> int:
    """Delete clusters older than `storage.retention` ("0s" keeps everything), their stories,
    tags and fingerprints with them (remembering their entries, so that feeds re-sending them
    add nothing), forget fingerprints past the clustering window and removed entries their
    feeds no longer list, and give the freed space back (incremental vacuum, WAL truncated)."""
    pruned = store.prune_fingerprints(now)  # past the clustering window, kept or not
    removed = forgotten = 0
    retention = settings.storage.retention
    if retention > timedelta(0):
        removed = store.delete_clusters_before(now - retention, now)
        # A day at least: `max_per_hour` counts the messages of the last hour.
        store.forget_sent_deliveries(min(now - retention, now - timedelta(days=1)))
        # As long as the stories themselves were kept: an entry a feed drops and lists
        # again within that time (a rotating "most read" list) is still not new.
        forgotten = store.forget_expired_entries(now, retention)
    if removed or pruned or forgotten:
        store.reclaim_space()
    if removed:
        log.info(
            "retention: removed %d story cluster(s) older than %s",
            removed,
            settings.storage.retention,
        )
    if forgotten:
        log.debug("retention: forgot %d removed entries their feeds no longer list", forgotten)
    return removed


def _log_cycle(report: CycleReport) -> None:
    if not report.outcomes and not report.feeds_written:
        return
    seconds = (report.finished_at - report.started_at).total_seconds()
    # The daemon publishes in a job of its own (and says so): its cycles write no files, and
    # "0 file(s) written" beside "published 48 file(s)" read as a failure.
    written = f", {len(report.feeds_written)} file(s) written" if report.feeds_written else ""
    # Edits count too: "0 new stories, 5 file(s) written" after a correction read as nothing
    # having happened, or as files written for no reason.
    updated = f", {report.updated_stories} updated" if report.updated_stories else ""
    log.info(
        "cycle: %d source(s) polled, %d failed, %d new stories%s%s in %.1fs",
        len(report.outcomes),
        report.failed_sources,
        report.new_stories,
        updated,
        written,
        seconds,
    )


def log_config_warnings(settings: Settings) -> None:
    """What `syndicator check` warns about (a section source naming nothing configured, a
    lower-case "or" in a query), also in the daemon's log: it runs unattended."""
    for warning in (*settings.warnings, *query_warnings(settings)):
        log.warning("config: %s", warning)


def log_sync_notes(notes: Iterable[SyncNote]) -> None:
    """Say what syncing the sources with the config carried over (a moved source's URL now
    in the config keeps its stories) or skipped (one feed configured twice)."""
    for note in notes:
        log.log(logging.WARNING if note.skipped else logging.INFO, "sources: %s", note.message)


def remove_leftovers(settings: Settings) -> None:
    """What a kill of an earlier run left behind in the output directory: half-written temp
    files of feeds (never served: they are dot-files, and the feeds themselves are whole)."""
    removed = remove_leftover_temp_files(settings.publish.output_dir)
    if removed:
        log.info("removed %d temp file(s) left by an interrupted run", removed)


def run_once(
    settings: Settings, clock: Clock = utc_now, on_progress: Progress | None = None
) -> CycleReport:
    """One full cycle for cron: lock, sync sources from the config, poll, publish."""
    with hold_lock(lock_path(settings)):
        remove_leftovers(settings)
        log_config_warnings(settings)
        store = open_store(settings.storage.path, cluster_rules(settings))
        pool = ParserPool()
        try:
            log_sync_notes(store.sync_sources(configured_sources(settings.sources), clock()))
            # Worker processes pay off only for a batch; a few feeds parse faster inline.
            many = len(store.due_sources(clock(), limit=POOL_THRESHOLD)) >= POOL_THRESHOLD
            parser: Parser = pool if many else parse_inline
            report = asyncio.run(_cycle_until_sigterm(store, settings, clock, on_progress, parser))
            if not report.outcomes:
                _log_nothing_due(store.next_due_at(), clock())
            return report
        finally:
            pool.close()
            store.close()


class Terminated(Exception):
    """A signal (`STOP_SIGNALS`) ended a `run --once` cleanly; the CLI exits 128 + its number."""

    def __init__(self, signal_number: int) -> None:
        super().__init__(f"stopped by signal {signal_number}")
        self.signal_number = signal_number


# What stops a `run --once`: SIGTERM (cron, `timeout`, a systemd timer), SIGINT (Ctrl-C), and
# SIGHUP (the terminal or SSH session it was started from went away), which by default ended
# the process on the spot, losing the feeds of the write group not yet committed.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


async def _cycle_until_sigterm(
    store: Store,
    settings: Settings,
    clock: Clock,
    on_progress: Progress | None,
    parser: Parser,
) -> CycleReport:
    """`run_cycle`, which a stop signal (`STOP_SIGNALS`) cancels at once, as the daemon
    cancels its jobs after their grace: what it completed stays committed, one info line
    says what was left, and `Terminated` is raised (the caller's `finally` closes the store
    and releases the lock)."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    stopped: signal.Signals | None = None
    progress = (0, 0)

    def stop(number: signal.Signals) -> None:
        nonlocal stopped
        stopped = number
        task.cancel()

    def track(done: int, total: int) -> None:
        nonlocal progress
        progress = (done, total)
        if on_progress is not None:
            on_progress(done, total)

    for number in STOP_SIGNALS:
        loop.add_signal_handler(number, stop, number)
    try:
        return await run_cycle(store, settings, clock, track, parser)
    except asyncio.CancelledError:
        if stopped is None:
            raise
        task.uncancel()
        done, total = progress
        left = (
            f"with {total - done} of {total} due source(s) not polled (they are polled again"
            if done < total
            else "after polling (what is left to publish or deliver is done"
        )
        log.info("stopping on %s: the cycle was cancelled %s at the next run)", stopped.name, left)
        raise Terminated(stopped) from None
    finally:
        for number in STOP_SIGNALS:
            loop.remove_signal_handler(number)


def _log_nothing_due(next_due: datetime | None, now: datetime) -> None:
    """A cron run that polled nothing says so (and when it next will): silence reads as a
    broken job. The daemon's idle ticks stay quiet."""
    if next_due is None:
        log.info("cycle: no source to poll (none configured and enabled)")
        return
    wait = max(0.0, (next_due - now).total_seconds())
    later = (
        f"{wait:.0f} s"
        if wait < 90
        else f"{wait / 60:.0f} min"
        if wait < 5400
        else f"{wait / 3600:.1f} h"
    )
    log.info(
        "cycle: no source due; the next is due at %s (in %s)",
        next_due.isoformat(timespec="seconds"),
        later,
    )


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


def poll_tick(settings: Settings) -> timedelta:
    """How often the daemon asks the store what is due: often enough for min_interval."""
    return max(MIN_TICK, min(MAX_TICK, settings.polling.min_interval))


def stall_after(settings: Settings) -> timedelta:
    """How long the poll job may show no sign of life before health calls it stalled: three
    ticks (a tick or two may be skipped while a long poll runs), plus the longer of
    `HEALTH_GRACE` and one fetch's timeout (a poll whose every fetch hangs until its
    deadline is slow, not stalled)."""
    return 3 * poll_tick(settings) + max(HEALTH_GRACE, settings.polling.timeout)


def output_dir_health(path: Path, required: bool) -> dict[str, Any]:
    """The output directory is readable ("ok"); missing is "absent" unless `required`."""
    try:
        with os.scandir(path) as entries:
            next(entries, None)
    except FileNotFoundError:
        if required:
            return {"status": "failing", "error": f"{path}: no such directory"}
        return {"status": "absent"}
    except OSError as e:
        return {"status": "failing", "error": f"{path}: {e.strerror or e}"}
    return {"status": "ok"}


def _health_report(checks: dict[str, dict[str, Any]], **details: Any) -> dict[str, Any]:
    problems = [
        f"{name}: {check.get('error', 'failing')}"
        for name, check in checks.items()
        if check["status"] == "failing"
    ]
    return {
        "status": "failing" if problems else "ok",
        "problems": problems,
        "version": __version__,
        **details,
        "checks": checks,
    }


class ServeHealth:
    """`syndicator serve`'s health: there is no scheduler; the output directory must be
    readable and the database, if its file exists, readable (not opened for writing)."""

    def __init__(self, settings: Settings) -> None:
        self.output_dir = settings.publish.output_dir
        self.database = settings.storage.path

    def __call__(self) -> dict[str, Any]:
        checks = {
            "scheduler": {"status": "not applicable"},
            "output_dir": output_dir_health(self.output_dir, required=True),
            "database": self._database(),
        }
        return _health_report(checks)

    def _database(self) -> dict[str, Any]:
        if not self.database.exists():
            return {"status": "absent"}
        try:
            return {"status": read_health(self.database)}
        except StorageError as e:
            return {"status": "failing", "error": str(e)}


def _served(settings: Settings) -> tuple[Path, str]:
    """What the HTTP server serves: the output directory, and the base URL's path."""
    return settings.publish.output_dir, base_path_of(settings.publish.base_url)


def serve(
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    on_ready: Callable[[RunningServer], None] | None = None,
) -> None:
    """`syndicator serve`: the HTTP server over `publish.output_dir` until SIGTERM/SIGINT.

    For set-ups where cron runs `run --once`: it takes no lock and writes nothing, so it runs
    beside them. `host`/`port` override `[server]`. No `/metrics`: it fetches nothing."""
    asyncio.run(_serve(settings, host, port, on_ready))


async def _serve(
    settings: Settings,
    host: str | None,
    port: int | None,
    on_ready: Callable[[RunningServer], None] | None,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stop.set)
    output_dir, base_path = _served(settings)
    app = build_feed_app(output_dir, ServeHealth(settings), base_path=base_path)
    server = await listen(
        app,
        settings.server.host if host is None else host,
        settings.server.port if port is None else port,
    )
    log.info("serving %s at %s", settings.publish.output_dir, server.url)
    if on_ready is not None:
        on_ready(server)
    try:
        await stop.wait()
    finally:
        await server.stop()
        log.info("stopped")


class Daemon:
    """`syndicator run`: scheduler, publishing and HTTP server until a stop signal.

    Jobs (APScheduler, each at most one instance at a time, missed runs coalesced):
    `poll` every tick asks the store which sources are due and publishes at once when stories
    changed; `publish` every tick writes the feeds when something else asks for it (start-up,
    a reload); `deliver` every tick composes and sends alert messages (`alerts`);
    `retention` hourly.
    """

    def __init__(
        self,
        config_path: Path,
        settings: Settings,
        clock: Clock = utc_now,
        parser: Parser | None = None,
    ) -> None:
        self.config_path = config_path
        self.settings = settings
        self.clock = clock
        self.started_at = clock()
        self.last_report: CycleReport | None = None
        self.server: RunningServer | None = None
        self.metrics = Metrics()
        self._store: Store | None = None
        self._stop = asyncio.Event()
        self._needs_publish = True
        self._next_publish_at = 0.0  # time.monotonic() from which the next publish may start
        self._published_once = False
        self._publish_error: str | None = None  # why the last publish wrote nothing
        self._publishing = False  # a publish lets the loop run (and polls end) midway
        self._first_poll = True
        self._pool = ParserPool()
        self._parser: Parser = self._pool if parser is None else parser
        self._lock: RunLock | None = None
        self._lock_lost: str | None = None  # why this daemon does not write now
        # The poll job's signs of life, for `health`.
        self._poll_started_at: datetime | None = None
        self._poll_finished_at: datetime | None = None
        self._poll_alive_at = self.started_at
        self._poll_error: str | None = None
        self._poll_progress = (0, 0)  # (sources done, sources due) of the poll in flight
        # What runs as it was started, whatever a reload says since (see `reload`).
        self._started_with = settings
        self._runner: JobRunner | None = None
        self._served = _served(settings)
        self._app = HandlerSlot(self._feed_app(*self._served))

    def run(self, on_ready: Callable[[Daemon], None] | None = None) -> None:
        """Block until SIGTERM or SIGINT. Raises LockError/StorageError/OSError at start-up."""
        asyncio.run(self.run_async(on_ready))

    async def run_async(
        self, on_ready: Callable[[Daemon], None] | None = None, handle_signals: bool = True
    ) -> None:
        """`run` on a running event loop, until `stop()` (or a signal, if it handles them)."""
        with hold_lock(lock_path(self.settings)) as lock:
            self._lock = lock
            remove_leftovers(self.settings)
            await self._main(on_ready, handle_signals)

    async def _main(self, on_ready: Callable[[Daemon], None] | None, handle_signals: bool) -> None:
        log_config_warnings(self.settings)
        self._store = open_store(self.settings.storage.path, cluster_rules(self.settings))
        self._store.wait_for_locks(DAEMON_BUSY_TIMEOUT_MS)
        self._store.alerts = alert_index(self.settings)
        running = False
        try:
            log_sync_notes(
                self._store.sync_sources(configured_sources(self.settings.sources), self.clock())
            )
            if handle_signals:
                self._install_signal_handlers()
            self.server = await self._start_http()
            tick = poll_tick(self.settings)
            self._runner = runner = JobRunner(
                [PeriodicJob(name, tick, job) for name, job in self._ticking_jobs().items()]
                + [PeriodicJob("retention", RETENTION_EVERY, self._retention)]
            )
            runner.start()
            log.info(
                "syndicator %s running: %d source(s), feeds at %s",
                __version__,
                len(self.settings.sources),
                self.server.url if self.server else self.settings.publish.output_dir,
            )
            notify_systemd("READY=1")
            running = True
            if on_ready is not None:
                on_ready(self)
            await self._stop.wait()
            notify_systemd("STOPPING=1")
            log.info("stopping: finishing or cancelling the work in flight")
            cancelled = await runner.stop(SHUTDOWN_GRACE)
            if cancelled:
                log.info("%s", cut_short(cancelled, self._poll_progress, SHUTDOWN_GRACE))
            if self.server is not None:
                await self.server.stop()
        finally:
            self._pool.close()
            self._store.close()
            if running:  # a start that failed says why (the caller's error line), not this
                log.info("stopped")

    def _ticking_jobs(self) -> dict[str, Callable[[], Awaitable[None]]]:
        """The jobs that run every `poll_tick`."""
        return {"poll": self._poll, "publish": self._publish, "deliver": self._deliver}

    def _may_write(self) -> bool:
        """Whether this daemon still holds the run lock, every writing job asks first: a lock
        file removed by hand (it always holds an old pid, and looks stale) is made and locked
        again at once; if another run locked it first, this daemon writes nothing until that
        run is over, as if it had been the one refused."""
        lock = self._lock
        if lock is None or lock.in_place():
            return True
        if lock.keep():
            if self._lock_lost is not None:
                log.info("the run lock is this daemon's again; polling goes on")
            else:
                log.warning("run lock file %s was removed; it is made and held again", lock.path)
            self._lock_lost = None
            return True
        if self._lock_lost is None:
            log.error(
                "run lock file %s was removed, and another run has locked the new one: this "
                "daemon writes nothing until it can take the lock again",
                lock.path,
            )
        self._lock_lost = f"{lock.path}: the run lock is held by another run"
        return False

    def _feed_app(self, output_dir: Path, base_path: str) -> Handler:
        return build_feed_app(output_dir, self.health, self.metrics, base_path=base_path)

    async def _start_http(self) -> RunningServer:
        return await listen(self._app, self.settings.server.host, self.settings.server.port)

    def _serve_from(self, settings: Settings) -> None:
        """Serve `publish.output_dir` under `publish.base_url`'s path from now on (a reload
        changed them): called once the first publish since is done, so readers never meet a
        directory still empty, nor links the feeds do not carry yet."""
        served = _served(settings)
        if served == self._served:
            return
        self._app.handler = self._feed_app(*served)
        if served[0] != self._served[0]:
            log.info("serving the feeds from %s now (was %s)", served[0], self._served[0])
        self._served = served

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
        every feed is republished (under a new `publish.output_dir` too, which the HTTP server
        then serves), the poll tick follows `polling.min_interval`. Only `storage.path`,
        `server.host` and `server.port` need a restart: a warning names those that differ
        from what runs (not from the last reload).
        """
        try:
            settings = load_settings(self.config_path)
        except ConfigError as e:
            # One line however many problems: journald and `grep ERROR` keep a record per
            # line, and the problems were lines of their own without time or level.
            log.error(
                "reload refused, keeping the running configuration: %s: %s",
                e.path,
                "; ".join(e.problems),
            )
            return
        if self._store is not None:
            # First, so that a database that refuses it leaves the running configuration
            # whole (a signal handler's exception is only a traceback in the log).
            try:
                notes = self._store.sync_sources(configured_sources(settings.sources), self.clock())
            except StorageError as e:
                log.error("reload refused, keeping the running configuration: %s", e)
                return
            log_sync_notes(notes)
        if pending := restart_needed(self._started_with, settings):
            log.warning("reload: %s", "; ".join(pending))
        if self._runner is not None and poll_tick(settings) != poll_tick(self.settings):
            for name in self._ticking_jobs():
                self._runner.reschedule(name, poll_tick(settings))
        if (
            self._runner is not None
            and settings.storage.retention != self.settings.storage.retention
        ):
            # A shortened retention (a full disk, a policy) applies now, not within the hour.
            self._runner.run_soon("retention")
        self.settings = settings
        if self._store is not None:
            self._store.rules = cluster_rules(settings)  # for stories stored from now on
            self._store.alerts = alert_index(settings)
        self._needs_publish = True
        log.info(
            "configuration reloaded from %s (%d sources)", self.config_path, len(settings.sources)
        )
        log_config_warnings(settings)

    async def _poll(self) -> None:
        if self._store is None or self._stop.is_set() or not self._may_write():
            return
        self._poll_started_at = self._poll_alive_at = self.clock()
        self._poll_progress = (0, 0)
        try:
            await self._poll_due(self._store, self._poll_started_at)
        except StorageError as e:
            # The database refused a write (another process held its lock past the busy
            # timeout, a full disk, a read-only file system): an operator's problem, said in
            # one line, not a bug's traceback. What the poll did not store is polled again.
            self._poll_error = f"{type(e).__name__}: {e}"
            log.error("poll stopped, its sources are polled again at the next tick: %s", e)
        except Exception as e:
            self._poll_error = f"{type(e).__name__}: {e}"
            raise  # APScheduler logs it with its traceback
        else:
            self._poll_error = None
        finally:
            self._poll_finished_at = self._poll_alive_at = self.clock()

    async def _poll_due(self, store: Store, started: datetime) -> None:
        terminal = TerminalProgress("first poll") if self._first_poll else None
        self._first_poll = False

        def progress(done: int, total: int) -> None:
            self._poll_alive_at = self.clock()  # a long poll is alive while sources get done
            self._poll_progress = (done, total)  # what a stop would cut short
            if terminal is not None:
                terminal(done, total)

        plan = plan_from_settings(self.settings)
        outcomes = await poll_due_sources(
            store,
            plan,
            self.clock,
            progress,
            self._parser,
            metrics=self.metrics,
            stopping=self._stop.is_set,
            on_outcome=self._note_outcome,
        )
        done, due = self._poll_progress
        if self._stop.is_set() and done < due:
            log.info(
                "stopping: %d of %d due source(s) not polled; they are the first due at the "
                "next start",
                due - done,
                due,
            )
        if outcomes:
            self.last_report = CycleReport(started, self.clock(), tuple(outcomes))
            _log_cycle(self.last_report)
        if _changed(outcomes):
            self._needs_publish = True
            await self._publish()  # new stories reach the feeds now, not a tick later

    def _note_outcome(self, outcome: SourceOutcome) -> None:
        # A long poll (thousands of sources, or one slow one) must not hold back the stories
        # of the sources it has done: the publish job's next tick publishes them.
        if _changed([outcome]):
            self._needs_publish = True

    async def _publish(self) -> None:
        if self._store is None or not self._needs_publish or self._publishing:
            return  # (a publish in progress: the publish job's next tick does it)
        if not self._may_write():
            return
        if time.monotonic() < self._next_publish_at:
            return  # the publish job's next tick does it (see PUBLISH_SHARE)
        self._needs_publish = False
        self._publishing = True
        started = time.perf_counter()
        settings = self.settings  # a reload during the publish is published next time
        try:
            written = await publish_and_notify(self._store, settings, self.clock())
        except PublishError as e:
            self._publish_failed(e)
            return
        except StorageError as e:  # only another process's lock (`publishing.is_locked`)
            self._needs_publish = True
            log.error("publish put off to the next tick: %s", e)
            return
        finally:
            self._publishing = False
        if self._publish_error is not None:
            log.info("publishing into %s works again", settings.publish.output_dir)
            self._publish_error = None
        self._serve_from(settings)
        took = time.perf_counter() - started
        # No wait after the start-up publish: the first poll's stories go out at once.
        if self._published_once:
            self._next_publish_at = time.monotonic() + took * (1 / PUBLISH_SHARE - 1)
        self._published_once = True
        feeds = sum(1 for path in written if path.startswith("feeds/"))
        self.metrics.record_publish(took, feeds)
        if written:
            log.info("published %d file(s)", len(written))

    def _publish_failed(self, error: PublishError) -> None:
        """The output directory cannot be written: said once (again only if the reason
        changes), shown by `/healthz`, and tried again every tick until it can."""
        self._needs_publish = True
        if str(error) != self._publish_error:
            log.error("%s; trying again every %s", error, _duration(poll_tick(self.settings)))
        self._publish_error = str(error)

    async def _deliver(self) -> None:
        if self._store is not None and not self._stop.is_set() and self._may_write():
            await deliver(self._store, self.settings, self.clock(), self.metrics)

    async def _retention(self) -> None:
        if self._store is None or not self._may_write():
            return
        if apply_retention(self._store, self.settings, self.clock()):
            # The removed stories leave the feeds now: else they stayed published (and a
            # quiet feed, such as a country's, kept them) until a poll changed stories.
            self._needs_publish = True

    def health(self) -> dict[str, Any]:
        """The `/healthz` report: "status" is "ok", or "failing" with "problems" saying why
        (the scheduler stalled or its last poll raised, the database cannot be written, the
        output directory cannot be read); "checks" has the details of each."""
        checks = {
            "scheduler": self._scheduler_health(self.clock()),
            "database": self._database_health(),
            "output_dir": self._output_dir_health(),
        }
        last = self.last_report
        return _health_report(
            checks,
            started_at=self.started_at.isoformat(),
            sources=len(self.settings.sources),
            stories=self._story_count(),
            last_cycle_at=last.finished_at.isoformat() if last else None,
        )

    def _output_dir_health(self) -> dict[str, Any]:
        if self._publish_error is not None:
            return {"status": "failing", "error": self._publish_error}
        return output_dir_health(self.settings.publish.output_dir, required=False)

    def _scheduler_health(self, now: datetime) -> dict[str, Any]:
        limit = stall_after(self.settings)
        check: dict[str, Any] = {
            "status": "ok",
            "last_poll_started_at": _iso(self._poll_started_at),
            "last_poll_finished_at": _iso(self._poll_finished_at),
            "last_poll_activity_at": _iso(self._poll_alive_at),
            "stalled_after_s": limit.total_seconds(),
        }
        quiet = now - self._poll_alive_at
        if quiet > limit:
            check["status"] = "failing"
            check["error"] = (
                f"stalled: no poll job started, progressed or finished for "
                f"{quiet.total_seconds():.0f}s (limit {limit.total_seconds():.0f}s)"
            )
        elif self._poll_error is not None:
            check["status"] = "failing"
            check["error"] = f"the last poll job failed: {self._poll_error}"
        return check

    def _database_health(self) -> dict[str, Any]:
        if self._store is None:
            return {"status": "failing", "error": "the database is not open"}
        if self._lock_lost is not None:
            return {"status": "failing", "error": self._lock_lost}
        try:
            return {"status": self._store.write_health()}
        except StorageError as e:
            return {"status": "failing", "error": str(e)}

    def _story_count(self) -> int | None:
        if self._store is None:
            return None
        try:
            return self._store.story_count()
        except StorageError:
            return None  # the database check says why


RESTART_SETTINGS: dict[str, Callable[[Settings], object]] = {
    "storage.path": lambda settings: settings.storage.path,  # the database open
    "server.host": lambda settings: settings.server.host,  # the socket listening
    "server.port": lambda settings: settings.server.port,
}


def restart_needed(running: Settings, loaded: Settings) -> list[str]:
    """One phrase per setting that a reload cannot apply and that `loaded` changes from what
    `running` started with; empty when a restart would change nothing."""
    return [
        f"{key} = {new!s} takes effect only after a restart (running with {old!s})"
        for key, value in RESTART_SETTINGS.items()
        if (old := value(running)) != (new := value(loaded))
    ]


def cut_short(jobs: list[str], poll_progress: tuple[int, int], grace: timedelta) -> str:
    """The one line a stop logs about the jobs it cancelled after `grace`: what was left
    undone, and that nothing is lost (a source's next poll time is stored only once it is
    done, so it is still due at the next start; unsent alerts stay in the outbox)."""
    parts = []
    if "poll" in jobs:
        done, total = poll_progress
        parts.append(
            f"{total - done} of {total} due source(s) not polled, their fetches cancelled "
            "(they are polled again at the next start)"
        )
    others = [job for job in jobs if job != "poll"]
    if others:
        parts.append(f"job {', '.join(others)} cut short (it runs again at the next start)")
    return f"stopping: after {grace.total_seconds():.0f} s, " + "; ".join(parts)


def _duration(span: timedelta) -> str:
    seconds = span.total_seconds()
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _changed(outcomes: list[SourceOutcome]) -> bool:
    return any(outcome.new_stories or outcome.updated_stories for outcome in outcomes)
