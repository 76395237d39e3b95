"""`syndicator run` as a real daemon process: serves feeds, reloads on SIGHUP, stops on SIGTERM."""

from __future__ import annotations

import io
import json
import logging
import re
import shutil
import signal
import socket
import sqlite3
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path

import pytest

from syndicator.daemon import TerminalProgress, _log_cycle, hold_lock
from syndicator.models import CycleReport, SourceOutcome
from tests.atom_checks import check_atom
from tests.conftest import ROOT, FeedServer, Route, rss, syndicator, write_config
from tests.processes import Running

ITEMS = [{"title": "Troops leave Kazakhstan", "guid": "w-1", "link": "https://wire.example/1"}]


@pytest.fixture
def daemon(tmp_path: Path, feed_server: FeedServer) -> Iterator[tuple[Running, str, Path]]:
    feed_server.routes["/wire.rss"] = Route(rss(ITEMS), etag='"v1"')
    config = write_config(tmp_path, [feed_server.url("/wire.rss")])
    running = Running(["--config", str(config), "run"], cwd=tmp_path)
    try:
        base = running.wait_for(r"feeds at (http://127\.0\.0\.1:\d+/)").group(1)
        running.wait_for(r"cycle: 1 source\(s\) polled, 0 failed, 1 new stories")
        # Published by the poll, or by the publish job's next tick if the start-up publish
        # was still running then: wait for the story itself, not for a log line.
        deadline = time.monotonic() + 30
        while b"Troops leave Kazakhstan" not in _get(base + "feeds/all.atom")[1]:
            assert time.monotonic() < deadline, "the first poll's story never reached the feed"
            time.sleep(0.1)
        yield running, base, config
    finally:
        running.kill()


def _wait_for_a_fetch(feed_server: FeedServer, paths: list[str]) -> None:
    """Until the daemon has asked for one of `paths` (at most 10 s)."""
    deadline = time.monotonic() + 10
    while not any(map(feed_server.requests_to, paths)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert any(map(feed_server.requests_to, paths)), "the daemon never started a fetch"


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, Message]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers


def test_daemon_serves_feeds_and_stops_cleanly_on_sigterm(
    daemon: tuple[Running, str, Path], tmp_path: Path
) -> None:
    running, base, _ = daemon
    status, body, headers = _get(base + "feeds/all.atom")
    assert status == 200
    assert headers["Content-Type"].startswith("application/atom+xml")
    (tmp_path / "served.atom").write_bytes(body)
    assert len(check_atom(tmp_path / "served.atom")) == 1
    again, _, _ = _get(base + "feeds/all.atom", {"If-None-Match": headers["ETag"]})
    assert again == 304
    index_status, index, _ = _get(base)
    assert index_status == 200
    assert b"feeds/all.atom" in index
    health = json.loads(_get(base + "healthz")[1])
    assert health["status"] == "ok"
    assert health["stories"] == 1
    assert _get(base + "feeds/../../etc/passwd")[0] == 404

    assert running.stop(signal.SIGTERM) == 0
    running.wait_for("stopped")
    assert not any("Traceback" in line for line in running.seen)


def test_sighup_reloads_and_a_bad_config_is_refused(daemon: tuple[Running, str, Path]) -> None:
    running, _, config = daemon
    text = config.read_text()
    bad = '\n[[sections]]\nslug = "BAD SLUG"\n[[sections]]\nslug = "x"\nmax_entries = 0\n'
    config.write_text(text + bad)
    running.process.send_signal(signal.SIGHUP)
    refused = running.wait_for_next("reload refused, keeping the running configuration").string
    # Every problem on the one line: they came as lines of their own, without time or level,
    # which journald and `grep ERROR` keep apart from the refusal.
    assert "sections[0].slug" in refused
    assert "sections[1].max_entries" in refused
    config.write_text(text + '\n[[sections]]\nslug = "second"\n')
    running.process.send_signal(signal.SIGHUP)
    running.wait_for_next(r"configuration reloaded")
    assert running.stop(signal.SIGINT) == 0
    running.wait_for("stopped")
    event = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|WARNING|ERROR) ")
    assert all(event.match(line) for line in running.seen), running.seen


