"""Crash safety: SIGKILL during ingest, publishing and delivery loses and doubles nothing.

The acceptance test of the reliability issue. Thirty loopback sources hold 20-40 stories each,
revealed a level a round (each source shows its newest `WINDOW`; half of them send an ETag, so
304s happen too), some republished by other sources under their own guid and link (so
clusters form), some edited after they first appeared (same guid, a sentence added). Alerts
send one webhook per matched story (`max_items = 1`) to a Standard Webhooks receiver here,
which refuses a few (400: dead at once). Sections, `all` and the automatic region, topic and
alert feeds (Atom and JSON, archive pages) make every cycle publish a few hundred files. A
source is polled every 4 s or so, so a round finds all, some or none of them due (from 20 on,
`run --once` parses in its process pool).

Each round starts syndicator, `run --once` or the daemon (`run`, chosen when it has something
to publish or deliver from its start), in a process group of its own and SIGKILLs the whole
group (the parser pool's fork server and workers too), seeded, at one of four moments: the n-th
feed request of the round plus a random delay (ingest: fetching, parsing or storing), the n-th
temporary file seen in the output directory (publishing), the n-th webhook request or just
after its answer (delivery), or a random delay. A kill counts for the phase the test saw last
before it (a feed request, an output directory changed, a webhook), so a timer kill counts
where it landed. The processes are forked from a zygote that imported syndicator and loaded
its tagging tables once (2 s of CPU per process on two shared cores: a kill there tests
nothing, and 50 of them would cost minutes); each runs the CLI's `main`, which is what
`python -m syndicator` runs, and starts its own parser pool (a fresh fork server, as always).
The daemon that `_provoke` kills is a plain `python -m syndicator run`.

After every round, on a read-only connection (the WAL stays for syndicator to recover): the
database passes `integrity_check`; nothing stored before is gone (stories, matches, outbox rows,
deliveries, and a sent or dead delivery stays so); every webhook-id the receiver saw is a
stored delivery; no story's copies are split over clusters; every published file is complete,
and every Atom and JSON entry id keeps naming the same story. Then, after a clean run, the
daemon is killed on purpose while it sends an alert for a story it is still ingesting (see
`_provoke`), and clean runs go on until one changes nothing, and the end state is checked:
every entry ever served is stored once, with its edits; one cluster per story, and one more
run creates none; every match sent or dead; every story alerted under one webhook-id (repeats
of that id counted); every published file complete; which temporary files kills left behind.

Two of these checks found bugs, now fixed and kept as regressions: the daemon composed and
sent alerts inside the poll's uncommitted write group (a kill lost the sent delivery and the
restart sent it again under a new webhook-id), and nothing removed the temporary files of a
write that a kill interrupted (a run now removes them at start-up).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Protocol

import pytest
from lxml import etree
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from .conftest import FeedServer, Route, rss
from .test_delivery_crash import SECRET, _words

pytestmark = [pytest.mark.slow, pytest.mark.timeout(330)]

SEED = 20260307
SOURCES, PER_SOURCE = 30, (20, 40)
LEVELS = 70  # round r serves the entries of level <= r, the newest WINDOW of each source
WINDOW = 12
FIRST_LEVEL_SHARE = 0.1  # entries served from the first round on
COPY_SHARE, EDIT_SHARE = 0.15, 0.1
REJECTED = 5  # matched stories the receiver answers 400 (dead at once)
PROVOKE_TRIES, PROVOKE_STORIES = 3, SOURCES  # one per source: the first feed ingested has one
MIN_KILLS, MIN_PER_PHASE = 50, 6
KILL_PHASE_MAX_S = 240.0  # a cap for a machine far slower than expected
TRIGGERS = {"ingest": 2, "publishing": 4, "delivery": 3, "timer": 3}  # weights
DAEMON_SHARE = 0.2  # ingest and timer kills of the daemon
ONCE_SHARE = 0.25  # publishing and delivery kills of `run --once` (see `_plan`)
TIMER_S = (0.1, 2.5)
INGEST_DELAY_S = (0.0, 1.0)  # after the n-th feed request: fetching, parsing or storing
PROVOKE_WITHIN_S = 12.0
GIVE_UP_S = {"run --once": 12.0, "run": 6.0}  # a trigger that did not fire: kill anyway
FINAL_RUNS = 6
# How often a source is polled: 4 x `interval` (the entries are minutes apart, so the observed
# entry frequency asks for the longest adaptive interval), plus up to 10% jitter. The rounds
# are shorter: some find most sources due (and parse in the pool, as it takes 20), some few.
POLL_EVERY_S = 4
CHANNEL = "hook"
PHASES = ("ingest", "publishing", "delivery")
ATOM = "{http://www.w3.org/2005/Atom}"
TEMP_NAME = re.compile(r"^\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp$")  # atomic.py's mkstemp names
PLACES = (  # (country, city, weight): Kazakhstan often, for the protest alert
    ("Kazakhstan", "Almaty", 5),
    ("Kyrgyzstan", "Bishkek", 1),
    ("France", "Lyon", 1),
    ("Brazil", "Recife", 1),
    ("Japan", "Osaka", 1),
    ("Kenya", "Mombasa", 1),
    ("Germany", "Hamburg", 1),
    ("India", "Pune", 1),
    ("Mexico", "Monterrey", 1),
    ("Egypt", "Giza", 1),
    ("Canada", "Calgary", 1),
)
TOPICS = (  # (word in the title, lead sentence, weight)
    ("protest", "Protesters marched through {city}, {country}, on Tuesday.", 3),
    ("earthquake", "An earthquake shook {city}, {country}, on Tuesday.", 1),
    ("election", "Voters went to the polls in {city}, {country}, on Tuesday.", 3),
    ("football", "The football club of {city}, {country}, won its match on Tuesday.", 3),
    ("inflation", "Prices rose again in {city}, {country}, the statistics office said.", 3),
    ("vaccine", "A vaccine campaign started in {city}, {country}, on Tuesday.", 3),
    ("tremor", "A tremor shook {city}, {country}, on Tuesday.", 0),  # `_provoke`'s alone
)
# Each alert matches fewer than publishing.AUTOMATIC_ENTRIES (100) stories: a story first
# published below a full feed's newest 100 (here, one held back to the end, with an older
# date) never enters that feed, nor its archive pages.
ALERTS = {"kz-protest": "kazakhstan AND protest*", "quake": "earthquake", "tremor": "tremor"}
# Imports syndicator and loads its tagging tables once, then forks a child that runs the CLI's
# `main` (what `python -m syndicator` runs) for each JSON argument list read from stdin, in a
# process group of its own; answers the child's pid, then its exit code.
ZYGOTE = """
import atexit, json, os, sys, traceback
from syndicator.cli import main
import syndicator.daemon  # what `run` imports lazily
from syndicator.tagging.regions import load_gazetteer
from syndicator.tagging.topics import default_taxonomy
load_gazetteer()
default_taxonomy()
answers = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)  # what the children print goes to the log
for line in sys.stdin:
    pid = os.fork()
    if pid == 0:
        os.setpgid(0, 0)
        answers.close()
        try:
            code = main(json.loads(line))
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except BaseException:
            traceback.print_exc()
            code = 1
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    try:
        os.setpgid(pid, pid)  # also here: the test may kill the group before the child ran
    except OSError:
        pass
    print(pid, file=answers)
    print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), file=answers)
