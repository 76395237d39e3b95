"""Polling throughput and memory: syndicator against lemon24/reader over the same feed farm.

A separate process renders N realistic news feeds (RSS 2.0, 20-50 items, seeded) once and
serves them on loopback with ETag / Last-Modified and 304 answers (`_feedfarm.py`). Each system
then runs in its own child process, so peak RSS is per system:

- cold: every source fetched, parsed and stored into an empty database;
- all-304: every source made due again and polled with its validators; the server answers 304.

syndicator runs `syndicator.daemon.run_once` (the cron entry point: lock, open the store, sync
the sources, one cycle with the parser strategy syndicator picks, publish); the all-304 run gets
a clock two days ahead so every source is due. reader runs `update_feeds` cold, then
`update_feeds(scheduled=False)`, once per worker count asked for; the best reader number is the
baseline of each ratio. The server's own counters (responses by status) are printed next to
each pass, so a pass that did not really get 304s shows. Config parsing, the first source sync
and `add_feed` are untimed set-up. Peak RSS is the peak of the summed RSS of the measuring
process and its descendants (syndicator's parser worker processes), sampled during each pass.
`--profile` adds a run of the cold cycle through `run_cycle` with the in-process parser under
cProfile, where a profiler sees the whole cost.

Usage:  python benchmarks/polling.py [--feeds 5000] [--seed 1] [--skip-reader]
                                     [--only syndicator|reader] [--profile]
reader is needed only for the comparison and is not a dependency of the project:
    pip install reader sgmllib3k
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from _feedfarm import (
    RunningFarm,
    child_pids,
    exit_with_parent,
    fetch_stats,
    pss_kib,
    start_farm,
    stats_delta,
)

READER_PIP = "pip install reader sgmllib3k"
RSS_GOAL_SOURCES = 10_000
RSS_GOAL_MB = 300.0
SPEED_GOAL = 5.0
ALL_DUE_OFFSET = timedelta(days=2)  # > polling.max_interval (24h): every source is due


@dataclass
class PassResult:
    """One timed pass of one system."""

    name: str  # "cold" or "all-304"
    wall_s: float
    feeds: int
    entries: int  # entries stored by the pass (cold) or 0
    outcomes: dict[str, int]  # the client's own classification
    server: dict[str, Any]  # fetch_stats delta: statuses, bytes_sent, cpu_s
    peak_rss_mb: float  # peak of the summed RSS of the process and its children in the pass
    main_hwm_mb: float  # VmHWM of the measuring process (cumulative since it started)
    cpu_s: float  # user + system CPU of the process, its threads and its child processes
    load_before: float  # 1-minute load average when the pass started (contention check)
    errors: list[str] = field(default_factory=list)
    # peak of the summed PSS: shared pages (the parser processes share what their fork server
    # loaded) counted once, split between their sharers; 0 where /proc has no smaps_rollup
    peak_pss_mb: float = 0.0

    @property
    def feeds_per_s(self) -> float:
        return self.feeds / self.wall_s if self.wall_s else 0.0

    @property
    def entries_per_s(self) -> float:
        return self.entries / self.wall_s if self.wall_s else 0.0


@dataclass
class SystemResult:
    """Both passes of one system in one child process."""

    label: str
    baseline_rss_mb: float  # VmRSS after imports, before any set-up
    setup_s: float
    passes: list[PassResult]
    note: str = ""
    profile: str = ""

    @property
    def cold(self) -> PassResult:
        return self.passes[0]

    @property
    def warm(self) -> PassResult:
        return self.passes[1]

    @property
    def peak_rss_mb(self) -> float:
        return max(p.peak_rss_mb for p in self.passes)

    @property
    def peak_pss_mb(self) -> float:
        return max(p.peak_pss_mb for p in self.passes)


# ---------------------------------------------------------------------------------------------
# Measuring inside a child process.

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_status_mb(key: str) -> float:
    """A memory line of /proc/self/status (VmRSS, VmHWM) in MB; ru_maxrss if unavailable."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _self_cpu_s() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _proc_stat(pid: int) -> tuple[int, float, int] | None:
    """(parent pid, CPU seconds, RSS bytes) of a process from /proc/<pid>/stat."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK, int(fields[21]) * _PAGE


class Meter:
    """Measures one pass: wall time, CPU and peak RSS of this process *and its descendants*
    (syndicator may parse in worker processes), sampled every `interval` seconds, plus what the
    feed server did meanwhile. Use as `with Meter(base_url) as meter:`."""

    def __init__(self, base_url: str, interval: float = 0.1) -> None:
        import threading

        self.base_url = base_url
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_until_stopped, daemon=True)
        self._child_cpu: dict[int, float] = {}
        self._child_cpu_at_start: dict[int, float] = {}
        self.peak_rss_mb = 0.0
        self.peak_pss_mb = 0.0
        self.wall_s = self.cpu_s = self.load_before = 0.0
        self.server: dict[str, Any] = {}

    def _tree(self) -> list[tuple[int, float, int]]:
        """(pid, CPU seconds, RSS bytes) of this process and all its descendants."""
        tree, frontier = [], [os.getpid()]
        while frontier:
            pid = frontier.pop()
            stat = _proc_stat(pid)
            if stat is None:
                continue
            tree.append((pid, stat[1], stat[2]))
            frontier += child_pids(pid)
        return tree

    def _sample(self) -> None:
        me = os.getpid()
        tree = self._tree()
        self.peak_rss_mb = max(self.peak_rss_mb, sum(rss for _, _, rss in tree) / 2**20)
        self.peak_pss_mb = max(self.peak_pss_mb, sum(pss_kib(pid) for pid, _, _ in tree) / 1024)
        for pid, cpu, _ in tree:
            if pid != me:
                self._child_cpu[pid] = cpu

    def _sample_until_stopped(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> Meter:
        self._before = fetch_stats(self.base_url)
        self._sample()
        self._child_cpu_at_start = dict(self._child_cpu)
        self.load_before = os.getloadavg()[0]
        self._self_cpu = _self_cpu_s()
        self._thread.start()
        self._started = time.perf_counter()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.wall_s = time.perf_counter() - self._started
        self._stop.set()
        self._thread.join()
        self._sample()
        children = sum(
            cpu - self._child_cpu_at_start.get(pid, 0.0) for pid, cpu in self._child_cpu.items()
        )
        self.cpu_s = _self_cpu_s() - self._self_cpu + children
        self.server = stats_delta(self._before, fetch_stats(self.base_url))

    def result(
        self, name: str, feeds: int, entries: int, outcomes: dict[str, int], errors: list[str]
    ) -> PassResult:
        return PassResult(
            name=name,
            wall_s=self.wall_s,
            feeds=feeds,
            entries=entries,
            outcomes=outcomes,
            server=self.server,
            peak_rss_mb=self.peak_rss_mb,
            peak_pss_mb=self.peak_pss_mb,
            main_hwm_mb=_proc_status_mb("VmHWM"),
            cpu_s=self.cpu_s,
            load_before=self.load_before,
            errors=errors,
        )


def syndicator_config(
    base_url: str, count: int, tmp: Path, concurrency: int, fetch_timeout_s: int
) -> str:
    """The TOML text of a config with `count` sources on the farm."""
    from syndicator.config import keys_of

    polling_keys = {key.name for key in keys_of("polling")}
    lines = [
        "[storage]",
        f"path = {json.dumps(str(tmp / 'syndicator.db'))}",
        "[publish]",
        f"output_dir = {json.dumps(str(tmp / 'feeds'))}",
        "[polling]",
        'interval = "15m"',
        'min_interval = "1s"',
        'max_interval = "24h"',
        f'timeout = "{fetch_timeout_s}s"',
        f"concurrency = {concurrency}",
        "allow_private_addresses = true",
    ]
    if "per_host_concurrency" in polling_keys:
        # Every farm feed is on 127.0.0.1; real sources are spread over many hosts, so the
        # per-host politeness limit must not throttle the benchmark to one host's share.
        lines.append(f"per_host_concurrency = {concurrency}")
    for index in range(count):
        lines += ["[[sources]]", f"url = {json.dumps(f'{base_url}/feeds/{index}.xml')}"]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class SyndicatorRun:
    """What the syndicator child measures."""

    base_url: str
    count: int
    concurrency: int
    fetch_timeout_s: int
    profile: bool = False


def _syndicator_child(conn: Connection, run: SyndicatorRun) -> None:
    """Both passes through `run_once`, the cron entry point: lock, open the store, sync the
    sources, one cycle (syndicator picks its parser: worker processes for a batch), publish."""
    import logging

    from syndicator.config import parse_settings
    from syndicator.daemon import run_once, utc_now
    from syndicator.pipeline import configured_sources
    from syndicator.storage import open_store

    exit_with_parent()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    baseline = _proc_status_mb("VmRSS")
    with tempfile.TemporaryDirectory(prefix="bench-syndicator-") as tmp_name:
        tmp = Path(tmp_name)
        started = time.perf_counter()
        text = syndicator_config(run.base_url, run.count, tmp, run.concurrency, run.fetch_timeout_s)
        settings = parse_settings(text, tmp / "bench.toml", {})
        store = open_store(settings.storage.path)  # creates the schema and the sources, untimed
        store.sync_sources(configured_sources(settings.sources), utc_now())
        store.close()
        setup_s = time.perf_counter() - started
        if run.profile:
            conn.send(_profile_inline_cold(settings, run, setup_s, baseline))
            conn.close()
            return

        def later() -> datetime:
            return utc_now() + ALL_DUE_OFFSET

        passes = []
        for name, clock in (("cold", utc_now), ("all-304", later)):
            with Meter(run.base_url) as meter:
                report = run_once(settings, clock)
            outcomes = Counter(outcome.status for outcome in report.outcomes)
            errors = [f"{o.source_url}: {o.error}" for o in report.outcomes if o.error][:3]
            entries = report.new_stories if name == "cold" else 0
            passes.append(meter.result(name, len(report.outcomes), entries, outcomes, errors))
        store = open_store(settings.storage.path)
        stored = store.story_count()
        store.close()
    if stored != passes[0].entries:
        passes[0].errors.append(f"store holds {stored} stories, cycle reported {passes[0].entries}")
    label = f"syndicator (concurrency={run.concurrency})"
    if "per_host_concurrency" in text:
        label = f"syndicator (conc {run.concurrency}, {run.concurrency}/host)"
    note = "timed: run_once (lock, open, re-sync sources, cycle, publish, retention)"
    conn.send(SystemResult(label, baseline, setup_s, passes, note))
    conn.close()


def _profile_inline_cold(
    settings: Any, run: SyndicatorRun, setup_s: float, baseline: float
) -> SystemResult:
    """The cold cycle through `run_cycle` with its default in-process parser under cProfile:
    the whole cost of a cycle in one process, where a profiler can see it."""
    import asyncio
    import cProfile

    from syndicator.daemon import run_cycle, utc_now
    from syndicator.storage import open_store

    store = open_store(settings.storage.path)
    profiler = cProfile.Profile()
    with Meter(run.base_url) as meter:
        profiler.enable()
        report = asyncio.run(run_cycle(store, settings, utc_now))
        profiler.disable()
    store.close()
    cold = meter.result("cold", len(report.outcomes), report.new_stories, {}, [])
    return SystemResult(
        "syndicator (profiled)",
        baseline,
        setup_s,
        [cold, cold],
        "",
        (
            f"wall {cold.wall_s:.1f}s for {cold.entries} entries under the profiler\n"
            + _profile_summary(profiler)
        ),
    )


def _profile_summary(profiler: Any, top: int = 15) -> str:
    """Top functions by cumulative and by own time, asyncio's loop frames left out; the raw
    profile is kept in a file for pstats / snakeviz."""
    import io
    import pstats

    dump = Path(tempfile.gettempdir()) / "polling-syndicator-cold.prof"
    profiler.dump_stats(dump)
    out = io.StringIO()
    out.write(f"raw profile: {dump}\n")
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    not_the_loop = r"^(?!.*(base_events|events\.py|runners\.py|\{method 'run' of))"
    stats.sort_stats("cumulative").print_stats(not_the_loop, top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def _reader_child(conn: Connection, base_url: str, count: int, workers: int) -> None:
    import logging

    from reader import make_reader

    exit_with_parent()
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    baseline = _proc_status_mb("VmRSS")
    with tempfile.TemporaryDirectory(prefix="bench-reader-") as tmp_name:
        started = time.perf_counter()
        reader = make_reader(str(Path(tmp_name) / "reader.sqlite"))
        for index in range(count):
            reader.add_feed(f"{base_url}/feeds/{index}.xml")
        setup_s = time.perf_counter() - started
        passes = []
        for name, scheduled in (("cold", True), ("all-304", False)):
            entries_before = reader.get_entry_counts().total or 0
            outcomes: Counter[str] = Counter()
            errors: list[str] = []
            with Meter(base_url) as meter:
                for result in reader.update_feeds_iter(scheduled=scheduled, workers=workers):
                    if result.error is not None:
                        outcomes["error"] += 1
                        if len(errors) < 3:
                            errors.append(f"{result.url}: {result.error}")
                    elif result.updated_feed is None:
                        outcomes["not-modified"] += 1
                    elif result.not_modified:
                        outcomes["unchanged"] += 1
                    else:
                        outcomes["ok"] += 1
            entries = (reader.get_entry_counts().total or 0) - entries_before
            passes.append(
                meter.result(name, sum(outcomes.values()), entries, dict(outcomes), errors)
            )
        reader.close()
    note = "timed: update_feeds_iter (cold), update_feeds_iter(scheduled=False) (all-304)"
    conn.send(SystemResult(f"reader (workers={workers})", baseline, setup_s, passes, note))
    conn.close()


def _in_child(target: Callable[..., None], *args: Any) -> SystemResult:
    """Run `target(conn, *args)` in a fresh interpreter and return what it sends."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=target, args=(child, *args))
    process.start()
    child.close()
    try:
        result: SystemResult = parent.recv()
    except EOFError:
        process.join()
        raise RuntimeError(f"{target.__name__} died (exit code {process.exitcode})") from None
    process.join()
    return result