def test_sighup_adds_and_removes_sources(
    daemon: tuple[Running, str, Path], feed_server: FeedServer
) -> None:
    running, base, config = daemon
    feed_server.routes["/second.rss"] = Route(
        rss([{"title": "Second source story", "guid": "s-1", "link": "https://two.example/1"}])
    )
    text = config.read_text()
    added = text.replace(
        f'url = "{feed_server.url("/wire.rss")}"', f'url = "{feed_server.url("/second.rss")}"'
    )
    config.write_text(added)  # the wire source removed, the second one added
    running.process.send_signal(signal.SIGHUP)
    running.wait_for_next("configuration reloaded")
    running.wait_for_next(r"cycle: 1 source\(s\) polled, 0 failed, 1 new stories")
    polls_of_wire = len(feed_server.requests_to("/wire.rss"))
    assert len(feed_server.requests_to("/second.rss")) == 1
    health = json.loads(_get(base + "healthz")[1])
    assert health["stories"] == 2  # the removed source's story stays
    assert running.stop(signal.SIGTERM) == 0
    assert len(feed_server.requests_to("/wire.rss")) == polls_of_wire


def test_sighup_after_writing_a_moved_source_s_new_url_into_the_config(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """The log says a source moved (301); the operator writes the new URL into the config
    and reloads. The reload raised (a traceback in the log, the new settings half applied)
    and the next start failed, both on the database's UNIQUE url: the source is polled
    there already. It is the same source, with its stories."""
    feed_server.routes["/old.rss"] = Route(status=301, headers={"Location": "/wire.rss"})
    feed_server.routes["/wire.rss"] = Route(rss(ITEMS), etag='"v1"')
    config = write_config(tmp_path, [feed_server.url("/old.rss")])
    running = Running(["--config", str(config), "run"], cwd=tmp_path)
    try:
        running.wait_for(r"cycle: 1 source\(s\) polled, 0 failed, 1 new stories")
        assert running.wait_for(r"moved to (\S+)").group(1) == feed_server.url("/wire.rss")
        config.write_text(
            config.read_text().replace(feed_server.url("/old.rss"), feed_server.url("/wire.rss"))
        )
        running.process.send_signal(signal.SIGHUP)
        running.wait_for_next("configuration reloaded")
        assert running.stop(signal.SIGTERM) == 0
    finally:
        running.kill()
    assert not any("Traceback" in line for line in running.seen), running.seen
    assert any("was configured as " + feed_server.url("/old.rss") in line for line in running.seen)
    status = syndicator("--config", str(config), "status", "--json", cwd=tmp_path)
    [source] = json.loads(status.stdout)
    assert (source["url"], source["state"], source["stories"]) == (
        feed_server.url("/wire.rss"),
        "ok",
        1,
    )


def test_sighup_moves_the_served_output_dir_and_base_url(
    daemon: tuple[Running, str, Path], tmp_path: Path
) -> None:
    """The server follows a reloaded `publish.output_dir` (it served the old one, stale,
    while the feeds went to the new one), once the feeds are published there."""
    running, base, config = daemon
    moved = tmp_path / "moved"
    text = config.read_text()
    text = text.replace(f'output_dir = "{tmp_path / "feeds"}"', f'output_dir = "{moved}"')
    config.write_text(text.replace("http://feeds.test/", "http://moved.test/"))
    running.process.send_signal(signal.SIGHUP)
    running.wait_for_next(f"serving the feeds from {moved} now")
    shutil.rmtree(tmp_path / "feeds")  # nothing is served from the old directory any more
    status, body, _ = _get(base + "feeds/all.atom")
    assert status == 200
    assert b"Troops leave Kazakhstan" in body
    assert b"http://moved.test/" in body
    assert b"http://feeds.test/" not in body
    assert body == (moved / "feeds" / "all.atom").read_bytes()
    assert b"http://moved.test/feeds/all.atom" in _get(base)[1]  # the index
    assert json.loads(_get(base + "healthz")[1])["status"] == "ok"
    assert running.stop(signal.SIGTERM) == 0


def test_sighup_warns_only_about_what_needs_a_restart(daemon: tuple[Running, str, Path]) -> None:
    """Compared with what runs, not with the last reload; `storage.retention` applies at once."""
    running, _, config = daemon
    original = config.read_text()

    def reload(text: str) -> list[str]:
        config.write_text(text)
        seen = len(running.seen)
        running.process.send_signal(signal.SIGHUP)
        running.wait_for_next("configuration reloaded")
        return [line for line in running.seen[seen:] if "restart" in line]

    database = f'path = "{config.parent / "db" / "syndicator.db"}"'
    assert reload(original.replace(database, database + '\nretention = "30d"')) == []
    [warning] = reload(original.replace("port = 0", "port = 1"))
    assert "WARNING" in warning
    assert "server.port = 1 takes effect only after a restart (running with 0)" in warning
    assert "storage" not in warning
    assert reload(original) == []  # back to what runs: nothing waits for a restart
    assert running.stop(signal.SIGTERM) == 0


def test_a_shortened_retention_applies_at_the_reload(
    daemon: tuple[Running, str, Path], tmp_path: Path
) -> None:
    """The operator shortens `storage.retention` (the disk fills up): the stories past it
    were removed by the hourly job, up to an hour after the reload; now at once, and gone
    from the feeds too."""
    running, base, config = daemon
    time.sleep(1.1)  # the story was first seen more than a second ago
    database = f'path = "{tmp_path / "db" / "syndicator.db"}"'
    config.write_text(config.read_text().replace(database, database + '\nretention = "1s"'))
    running.process.send_signal(signal.SIGHUP)
    running.wait_for_next(r"retention: removed 1 story cluster", timeout=10)
    deadline = time.monotonic() + 10
    while b"Troops leave Kazakhstan" in _get(base + "feeds/all.atom")[1]:
        assert time.monotonic() < deadline, "the removed story stayed in the feed"
        time.sleep(0.1)
    assert running.stop(signal.SIGTERM) == 0


def test_sigterm_during_a_hanging_fetch_exits_within_10_seconds(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.routes["/hang"] = Route(hang=True)
    config = write_config(tmp_path, [feed_server.url("/hang")])
    config.write_text(config.read_text().replace('timeout = "5s"', 'timeout = "60s"'))
    running = Running(["--config", str(config), "run"], cwd=tmp_path)
    try:
        running.wait_for(r"feeds at http://")
        _wait_for_a_fetch(feed_server, ["/hang"])
        started = time.monotonic()
        assert running.stop(signal.SIGTERM) == 0
        assert time.monotonic() - started < 10
        running.wait_for("stopped")
    finally:
        running.kill()
    # A stop that cuts a fetch short is routine (every `systemctl stop` during a poll): one
    # line says so, and nothing is logged as an error.
    assert not [line for line in running.seen if "ERROR" in line or "Traceback" in line]
    cut = [line for line in running.seen if "stopping: after 8 s" in line]
    assert len(cut) == 1, running.seen
    assert "INFO" in cut[0]
    assert "1 of 1 due source(s) not polled" in cut[0]


def test_sigterm_lets_a_slow_fetch_in_flight_finish(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Graceful: a fetch that answers within the shutdown grace is stored, not cut short."""
    feed_server.routes["/slow"] = Route(rss(ITEMS), delay_s=2)
    config = write_config(tmp_path, [feed_server.url("/slow")])
    running = Running(["--config", str(config), "run"], cwd=tmp_path)
    try:
        running.wait_for(r"feeds at http://")
        _wait_for_a_fetch(feed_server, ["/slow"])
        assert running.stop(signal.SIGTERM) == 0
        running.wait_for("stopped")
    finally:
        running.kill()
    log = "".join(running.seen)
    assert "cycle: 1 source(s) polled, 0 failed, 1 new stories in " in log
    assert "file(s) written" not in log  # the daemon publishes in its own job, and says so
    assert "stopping: after" not in log
    assert "ERROR" not in log


def test_sigterm_starts_no_new_fetch(tmp_path: Path, feed_server: FeedServer) -> None:
    """A stop lets the fetch in flight finish but starts none of the sources still due: they
    stay due for the next start, and the stop does not wait for them."""
    paths = [f"/slow{i}" for i in range(4)]
    for i, path in enumerate(paths):
        items = [{"title": f"Story {i}", "guid": f"s-{i}", "link": f"https://w.example/{i}"}]
        feed_server.routes[path] = Route(rss(items), delay_s=1.5)
    config = write_config(tmp_path, [feed_server.url(path) for path in paths])
    config.write_text(
        config.read_text().replace('timeout = "5s"', 'timeout = "5s"\nconcurrency = 1')
    )
    running = Running(["--config", str(config), "run"], cwd=tmp_path)
    try:
        running.wait_for(r"feeds at http://")
        _wait_for_a_fetch(feed_server, paths)
        started = time.monotonic()
        assert running.stop(signal.SIGTERM) == 0
        assert time.monotonic() - started < 6  # one fetch's 1.5 s, not four
        running.wait_for("stopped")
    finally:
        running.kill()
    assert sum(len(feed_server.requests_to(path)) for path in paths) == 1
    log = "".join(running.seen)
    assert "cycle: 1 source(s) polled, 0 failed, 1 new stories" in log
    assert "stopping: 3 of 4 due source(s) not polled" in log
    assert "stopping: after" not in log  # nothing was cut short
    assert "ERROR" not in log


def test_a_slow_source_does_not_hold_back_the_others_stories(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """The stories of the sources a poll has done are published while it waits for a slow
    one, at the publish job's next tick, not when the whole poll is over."""
    fast = [{"title": "Fast wire story", "guid": "f-1", "link": "https://fast.example/1"}]
    slow = [{"title": "Slow blog story", "guid": "s-1", "link": "https://slow.example/1"}]
    feed_server.routes["/fast"] = Route(rss(fast))
    feed_server.routes["/slow"] = Route(rss(slow), delay_s=12)
    config = write_config(tmp_path, [feed_server.url("/fast"), feed_server.url("/slow")])
    config.write_text(config.read_text().replace('timeout = "5s"', 'timeout = "20s"'))
    running = Running(["--config", str(config), "run"], cwd=tmp_path)
    try:
        base = running.wait_for(r"feeds at (http://127\.0\.0\.1:\d+/)").group(1)
        deadline = time.monotonic() + 10
        while b"Fast wire story" not in _get(base + "feeds/all.atom")[1]:
            assert time.monotonic() < deadline, "the fast source waited for the slow one"
            time.sleep(0.1)
        assert b"Slow blog story" not in _get(base + "feeds/all.atom")[1]
        assert not [line for line in running.seen if "cycle:" in line]  # the poll goes on
        running.wait_for(r"cycle: 2 source\(s\) polled, 0 failed, 2 new stories")
        assert running.stop(signal.SIGTERM) == 0
    finally:
        running.kill()


def test_progress_bar_only_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        progress = TerminalProgress("polling", stream=stream, threshold=3)
        for done in range(1, 5):
            progress(done, 4)
    assert "polling [" in terminal.getvalue()
    assert terminal.getvalue().endswith("4/4\n")
    assert pipe.getvalue() == ""
    small = Terminal()
    TerminalProgress("polling", stream=small, threshold=3)(1, 2)
    assert small.getvalue() == ""


def _hold_write_lock(database: Path) -> sqlite3.Connection:
    """Another process's writer (`syndicator retag`, a `sqlite3` shell) holding the lock."""
    other = sqlite3.connect(database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    return other


def _change_the_wire_while_locked(feed_server: FeedServer) -> None:
    """Give the wire a second story, and wait (at most 10 s) for the daemon to fetch it:
    its write then waits for the lock, or fails."""
    fetched = len(feed_server.requests_to("/wire.rss"))
    second = {"title": "Floods in Almaty", "guid": "w-2", "link": "https://wire.example/2"}
    feed_server.routes["/wire.rss"] = Route(rss([*ITEMS, second]))
    deadline = time.monotonic() + 10
    while len(feed_server.requests_to("/wire.rss")) <= fetched:
        assert time.monotonic() < deadline, "no fetch while locked"
        time.sleep(0.05)


@pytest.fixture
def polling_daemon(tmp_path: Path, feed_server: FeedServer) -> Iterator[Running]:
    """A daemon polling one source every second, its first story stored."""
    feed_server.routes["/wire.rss"] = Route(rss(ITEMS))
    config = write_config(tmp_path, [(feed_server.url("/wire.rss"), 'interval = "1s"')])
    running = Running(["--config", str(config), "run"], cwd=tmp_path)
    try:
        running.wait_for(r"cycle: 1 source\(s\) polled, 0 failed, 1 new stories")
        running.wait_for_next(r"published \d+ file")  # its story is out: nothing to write
        yield running
    finally:
        running.kill()


def test_a_write_lock_held_elsewhere_stalls_nothing_and_loses_no_story(
    polling_daemon: Running, tmp_path: Path, feed_server: FeedServer
) -> None:
    """Another writer holds the database for 2.5 s. A store reads, then writes, and SQLite
    never waits to upgrade a read: every poll and publish failed at once, whatever the busy
    timeout, each with a 40-line chained traceback. Now a write takes the lock first and
    waits for it briefly (the wait blocks the event loop: the HTTP server still answers),
    a longer hold is one line per job, and the story is stored once the lock is free."""
    running = polling_daemon
    base = running.wait_for(r"feeds at (http://127\.0\.0\.1:\d+/)").group(1)
    other = _hold_write_lock(tmp_path / "db" / "syndicator.db")
    try:
        _change_the_wire_while_locked(feed_server)
        started = time.monotonic()
        _get(base + "healthz")
        assert time.monotonic() - started < 2, "the HTTP server waited for the lock"
        time.sleep(1)
    finally:
        other.execute("COMMIT")
        other.close()
    running.wait_for_next(r"cycle: 1 source\(s\) polled, 0 failed, 1 new stories", timeout=20)
    assert running.stop(signal.SIGTERM) == 0
    assert not [line for line in running.seen if "Traceback" in line], running.seen
    errors = [line for line in running.seen if "ERROR" in line]
    assert all("syndicator.db: database is locked" in line for line in errors), errors


def test_a_lock_file_removed_by_hand_is_made_and_held_again(
    polling_daemon: Running, tmp_path: Path
) -> None:
    """The lock file stays after every run with an old pid in it, and looks stale: removed
    while the daemon ran, a cron `run --once` locked a new file of that name and polled,
    published and delivered beside the daemon. The daemon now locks the new file itself."""
    running = polling_daemon
    (tmp_path / "db" / "syndicator.db.lock").unlink()
    running.wait_for_next(r"WARNING .*run lock file .* was removed; it is made and held again")
    config = tmp_path / "syndicator.toml"
    late = syndicator("--config", str(config), "run", "--once", cwd=tmp_path)
    assert late.returncode == 1, late.stderr
    assert f"locked by pid {running.process.pid}" in late.stderr


def test_a_daemon_whose_lock_file_another_run_took_writes_nothing_meanwhile(
    polling_daemon: Running, tmp_path: Path, feed_server: FeedServer
) -> None:
    """If another run locked the new file first, the daemon stops writing (no poll, publish
    or delivery) and /healthz says why, until it can take the lock again."""
    running = polling_daemon
    base = running.wait_for(r"feeds at (http://127\.0\.0\.1:\d+/)").group(1)
    lock = tmp_path / "db" / "syndicator.db.lock"
    replacement = tmp_path / "db" / "other.lock"
    with hold_lock(replacement):  # another run's lock, put in place in one step
        replacement.replace(lock)
        running.wait_for_next(r"ERROR .*another run has locked the new one")
        polls = len(feed_server.requests_to("/wire.rss"))
        time.sleep(2.5)  # a source due every second: two ticks without a poll
        assert len(feed_server.requests_to("/wire.rss")) == polls
        status, body, _ = _get(base + "healthz")
        assert status == 503
        assert "held by another run" in json.loads(body)["checks"]["database"]["error"]
    running.wait_for_next("the run lock is this daemon's again")
    running.wait_for_next(r"cycle: 1 source\(s\) polled")
    assert running.stop(signal.SIGTERM) == 0


def test_systemd_hears_ready_once_the_daemon_serves_and_a_failed_start_never_is(
    tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under `Type=simple`, `systemctl start` reported success for a daemon that exited a
    moment later (the port taken, the lock held by a cron run); Restart= then looped it
    quietly. The unit is `Type=notify` now, and the daemon says READY=1 on systemd's socket
    only once it serves (here: the test's socket, as systemd's would be)."""
    unit = (ROOT / "deploy" / "syndicator.service").read_text()
    assert re.search(r"^Type=notify$", unit, re.MULTILINE)
    feed_server.routes["/wire.rss"] = Route(rss(ITEMS))
    config = write_config(tmp_path, [feed_server.url("/wire.rss")])
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(str(tmp_path / "notify"))
        systemd.settimeout(30)
        monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
        running = Running(["--config", str(config), "run"], cwd=tmp_path)
        try:
            assert systemd.recv(4096) == b"READY=1"
            base = running.wait_for(r"feeds at (http://127\.0\.0\.1:\d+/)").group(1)
            assert _get(base + "healthz")[0] == 200  # it serves by then
            # A second daemon on the same store: refused by the lock, it never says READY.
            second = syndicator("--config", str(config), "run", cwd=tmp_path)
            assert second.returncode == 1
            assert running.stop(signal.SIGTERM) == 0
            assert systemd.recv(4096) == b"STOPPING=1"
            systemd.settimeout(0.5)
            with pytest.raises(TimeoutError):
                systemd.recv(4096)
        finally:
            running.kill()


def test_a_daemon_that_cannot_listen_says_why_and_not_stopped(tmp_path: Path) -> None:
    """With its port taken, `run` logged "stopped" before the error line, as if it had run
    and been stopped: a start that fails says only why."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "c.toml"
        config.write_text(
            f'[storage]\npath = "{tmp_path / "db" / "s.db"}"\n'
            f'[publish]\noutput_dir = "{tmp_path / "feeds"}"\n'
            f'[server]\nhost = "127.0.0.1"\nport = {port}\n',
            encoding="utf-8",
        )
        result = syndicator("--config", str(config), "run", cwd=tmp_path)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "stopped" not in result.stderr
    assert "Traceback" not in result.stderr


def test_the_cycle_line_counts_edited_stories_too(caplog: pytest.LogCaptureFixture) -> None:
    """After a correction the line said "0 new stories, 5 file(s) written"."""
    at = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    report = CycleReport(
        started_at=at,
        finished_at=at + timedelta(seconds=2),
        outcomes=(
            SourceOutcome("https://a.example/rss", "ok", new_stories=0, updated_stories=2),
            SourceOutcome("https://b.example/rss", "ok", new_stories=1),
        ),
        feeds_written=("feeds/all.atom",),
    )
    with caplog.at_level(logging.INFO, logger="syndicator"):
        _log_cycle(report)
    assert caplog.messages == [
        "cycle: 2 source(s) polled, 0 failed, 1 new stories, 2 updated, 1 file(s) written in 2.0s"
    ]