"""


# -- the stories ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Story:
    key: str
    title: str
    text: str
    edit: str  # the sentence an edit appends ("" if never edited)
    alerts: tuple[str, ...]


@dataclass(frozen=True)
class Item:
    """One entry of one source: a story's original or a syndicated copy."""

    source: int
    guid: str
    story: Story
    level: int  # served from this level on
    edit_level: int | None = None  # from this level on with the edit appended

    def text(self, level: int) -> str:
        edited = self.edit_level is not None and level >= self.edit_level
        return f"{self.story.text} {self.story.edit}" if edited else self.story.text


def _story(rnd: random.Random, key: str, topic_name: str | None = None) -> Story:
    country, city, _ = rnd.choices(PLACES, [p[2] for p in PLACES])[0]
    topic, lead, _ = rnd.choices(TOPICS, [t[2] for t in TOPICS])[0]
    if topic_name is not None:
        topic, lead, _ = next(t for t in TOPICS if t[0] == topic_name)
    words = _words(rnd, 46)  # made-up words: no two stories alike by chance
    alerts = [{"earthquake": "quake", "tremor": "tremor"}.get(topic, "")]
    if country == "Kazakhstan" and topic == "protest":
        alerts.append("kz-protest")
    return Story(
        key=key,
        title=f"{country} {topic} in {city}: {' '.join(words[:4])}",
        text=f"{lead.format(city=city, country=country)} {' '.join(words[4:])}.",
        edit=f"Update: {' '.join(_words(rnd, 6))}." if rnd.random() < EDIT_SHARE else "",
        alerts=tuple(alert for alert in alerts if alert),
    )


def _items(rnd: random.Random) -> list[Item]:
    """Every source's stories, the copies of some of them, and for each `_provoke` try a
    batch of tremor stories over PROVOKE_STORIES sources, served only from then on."""
    items: list[Item] = []
    for source in range(SOURCES):
        for n in range(rnd.randint(*PER_SOURCE)):
            story = _story(rnd, f"s{source:02d}-{n:02d}")
            level = 0 if rnd.random() < FIRST_LEVEL_SHARE else rnd.randint(1, LEVELS - 1)
            edit_level = level + rnd.randint(1, 6) if story.edit else None
            items.append(Item(source, story.key, story, level, edit_level))
    for original in [item for item in items if not item.story.edit]:
        if rnd.random() < COPY_SHARE:  # edited stories are not copied: copies stay alike
            for other in rnd.sample([s for s in range(SOURCES) if s != original.source], 2):
                guid = f"copy-{original.story.key}-{other}"
                items.append(Item(other, guid, original.story, rnd.randint(0, LEVELS - 1)))
                if rnd.random() < 0.5:
                    break
    for attempt in range(PROVOKE_TRIES):
        for source in rnd.sample(range(SOURCES), PROVOKE_STORIES):
            story = _story(rnd, f"p{attempt}-{source:02d}", "tremor")
            story = Story(story.key, story.title, story.text, "", story.alerts)
            items.append(Item(source, story.key, story, LEVELS + 1 + attempt))
    return items


def _feed_path(source: int) -> str:
    return f"/source-{source:02d}.rss"


def _serve(server: FeedServer, items: list[Item], level: int, now: datetime) -> None:
    """Each source's entries up to `level`, newest first: the newest WINDOW of them while
    the kills go on, all of them from the level of the first `_provoke` try on."""
    by_source: dict[int, list[Item]] = defaultdict(list)
    for item in items:
        if item.level <= level:
            by_source[item.source].append(item)
    for source in range(SOURCES):
        shown = sorted(by_source[source], key=lambda item: (-item.level, item.guid))
        shown = shown if level > LEVELS else shown[:WINDOW]
        body = rss(
            [
                {
                    "title": item.story.title,
                    "guid": item.guid,
                    "link": f"https://source-{item.source:02d}.example/{item.guid}",
                    "description": item.text(level),
                    "date": format_datetime(now - timedelta(minutes=LEVELS + 5 - item.level)),
                }
                for item in shown
            ],
            title=f"Source {source:02d}",
        )
        etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"' if source % 2 == 0 else None
        server.routes[_feed_path(source)] = Route(body, etag=etag)