# ---------------------------------------------------------------------------------------------
# Reporting.


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "-"


def _statuses(server: dict[str, Any]) -> str:
    return " ".join(f"{status}:{n}" for status, n in sorted(server["statuses"].items())) or "-"


def print_table(results: Sequence[SystemResult]) -> None:
    header = (
        f"{'system':<32} {'pass':<8} {'wall s':>8} {'feeds/s':>9} {'entries/s':>10} "
        f"{'peak RSS MB':>11} {'main HWM':>8} {'CPU s':>7} {'load':>5}  {'client outcomes':<20} "
        f"{'server responses':<17} {'srv CPU s':>9}"
    )
    print(header)
    print("-" * len(header))
    for result in results:
        for p in result.passes:
            outcomes = " ".join(f"{k}:{v}" for k, v in sorted(p.outcomes.items()))
            entries_per_s = f"{p.entries_per_s:10.0f}" if p.name == "cold" else f"{'-':>10}"
            print(
                f"{result.label:<32} {p.name:<8} {p.wall_s:8.2f} {p.feeds_per_s:9.0f} "
                f"{entries_per_s} {p.peak_rss_mb:11.1f} {p.main_hwm_mb:8.1f} {p.cpu_s:7.2f} "
                f"{p.load_before:5.2f}  "
                f"{outcomes:<20} {_statuses(p.server):<17} {p.server['cpu_s']:9.2f}"
            )
        print(
            f"{'':<32} set-up {result.setup_s:.2f}s (untimed), RSS after imports "
            f"{result.baseline_rss_mb:.1f} MB, cold stored {result.cold.entries} entries"
        )
        if result.note:
            print(f"{'':<32} {result.note}")
    print(
        "peak RSS: sum of RSS over the process and its child processes (parser workers), "
        "sampled every 0.1s during the pass;\nmain HWM: VmHWM of the measuring process alone; "
        "CPU s: process + threads + children; load: 1-min load average at the start "
        "(other work on the machine)"
    )
    for result in results:
        for p in result.passes:
            for error in p.errors:
                print(f"  ! {result.label} {p.name}: {error}")


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def print_goals(feeds: int, ours: SystemResult | None, theirs: Sequence[SystemResult]) -> None:
    print()
    print("goals")
    if ours is not None and theirs:
        best_cold = max(theirs, key=lambda r: r.cold.entries_per_s)
        best_warm = max(theirs, key=lambda r: r.warm.feeds_per_s)
        cold_ratio = ours.cold.entries_per_s / best_cold.cold.entries_per_s
        warm_ratio = ours.warm.feeds_per_s / best_warm.warm.feeds_per_s
        print(
            f"  cold entries/s   syndicator {ours.cold.entries_per_s:8.0f} / "
            f"{best_cold.label} {best_cold.cold.entries_per_s:8.0f} = {cold_ratio:5.2f}x   "
            f"goal >= {SPEED_GOAL:g}x  {_verdict(cold_ratio >= SPEED_GOAL)}"
        )
        print(
            f"  all-304 feeds/s  syndicator {ours.warm.feeds_per_s:8.0f} / "
            f"{best_warm.label} {best_warm.warm.feeds_per_s:8.0f} = {warm_ratio:5.2f}x   "
            f"goal >= {SPEED_GOAL:g}x  {_verdict(warm_ratio >= SPEED_GOAL)}"
        )
    if ours is not None:
        peak = ours.peak_rss_mb
        if feeds >= RSS_GOAL_SOURCES:
            print(
                f"  peak RSS at {feeds} sources: syndicator {peak:.1f} MB   "
                f"goal <= {RSS_GOAL_MB:g} MB at {RSS_GOAL_SOURCES}  "
                f"{_verdict(peak <= RSS_GOAL_MB)}"
            )
        else:
            # Memory is bounded by polling.concurrency bodies in flight, not by the number of
            # sources, so a linear extrapolation from a small run says nothing: measure it.
            print(
                f"  peak RSS at {RSS_GOAL_SOURCES} sources: not measured by this run "
                f"({feeds} feeds); run --feeds {RSS_GOAL_SOURCES} --only syndicator"
            )
        print(f"  peak RSS at {feeds} feeds: syndicator {peak:.1f} MB")
        print(
            f"  peak PSS at {feeds} feeds (shared pages counted once): syndicator "
            f"{ours.peak_pss_mb:.1f} MB"
        )
    for result in theirs:
        print(f"  peak RSS at {feeds} feeds: {result.label} {result.peak_rss_mb:.1f} MB")
        print(f"  peak PSS at {feeds} feeds: {result.label} {result.peak_pss_mb:.1f} MB")