# -- the webhook receiver -----------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    webhook_id: str
    alert: str
    title: str
    cluster_id: int
    status: int  # what the receiver answered (or was about to, when the sender died)
    signed: bool


@dataclass
class Trap:
    """Kill `process`'s group at the `nth` request for which `wanted(attempt)` holds: before
    answering it ("request") or just after ("answer")."""

    process: Running
    when: str
    nth: int = 1
    wanted: Callable[[Attempt], bool] = lambda attempt: True
    seen: int = 0


class Hooks:
    """A Standard Webhooks receiver on loopback (signatures checked with the reference
    library): records every attempt; 400 for the stories in `rejected`, else 204."""

    def __init__(self, rejected: set[str]) -> None:
        self.rejected = rejected
        self.attempts: list[Attempt] = []
        self.trap: Trap | None = None
        self._lock = threading.Lock()
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, kill = hooks.take(headers, body)
                if kill == "request":
                    hooks.spring()
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    self.wfile.flush()
                except OSError:
                    return  # the sender died first
                if kill == "answer":
                    hooks.spring()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"

    def take(self, headers: dict[str, str], body: bytes) -> tuple[int, str | None]:
        try:
            Webhook(SECRET).verify(body, headers)
            signed = True
        except WebhookVerificationError:
            signed = False
        data = json.loads(body)["data"]
        webhook_id = headers.get("webhook-id", "")
        status, kill = 204, None
        with self._lock:
            for item in data["items"]:
                title = item["title"]
                refused = 400 if title in self.rejected else 204
                status = max(status, refused)
                attempt = Attempt(
                    webhook_id, data["alert"], title, item["cluster_id"], refused, signed
                )
                self.attempts.append(attempt)
                trap = self.trap
                if trap is not None and trap.wanted(attempt):
                    trap.seen += 1
                    kill = trap.when if trap.seen == trap.nth else kill
        return status, kill

    def arm(self, trap: Trap | None) -> None:
        with self._lock:
            self.trap = trap

    def spring(self) -> None:
        with self._lock:
            trap, self.trap = self.trap, None
        if trap is not None and trap.process.poll() is None:
            _kill_group(trap.process)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)


# -- the scene --------------------------------------------------------------------------------


@dataclass
class Round:
    command: str
    trigger: str
    code: int
    phase: str | None  # where the kill landed; None: the run ended on its own
    seconds: float
    temp_left: int = 0  # temporary files the kill left (a write cut between open and rename)

    def __str__(self) -> str:
        landed = f"killed in {self.phase}" if self.phase else f"exit {self.code}"
        return f"{self.command} ({self.trigger}): {landed} after {self.seconds:.1f}s"


@dataclass
class Scene:
    tmp: Path
    feeds: FeedServer
    hooks: Hooks
    items: list[Item]
    rnd: random.Random
    now: datetime
    rounds: list[Round] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    hook_problems: list[str] = field(default_factory=list)  # webhook-ids (see the one-id test)
    orphans: int = 0
    provoked: int = 0  # `_provoke` tries
    finishing_runs: int = 0
    stable: bool = False  # the last finishing run changed nothing
    # What the checks saw before, so the next ones can tell that nothing went away.
    seen: dict[str, set[tuple[object, ...]]] = field(default_factory=lambda: defaultdict(set))
    finished: dict[str, str] = field(default_factory=dict)  # delivery id -> sent/dead
    lost_ids: set[str] = field(default_factory=set)
    entry_titles: dict[str, str] = field(default_factory=dict)  # Atom/JSON entry id -> title
    checked: dict[Path, tuple[int, int]] = field(default_factory=dict)  # file -> mtime, size
    temp_seen: set[str] = field(default_factory=set)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def config(self) -> Path:
        return self.tmp / "syndicator.toml"

    @property
    def database(self) -> Path:
        return self.tmp / "db" / "syndicator.db"

    @property
    def output(self) -> Path:
        return self.tmp / "out"

    @property
    def log(self) -> Path:
        return self.tmp / "runs.log"

    @property
    def kills(self) -> Counter[str]:
        return Counter(r.phase for r in self.rounds if r.phase is not None)

    def temp_files(self) -> list[Path]:
        return sorted(p for p in self.output.rglob("*.tmp") if p.is_file())

    def summary(self) -> str:
        killed = [r for r in self.rounds if r.phase is not None]
        daemon = Counter(r.phase for r in killed if r.command == "run")
        return (
            f"seed {SEED}: {len(self.rounds)} rounds, {len(killed)} SIGKILLs, by phase "
            f"{dict(self.kills)} (of the daemon: {dict(daemon)}), by trigger "
            f"{dict(Counter(r.trigger for r in killed))}; "
            f"{sum(r.phase is None for r in self.rounds)} rounds ran to their end; "
            f"{sum(r.temp_left > 0 for r in self.rounds)} kills cut a file write; "
            f"{self.provoked} daemon kill(s) while it sent an alert it was ingesting; "
            f"{self.orphans} process(es) outlived their group's kill"
        )


def _write_config(scene: Scene) -> None:
    sources = "".join(
        f'[[sources]]\nurl = "{scene.feeds.url(_feed_path(s))}"\nname = "Source {s:02d}"\n'
        for s in range(SOURCES)
    )
    alerts = "".join(
        f"[[alerts]]\nname = \"{name}\"\nquery = '{query}'\n"
        f'channels = ["{CHANNEL}"]\nmax_items = 1\n'
        for name, query in ALERTS.items()
    )
    scene.config.write_text(
        f"""
[storage]
path = "{scene.database}"
retention = "0s"

[publish]
output_dir = "{scene.output}"
base_url = "http://feeds.test/"

[server]
port = 0

[polling]
interval = "1s"
min_interval = "1s"
max_interval = "{POLL_EVERY_S * 3 // 2}s"
timeout = "5s"
allow_private_addresses = true

{sources}
[[sections]]
slug = "central-asia"
title = "Central Asia"
regions = ["KZ", "KG"]

[[sections]]
slug = "disasters"
title = "Disasters"
topics = ["disaster"]

[[sections]]
slug = "politics"
title = "Politics"
topics = ["politics"]

{alerts}
[channels.{CHANNEL}]
type = "webhook"
url = "{scene.hooks.url}"
secret = "{SECRET}"
""",
        encoding="utf-8",
    )


# -- processes ----------------------------------------------------------------------------------


def _start(scene: Scene, args: list[str]) -> subprocess.Popen[bytes]:
    with scene.log.open("ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, *args],
            cwd=scene.tmp,
            env=_environment(scene),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as one
        )


def _environment(scene: Scene) -> dict[str, str]:
    """Temporary directories under the test's: multiprocessing's (pymp-*, the fork server's
    socket) stay behind when a kill takes the process that would remove them."""
    temp = scene.tmp / "temp"
    temp.mkdir(exist_ok=True)
    return {**os.environ, "TMPDIR": str(temp)}


class Running(Protocol):
    """A started syndicator: a `Popen`, or a `Child` of the zygote."""

    pid: int

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...


class Zygote:
    """The `ZYGOTE` process, and its answers read by a thread of this one."""

    def __init__(self, scene: Scene) -> None:
        with scene.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", ZYGOTE],
                cwd=scene.tmp,
                env=_environment(scene),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,
            )
        self.answers: queue.Queue[int] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.answers.put(int(line))

    def fork(self, args: list[str]) -> Child:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(args).encode() + b"\n")
        self.process.stdin.flush()
        return Child(self, self.answers.get(timeout=60))

    def close(self) -> None:
        """End of input: the zygote leaves its loop and exits, and the reader its."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self._reader.join(timeout=5)
        self.process.stdout.close()


@dataclass
class Child:
    zygote: Zygote
    pid: int
    code: int | None = None

    def poll(self) -> int | None:
        if self.code is None:
            with contextlib.suppress(queue.Empty):
                self.code = self.zygote.answers.get_nowait()
        return self.code

    def wait(self, timeout: float | None = None) -> int:
        if self.code is None:
            self.code = self.zygote.answers.get(timeout=timeout)
        return self.code


# POSIX semaphores of the killed groups' process pools, by inode: multiprocessing's resource
# tracker, which would unlink them, dies with the group (see `_kill_group`).
_LEFT_SEMAPHORES: set[int] = set()
_SEMAPHORES_LOCK = threading.Lock()


def _kill_group(process: Running) -> None:
    """SIGKILL the whole group. It is stopped first (nothing runs after that moment), so the
    POSIX semaphores its process pool has mapped can be noted and unlinked by `_reap`: with
    the group dies multiprocessing's resource tracker, which would have unlinked them, and
    /dev/shm would keep five per parser pool killed."""
    with contextlib.suppress(ProcessLookupError):  # the group is gone already
        os.killpg(process.pid, signal.SIGSTOP)
        inodes = set()
        for pid in _group_members(process.pid):
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
                    if "/dev/shm/sem." in line:  # glibc maps it under its first, temporary name
                        inodes.add(int(line.split()[4]))
        with _SEMAPHORES_LOCK:
            _LEFT_SEMAPHORES.update(inodes)
        os.killpg(process.pid, signal.SIGKILL)


def _unlink_semaphores() -> None:
    with _SEMAPHORES_LOCK:
        if _LEFT_SEMAPHORES:
            for entry in os.scandir("/dev/shm"):
                if entry.name.startswith("sem.mp-") and entry.inode() in _LEFT_SEMAPHORES:
                    Path(entry.path).unlink(missing_ok=True)
        _LEFT_SEMAPHORES.clear()


def _group_members(pgid: int) -> list[int]:
    """The living (not zombie) processes of a process group."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        state, _parent, group = stat.rsplit(")", 1)[1].split()[:3]
        if int(group) == pgid and state not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def _reap(scene: Scene, process: Running) -> int:
    """Wait for the process and for everything in its group; kill what outlives it."""
    code = process.wait(timeout=30)
    deadline = time.monotonic() + 5
    while _group_members(process.pid):
        if time.monotonic() > deadline:
            scene.orphans += 1
            _kill_group(process)
            deadline = time.monotonic() + 5
        time.sleep(0.01)
    _unlink_semaphores()
    return code


class Watch:
    """What a round shows from outside, polled every few ms: feed requests, the output
    directories changing (and the temporary files in them, when counted), webhooks."""

    def __init__(self, scene: Scene, count_temp: bool) -> None:
        self.scene = scene
        self.count_temp = count_temp
        self.requests = len(scene.feeds.requests)
        self.webhooks = len(scene.hooks.attempts)
        feeds = scene.output / "feeds"
        dirs = [scene.output, feeds, *(feeds / d for d in ("regions", "topics", "alerts"))]
        self.dirs = {path: self._mtime(path) for path in dirs}
        self.counts: Counter[str] = Counter()
        self.first: dict[str, float] = {}
        self.last: str | None = None
        scene.temp_seen |= {str(path) for path in scene.temp_files()}  # left by earlier kills

    @staticmethod
    def _mtime(path: Path) -> int:
        try:
            return path.stat().st_mtime_ns
        except FileNotFoundError:
            return 0

    def poll(self) -> None:
        requests = len(self.scene.feeds.requests)
        if requests > self.requests:
            self._saw("ingest", requests - self.requests)
            self.requests = requests
        for path, before in self.dirs.items():
            mtime = self._mtime(path)
            if mtime != before:
                self.dirs[path] = mtime
                self._saw("publishing", 1)
            if self.count_temp and mtime:
                with contextlib.suppress(FileNotFoundError):
                    names = [e.name for e in os.scandir(path) if e.name.endswith(".tmp")]
                    fresh = {str(path / name) for name in names} - self.scene.temp_seen
                    self.scene.temp_seen |= fresh
                    self.counts["temp"] += len(fresh)
        webhooks = len(self.scene.hooks.attempts)
        if webhooks > self.webhooks:
            self._saw("delivery", webhooks - self.webhooks)
            self.webhooks = webhooks

    def _saw(self, what: str, count: int) -> None:
        self.counts[what] += count
        self.first.setdefault(what, time.monotonic())
        self.last = what