# ---------------------------------------------------------------------------------------------
# Command line.


def _workers(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected e.g. 1,10, got {text!r}") from e
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive worker counts, got {text!r}")
    return values


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--feeds", type=int, default=5000, help="feeds served (default 5000)")
    parser.add_argument("--seed", type=int, default=1, help="feed content seed (default 1)")
    parser.add_argument("--skip-reader", action="store_true", help="measure syndicator only")
    parser.add_argument("--only", choices=("syndicator", "reader"), help="measure one system")
    parser.add_argument(
        "--concurrency", type=int, default=100, help="syndicator polling.concurrency (100)"
    )
    parser.add_argument(
        "--timeout", type=int, default=20, help="syndicator polling.timeout, seconds (20)"
    )
    parser.add_argument(
        "--reader-workers",
        type=_workers,
        default=[1, 10],
        help="reader update_feeds worker counts to try, best one is the baseline (1,10)",
    )
    parser.add_argument("--no-gzip", action="store_true", help="serve uncompressed bodies")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also run syndicator's cold cycle under cProfile (extra child) and print the top",
    )
    args = parser.parse_args(argv)
    if args.feeds < 1:
        parser.error("--feeds must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    run_ours = args.only in (None, "syndicator")
    run_theirs = args.only == "reader" or (args.only is None and not args.skip_reader)
    if run_theirs and (
        importlib.util.find_spec("reader") is None or importlib.util.find_spec("sgmllib") is None
    ):
        print(
            "reader is not installed; the comparison needs it (not a project dependency):\n"
            f"    {sys.executable} -m {READER_PIP}\n"
            "or run with --skip-reader",
            file=sys.stderr,
        )
        return 1

    started = time.perf_counter()
    farm: RunningFarm = start_farm(args.feeds, args.seed, use_gzip=not args.no_gzip)
    print(
        f"feed farm: {args.feeds} feeds, {farm.entries} entries, "
        f"{farm.body_bytes / 1e6:.1f} MB ({farm.gzip_bytes / 1e6:.1f} MB gzipped"
        f"{', not used' if args.no_gzip else ''}), seed {args.seed}, "
        f"rendered in {farm.render_s:.1f}s at {farm.base_url}"
    )
    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"syndicator {_version('syndicator')}, reader {_version('reader')}, "
        f"feedparser {_version('feedparser')}, aiohttp {_version('aiohttp')}"
    )
    print()
    ours: SystemResult | None = None
    theirs: list[SystemResult] = []
    profile = ""
    run = SyndicatorRun(farm.base_url, args.feeds, args.concurrency, args.timeout)
    try:
        if run_ours:
            ours = _in_child(_syndicator_child, run)
        if run_theirs:
            for workers in args.reader_workers:
                theirs.append(_in_child(_reader_child, farm.base_url, args.feeds, workers))
        if run_ours and args.profile:
            profile = _in_child(_syndicator_child, replace(run, profile=True)).profile
    finally:
        farm.stop()
    print_table([r for r in (ours, *theirs) if r is not None])
    print_goals(args.feeds, ours, theirs)
    if profile:
        print()
        print("syndicator cold cycle under cProfile (separate run; timings inflated):")
        print(profile)
    print(f"\ntotal benchmark time {time.perf_counter() - started:.0f}s")
    failed = any(p.errors for r in (ours, *theirs) if r is not None for p in r.passes)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