def _plan(scene: Scene) -> tuple[str, str, int]:
    """The next round's trigger, command and n-th event to kill at. Seeded; a phase short of
    kills is preferred. A publishing or delivery kill goes to the daemon when it has
    something to publish or deliver from its start (its jobs all start at once), else to
    `run --once` (which gets there only after a whole ingest) now and then, and otherwise
    the round is an ingest kill (which leaves something to publish and deliver)."""
    rnd = scene.rnd
    short = [phase for phase in PHASES if scene.kills[phase] < MIN_PER_PHASE]
    trigger = rnd.choices(list(TRIGGERS), weights=list(TRIGGERS.values()))[0]
    if short and rnd.random() < 0.5:
        trigger = rnd.choice(short)
    waiting, stale, due = 0, False, SOURCES
    if scene.database.exists():
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        [(count, newer, due_count)] = _read(scene.database, BACKLOG, (now,))
        waiting, stale, due = int(str(count)), bool(newer), int(str(due_count))
    ready = {"delivery": waiting > 0, "publishing": stale}.get(trigger)
    command = "run" if ready else "run --once"
    if ready is False and rnd.random() > ONCE_SHARE:
        trigger = "ingest"
    if trigger in ("ingest", "timer") and (due == 0 or rnd.random() < DAEMON_SHARE):
        command = "run"  # with nothing due, `run --once` would do nothing: the daemon waits
    # Drawn for the chosen trigger only: a dict of all three drew each (and failed on an empty
    # range when a publishing round found no delivery waiting).
    if trigger == "ingest":
        nth = rnd.randint(1, max(1, due))
    elif trigger == "publishing":
        nth = rnd.randint(1, 6)
    elif trigger == "delivery":
        nth = rnd.randint(1, max(1, min(3, waiting)) if ready else 3)
    else:
        nth = 1
    return trigger, command, nth


BACKLOG = """SELECT
    (SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'queued')),
    (SELECT MAX(updated_at) FROM stories) >
        COALESCE((SELECT written_at FROM published_feeds WHERE path = 'feeds/all.atom'), ''),
    (SELECT COUNT(*) FROM sources WHERE enabled = 1 AND configured = 1
        AND disabled_reason IS NULL AND (next_poll_at IS NULL OR next_poll_at <= ?))
"""


def _round(scene: Scene, zygote: Zygote) -> Round:
    """Start syndicator, watch it, kill its group when the trigger fires."""
    trigger, command, nth = _plan(scene)
    rnd = scene.rnd
    delay = rnd.uniform(*(TIMER_S if trigger == "timer" else INGEST_DELAY_S))
    when = rnd.choice(["request", "answer"])
    temp_before = set(scene.temp_files())
    watch = Watch(scene, count_temp=trigger == "publishing")
    process = zygote.fork(["--config", str(scene.config), *command.split()])
    started = time.monotonic()
    if trigger == "delivery":
        scene.hooks.arm(Trap(process, when, nth))
    gave_up = False
    while process.poll() is None:
        watch.poll()
        now = time.monotonic()
        if trigger == "timer":
            fired = now - started >= delay
        elif trigger == "ingest":
            fired = watch.counts["ingest"] >= nth and now - watch.first["ingest"] >= delay
        else:  # publishing; delivery: the receiver kills
            fired = trigger == "publishing" and watch.counts["temp"] >= nth
        gave_up = now - started > GIVE_UP_S[command]
        if fired or gave_up:
            _kill_group(process)
            break
        time.sleep(0.004)
    scene.hooks.arm(None)
    code = _reap(scene, process)
    watch.poll()
    phase = (watch.last or "startup") if code == -signal.SIGKILL else None
    left = len(set(scene.temp_files()) - temp_before)
    trigger += ", gave up" if gave_up else ""
    return Round(command, trigger, code, phase, time.monotonic() - started, left)


def _enough(scene: Scene) -> bool:
    return (
        sum(scene.kills.values()) >= MIN_KILLS
        and all(scene.kills[phase] >= MIN_PER_PHASE for phase in PHASES)
        and any(r.temp_left for r in scene.rounds)
    )


def _kill_phase(scene: Scene, zygote: Zygote) -> None:
    """Rounds until the kills are enough (or the time is up: the test then says what is
    missing); each round reveals a level more of the sources."""
    started = time.monotonic()
    while not _enough(scene) and time.monotonic() - started < KILL_PHASE_MAX_S:
        _serve(scene.feeds, scene.items, min(len(scene.rounds), LEVELS), scene.now)
        result = _round(scene, zygote)
        scene.rounds.append(result)
        _check_round(scene, f"round {len(scene.rounds)}, {result}")


def _provoke(scene: Scene) -> None:
    """Kill the daemon as it sends an alert for a story it is ingesting now.

    The daemon's deliver job runs on the same event loop and the same connection as its poll,
    whose write group (`pipeline.GroupCommit`) keeps a transaction open for up to a second
    while feeds are stored. A delivery composed in that second is part of the open
    transaction; once its webhook is out, a kill takes the delivery back, though the
    receiver has its webhook-id, and the restart sends the story again under a new one.
    Each try waits until every source is due, serves a batch of new tremor stories (and,
    the first time, everything held back so far), so that the daemon's first poll is one
    long ingest, and kills when a webhook for one of them arrives whose delivery the store
    has not committed (read from a read-only connection, which sees commits only): with
    deliveries committed before they are sent, that never happens and the daemon runs its
    time. It stops as soon as a webhook-id was lost."""
    for attempt in range(PROVOKE_TRIES):
        _serve(scene.feeds, scene.items, LEVELS + 1 + attempt, scene.now)
        titles = {
            item.story.title for item in scene.items if item.story.key.startswith(f"p{attempt}-")
        }
        _wait_until_all_due(scene)  # one long ingest
        process = _start(scene, ["-m", "syndicator", "--config", str(scene.config), "run"])

        scene.hooks.arm(Trap(process, "request", wanted=_uncommitted(scene.database, titles)))
        started = time.monotonic()
        trigger = "provoked"
        try:
            process.wait(timeout=PROVOKE_WITHIN_S)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            trigger = "provoked, gave up"
        scene.hooks.arm(None)
        code = _reap(scene, process)
        scene.provoked += 1
        phase = ("delivery" if trigger == "provoked" else "unknown") if code < 0 else None
        scene.rounds.append(Round("run", trigger, code, phase, time.monotonic() - started))
        lost = len(scene.lost_ids)
        _check_round(scene, f"provoked daemon kill {attempt + 1}")
        if len(scene.lost_ids) > lost:
            return


def _uncommitted(database: Path, titles: set[str]) -> Callable[[Attempt], bool]:
    """Whether an attempt is for one of these stories, in a delivery not committed yet."""

    def wanted(attempt: Attempt) -> bool:
        query = "SELECT COUNT(*) FROM deliveries WHERE id = ?"
        return attempt.title in titles and not _read(database, query, (attempt.webhook_id,))[0][0]

    return wanted


def _finish(scene: Scene, zygote: Zygote) -> None:
    """Serve everything; clean `run --once` runs until one changes nothing (that last run
    is the one more run that must create nothing)."""
    _serve(scene.feeds, scene.items, 10**6, scene.now)
    scene.hooks.arm(None)
    previous = None
    for runs in range(1, FINAL_RUNS + 1):
        _wait_until_all_due(scene)
        code = _reap(scene, zygote.fork(["--config", str(scene.config), "run", "--once"]))
        assert code == 0, scene.log.read_text(errors="replace")[-3000:]
        _check_round(scene, f"finishing run {runs}")
        state = _read(
            scene.database,
            "SELECT (SELECT COUNT(*) FROM stories), (SELECT COUNT(*) FROM clusters), "
            "(SELECT group_concat(id || status) FROM outbox), "
            "(SELECT COUNT(*) FROM deliveries WHERE status = 'pending')",
        )
        scene.finishing_runs = runs
        if state == previous and state[0][3] == 0:
            scene.stable = True
            return
        previous = state


def _wait_until_all_due(scene: Scene) -> None:
    [(last,)] = _read(scene.database, "SELECT MAX(next_poll_at) FROM sources")
    if last is not None:
        due = datetime.fromisoformat(str(last)) - datetime.now(UTC)
        time.sleep(max(0.0, due.total_seconds()) + 0.05)


# -- checks after every round -------------------------------------------------------------------


def _read(database: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    db = sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


KEPT = {  # rows that, once committed, must stay (retention is off)
    "stories": "SELECT source_id, guid_key FROM stories",
    "matches": "SELECT rule, cluster_id FROM alert_matches",
    "outbox rows": "SELECT rule, cluster_id, channel FROM outbox",
    "deliveries": "SELECT id FROM deliveries",
}


def _check_round(scene: Scene, where: str) -> None:
    """The invariants that must hold after every kill. Problems are collected, not raised:
    the run goes on, and the report lists all of them."""
    if not scene.database.exists():
        return
    verdict = _read(scene.database, "PRAGMA integrity_check")
    if verdict != [("ok",)]:
        scene.problems.append(f"{where}: integrity_check says {verdict}")
    for name, sql in KEPT.items():
        rows = set(_read(scene.database, sql))
        gone = scene.seen[name] - rows
        if gone:
            some = sorted(gone, key=repr)[:3]
            scene.problems.append(f"{where}: {len(gone)} {name} gone, as {some}")
        scene.seen[name] |= rows
    statuses = {
        str(k): str(v) for k, v in _read(scene.database, "SELECT id, status FROM deliveries")
    }
    reverted = {k: v for k, v in scene.finished.items() if statuses.get(k) != v}
    if reverted:
        scene.problems.append(f"{where}: deliveries no longer finished: {reverted}")
    scene.finished |= {k: v for k, v in statuses.items() if v in ("sent", "dead")}
    lost = {a.webhook_id for a in scene.hooks.attempts} - set(statuses) - scene.lost_ids
    if lost:
        scene.lost_ids |= lost
        titles = sorted({a.title for a in scene.hooks.attempts if a.webhook_id in lost})
        scene.hook_problems.append(
            f"{where}: {len(lost)} webhook-id(s) went out and are not stored: {titles}"
        )
    split = {key: ids for key, ids in _clusters_of(scene).items() if len(ids) > 1}
    if split:
        scene.problems.append(f"{where}: a story's copies in several clusters: {split}")
    scene.problems.extend(f"{where}: {problem}" for problem in _check_files(scene))


def _stored(scene: Scene) -> list[tuple[str, int, str, str]]:
    """(story key, cluster id, text, guid) of every stored story."""
    key_of = {(item.source, item.guid): item.story.key for item in scene.items}
    source_of = {scene.feeds.url(_feed_path(s)): s for s in range(SOURCES)}
    rows = _read(
        scene.database,
        "SELECT so.config_url, st.guid, st.cluster_id, st.text FROM stories st "
        "JOIN sources so ON so.id = st.source_id",
    )
    return [
        (
            key_of.get((source_of[str(url)], str(guid)), f"? {guid}"),
            int(str(cluster)),
            str(text),
            str(guid),
        )
        for url, guid, cluster, text in rows
    ]


def _clusters_of(scene: Scene) -> dict[str, set[int]]:
    clusters: dict[str, set[int]] = defaultdict(set)
    for key, cluster_id, *_ in _stored(scene):
        clusters[key].add(cluster_id)
    return clusters


def _check_files(scene: Scene) -> list[str]:
    """Every file written since the last check is complete, and each entry id in it names
    the story it named before."""
    problems = []
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    for path in sorted(scene.output.rglob("*")):
        if not path.is_file() or path.suffix not in (".atom", ".json", ".opml", ".html"):
            continue
        info = path.stat()
        if scene.checked.get(path) == (info.st_mtime_ns, info.st_size):
            continue
        scene.checked[path] = (info.st_mtime_ns, info.st_size)
        name = str(path.relative_to(scene.output))
        data = path.read_bytes()
        try:
            if path.suffix == ".opml":
                etree.fromstring(data, parser)
            elif path.suffix == ".atom":
                root = etree.fromstring(data, parser)
                assert root.tag == f"{ATOM}feed", f"root {root.tag}"
                entries = [
                    (e.findtext(f"{ATOM}id"), e.findtext(f"{ATOM}title"))
                    for e in root.iter(f"{ATOM}entry")
                ]
                problems += _same_titles(scene, name, entries)
            elif path.suffix == ".json":
                items = json.loads(data)["items"]
                problems += _same_titles(scene, name, [(i["id"], i.get("title")) for i in items])
            else:
                assert data.rstrip().endswith(b"</html>"), "cut short"
        except (etree.XMLSyntaxError, ValueError, KeyError, AssertionError) as e:
            problems.append(f"{name}: not a complete document: {type(e).__name__}: {e}")
    return problems


def _same_titles(
    scene: Scene, name: str, entries: list[tuple[str | None, str | None]]
) -> list[str]:
    problems = []
    for entry_id, title in entries:
        if not entry_id or not title:
            problems.append(f"{name}: an entry without an id or a title")
            continue
        first = scene.entry_titles.setdefault(entry_id, title)
        if first != title:
            problems.append(f"{name}: entry {entry_id} was {first!r}, now {title!r}")
    return problems


# -- the scenario, run once for the tests below -------------------------------------------------


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Scene:
    started = time.monotonic()
    rnd = random.Random(SEED)
    items = _items(rnd)
    matched = sorted(
        {i.story.title for i in items if i.story.alerts and not i.story.key.startswith("p")}
    )
    hooks = Hooks(set(rnd.sample(matched, REJECTED)))
    feeds = FeedServer()
    feeds.start()
    tmp = tmp_path_factory.mktemp("crash")
    scene = Scene(tmp, feeds, hooks, items, rnd, datetime.now(UTC).replace(microsecond=0))
    _write_config(scene)
    zygote = Zygote(scene)
    try:
        _kill_phase(scene, zygote)
        scene.seconds["kills"] = time.monotonic() - started
        # Nothing left over for the provoked daemon to publish or deliver first.
        assert _reap(scene, zygote.fork(["--config", str(scene.config), "run", "--once"])) == 0
        _provoke(scene)
        _finish(scene, zygote)
    finally:
        zygote.close()
        hooks.stop()
        feeds.stop()
    scene.seconds["all"] = time.monotonic() - started
    return scene


def test_sigkill_rounds_keep_the_store_and_the_feeds_whole(scene: Scene) -> None:
    summary = scene.summary()
    print(f"\n{summary}")
    print("\n".join(f"  {i + 1:2d}. {r}" for i, r in enumerate(scene.rounds)))
    assert all(r.code in (0, -signal.SIGKILL) for r in scene.rounds), summary
    assert sum(scene.kills.values()) >= MIN_KILLS, summary
    assert all(scene.kills[phase] >= MIN_PER_PHASE for phase in PHASES), summary
    assert any(r.temp_left for r in scene.rounds), f"{summary}: no kill landed mid-write"
    assert scene.orphans == 0, summary
    assert scene.stable, f"{summary}: still changing after {FINAL_RUNS} clean runs"
    assert "Traceback" not in scene.log.read_text(errors="replace")
    assert not scene.problems, f"{summary}\n" + "\n".join(scene.problems[:20])
    assert _read(scene.database, "PRAGMA integrity_check") == [("ok",)]
    assert _read(scene.database, "PRAGMA foreign_key_check") == []
    stories = _check_stories(scene)
    cluster_of = _check_clusters(scene)
    matches, deliveries = _check_alerts(scene, cluster_of)
    temp = _check_feeds(scene, matches)
    attempts = scene.hooks.attempts
    ids = Counter(a.webhook_id for a in attempts)
    acknowledged = Counter(a.webhook_id for a in attempts if a.status == 204)
    print(
        f"{stories} stories in {len(set(cluster_of.values()))} clusters; {len(matches)} "
        f"matches, deliveries {dict(Counter(deliveries.values()))}; {len(attempts)} webhook "
        f"requests for {len(ids)} webhook-ids: {sum(ids.values()) - len(ids)} repeats of an "
        f"id ({sum(n - 1 for n in acknowledged.values())} after a 2xx), "
        f"{len(scene.lost_ids)} ids lost; {len(temp)} temporary file(s) left by kills; "
        f"{scene.finishing_runs} finishing runs; {scene.seconds['kills']:.0f}s of kills, "
        f"{scene.seconds['all']:.0f}s in all"
    )
    print("\n".join(scene.hook_problems))


def _check_stories(scene: Scene) -> int:
    """Every entry served is stored, once, with its last edit."""
    stored = _stored(scene)
    item_of = {item.guid: item for item in scene.items}
    assert sorted(guid for *_, guid in stored) == sorted(item_of)
    unedited = [
        guid
        for _, _, text, guid in stored
        if item_of[guid].story.edit and item_of[guid].story.edit.rstrip(".") not in text
    ]
    assert not unedited, f"edits not stored: {unedited}"
    return len(stored)


def _check_clusters(scene: Scene) -> dict[str, int]:
    """One cluster per story, with all its copies and nothing else; returns them by story."""
    clusters = _clusters_of(scene)
    stories_in: dict[int, set[str]] = defaultdict(set)
    for key, ids in clusters.items():
        assert len(ids) == 1, f"{key} in clusters {ids}"
        stories_in[next(iter(ids))].add(key)
    merged = {cluster: keys for cluster, keys in stories_in.items() if len(keys) > 1}
    assert not merged, f"stories merged into one cluster: {merged}"
    [(count,)] = _read(scene.database, "SELECT COUNT(*) FROM clusters")
    assert count == len(clusters) == len({i.story.key for i in scene.items})
    return {key: next(iter(ids)) for key, ids in clusters.items()}


def _check_alerts(
    scene: Scene, cluster_of: dict[str, int]
) -> tuple[set[tuple[str, int]], dict[str, str]]:
    """Each story matched once per alert it matches, each match sent or dead, and the
    webhooks: signed, every delivery seen under its id, a sent one acknowledged, a dead one
    refused (that each story went out under one id is the next test's)."""
    database = scene.database
    expected = {(alert, cluster_of[i.story.key]) for i in scene.items for alert in i.story.alerts}
    assert set(_read(database, "SELECT rule, cluster_id FROM alert_matches")) == expected
    outbox = _read(database, "SELECT rule, cluster_id, channel, status FROM outbox")
    assert sorted((r, c) for r, c, *_ in outbox) == sorted(expected)
    assert {status for *_, status in outbox} <= {"sent", "dead"}, Counter(s for *_, s in outbox)
    title_of = {cluster_of[i.story.key]: i.story.title for i in scene.items}
    dead = {
        title_of[int(str(cluster))]
        for (cluster,) in _read(database, "SELECT cluster_id FROM outbox WHERE status = 'dead'")
    }
    assert dead == scene.hooks.rejected
    deliveries = {str(k): str(v) for k, v in _read(database, "SELECT id, status FROM deliveries")}
    attempts = scene.hooks.attempts
    assert attempts
    assert all(a.signed for a in attempts), "a signature did not verify"
    answers: dict[str, set[int]] = defaultdict(set)
    for attempt in attempts:
        answers[attempt.webhook_id].add(attempt.status)
    for delivery_id, status in deliveries.items():
        assert answers[delivery_id] == ({204} if status == "sent" else {400}), delivery_id
    return expected, deliveries


def _check_feeds(scene: Scene, matches: set[tuple[str, int]]) -> list[Path]:
    """Each alert's feed lists all its matches (every file was checked whole after every
    round); what temporary files there are come from `write_atomically`. Returns them."""
    for alert in ALERTS:
        feed = etree.parse(str(scene.output / "feeds" / "alerts" / f"{alert}.atom"))
        entries = feed.getroot().findall(f"{ATOM}entry")
        assert len(entries) == sum(1 for a, _ in matches if a == alert)
    temp = scene.temp_files()
    strays = [p for p in temp if not (m := TEMP_NAME.match(p.name)) or not m["target"]]
    assert not strays, f"temporary files not of write_atomically's making: {strays}"
    return temp


def test_every_alert_goes_out_under_one_webhook_id(scene: Scene) -> None:
    """Every webhook-id that went out is a stored delivery (after every kill, and at the
    end), each story is alerted under one webhook-id (a repeat carries the same one), and
    under the cluster id it is stored in."""
    attempts = scene.hooks.attempts
    assert not scene.hook_problems, "\n".join(scene.hook_problems)
    ids_of: dict[tuple[str, str], set[str]] = defaultdict(set)
    clusters_of: dict[str, set[int]] = defaultdict(set)
    for attempt in attempts:
        ids_of[attempt.alert, attempt.title].add(attempt.webhook_id)
        clusters_of[attempt.title].add(attempt.cluster_id)
    doubled = {key: ids for key, ids in ids_of.items() if len(ids) > 1}
    assert not doubled, f"stories alerted under several webhook-ids: {doubled}"
    deliveries = {str(k) for (k,) in _read(scene.database, "SELECT id FROM deliveries")}
    assert {a.webhook_id for a in attempts} == deliveries
    stored = {
        str(title): {int(str(cluster))}
        for title, cluster in _read(scene.database, "SELECT title, id FROM clusters")
    }
    moved = {t: ids for t, ids in clusters_of.items() if stored.get(t) != ids}
    assert not moved, f"alerted under another cluster id than stored: {moved}"


def test_no_temporary_file_outlives_a_kill(scene: Scene) -> None:
    assert any(r.temp_left for r in scene.rounds), "no kill landed mid-write"
    assert scene.temp_files() == []
