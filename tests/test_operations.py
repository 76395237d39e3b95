"""Operations: online backup, vacuum, JSON logs, and the deploy files, through the CLI."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from syndicator import storage
from syndicator.daemon import hold_lock
from syndicator.logs import configure_logging
from syndicator.models import Story
from syndicator.storage import ConfiguredSource, open_store

from .conftest import ROOT, FeedServer, Route, rss, syndicator, write_config
from .processes import Running
from .test_alerts import Receiver

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _story(key: str) -> Story:
    url = f"https://a.example/{key}"
    text = f"story {key} " + " ".join(f"w{key}{n}" for n in range(40))
    return Story(
        source_id=1,
        guid_key=f"guid:{key}",
        guid=key,
        url=url,
        canonical_url=url,
        title=f"Title {key} " + " ".join(f"t{key}{n}" for n in range(4)),
        summary="s",
        content_html=f"<p>{text}</p>",
        text=text,
        author="",
        published_at=NOW,
        content_hash=key,
    )


def _config(tmp: Path) -> Path:
    return write_config(tmp, ["https://a.example/rss"])


def _db(tmp: Path) -> Path:
    return tmp / "db" / "syndicator.db"


def test_backup_is_consistent_while_a_writer_holds_a_transaction(tmp_path: Path) -> None:
    config = _config(tmp_path)
    store = open_store(_db(tmp_path))
    store.sync_sources([ConfiguredSource("https://a.example/rss", "A", "", True, None)], NOW)
    store.store_stories([_story(str(n)) for n in range(50)], NOW)
    store.begin_group()  # the daemon in the middle of a write group: uncommitted stories
    store.store_stories([_story(f"late{n}") for n in range(20)], NOW)
    target = tmp_path / "backup.db"
    result = syndicator("--config", str(config), "backup", str(target), cwd=tmp_path)
    store.end_group()
    store.close()
    assert result.returncode == 0, result.stderr
    assert "integrity ok" in result.stdout
    with sqlite3.connect(target) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute("SELECT COUNT(*) FROM stories").fetchone() == (50,)  # committed only
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # one file
    copy.close()
    again = syndicator("--config", str(config), "backup", str(target), cwd=tmp_path)
    assert again.returncode == 1
    assert "never overwrites" in again.stderr
    assert "Traceback" not in again.stderr


def test_a_backup_in_steps_ends_and_keeps_its_snapshot_while_a_writer_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite restarts a step-wise backup whose source another connection changed; the
    backup holds one read transaction, so commits between its steps change nothing."""
    monkeypatch.setattr(storage, "BACKUP_STEP_PAGES", 4)
    store = open_store(_db(tmp_path))
    store.sync_sources([ConfiguredSource("https://a.example/rss", "A", "", True, None)], NOW)
    store.store_stories([_story(str(n)) for n in range(200)], NOW)
    steps: list[tuple[int, int]] = []

    def writer_commits_between_steps(done: int, total: int) -> None:
        steps.append((done, total))
        if len(steps) < 50:
            store.store_stories([_story(f"during{len(steps)}")], NOW)  # committed

    target = tmp_path / "backup.db"
    storage.backup_database(_db(tmp_path), target, writer_commits_between_steps)
    store.close()
    assert len(steps) > 10
    assert steps[-1][0] == steps[-1][1]
    assert [total for _, total in steps] == [steps[0][1]] * len(steps)  # no restart, no growth
    with sqlite3.connect(target) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute("SELECT COUNT(*) FROM stories").fetchone() == (200,)
    copy.close()


def test_vacuum_compacts_and_respects_the_run_lock(tmp_path: Path) -> None:
    config = _config(tmp_path)
    store = open_store(_db(tmp_path))
    store.sync_sources([ConfiguredSource("https://a.example/rss", "A", "", True, None)], NOW)
    store.store_stories([_story(str(n)) for n in range(300)], NOW)
    store.db.execute("DELETE FROM stories")
    store.db.conn.commit()
    store.close()
    result = syndicator("--config", str(config), "vacuum", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    before, after = (int(n.replace(",", "")) for n in result.stdout.split()[1:5:3])
    assert after < before
    with hold_lock(_db(tmp_path).with_name("syndicator.db.lock")):  # a daemon is running
        locked = syndicator("--config", str(config), "vacuum", cwd=tmp_path)
    assert locked.returncode == 1
    assert "Traceback" not in locked.stderr


def test_json_logs_are_one_object_per_line(tmp_path: Path, feed_server: FeedServer) -> None:
    feed_server.routes["/w.xml"] = Route(body=rss([{"title": "A story", "guid": "1"}]))
    config = write_config(tmp_path, [feed_server.url("w.xml")])
    result = syndicator(
        "--log-format", "json", "--config", str(config), "run", "--once", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines
    events = [json.loads(line) for line in lines]
    assert {"time", "level", "logger", "message"} <= set(events[0])
    assert any("cycle" in event["message"] for event in events)


FORGED = "2026-01-01 00:00:00,000 ERROR   syndicator: forged line"
TEXT_EVENT = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|WARNING|ERROR) ")


def test_a_feed_title_with_a_line_break_forges_no_log_or_status_line(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A source without a configured name goes by its feed's title, which held a line break
    as sent: each log line naming the source, and its line of `status`, came in two, the
    second whatever the feed's author wrote (here a fake ERROR line)."""
    title = f"Evil&#10;{FORGED}"
    feed_server.routes["/evil.rss"] = Route(rss([{"title": "A story", "guid": "1"}], title))
    config = write_config(tmp_path, [(feed_server.url("/evil.rss"), 'interval = "1s"')])
    first = syndicator("--config", str(config), "run", "--once", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    feed_server.routes["/evil.rss"] = Route(b"down", status=500)
    time.sleep(1.5)  # due again
    second = syndicator("--config", str(config), "run", "--once", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "forged line failed: " in second.stderr  # the source was named
    for line in (first.stderr + second.stderr).splitlines():
        assert TEXT_EVENT.match(line), line
    status = syndicator("--config", str(config), "status", cwd=tmp_path).stdout.splitlines()
    assert len(status) == 3, status  # the header, the source, its last error
    assert f"Evil {' '.join(FORGED.split())} <" in status[1]  # one line, single spaces


def test_a_text_log_message_is_one_line_whatever_it_holds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Whatever reaches a message (a name stored before titles were cleaned, an error text a
    server chose) is one line on stderr, without a terminal's escape codes."""
    configure_logging()
    logging.getLogger("syndicator").warning("source %s failed", f"Evil\n{FORGED}\x1b[31m")
    written = capsys.readouterr().err
    assert written.count("\n") == 1
    assert TEXT_EVENT.match(written)
    assert f"Evil\\n{FORGED}\\x1b[31m failed" in written


def test_run_once_stops_cleanly_on_sigterm(tmp_path: Path, feed_server: FeedServer) -> None:
    """As cron, `timeout` and systemd timers stop it: one info line, the lock released, exit
    143 (128 + SIGTERM), and the source cut short is polled by the next run."""
    feed_server.routes["/hang.rss"] = Route(hang=True)
    config = write_config(tmp_path, [feed_server.url("/hang.rss")])
    command = [sys.executable, "-m", "syndicator", "--log-format", "json", "--config", str(config)]
    run = subprocess.Popen(
        [*command, "run", "--once"], cwd=tmp_path, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 30
    while not feed_server.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert feed_server.requests, "the run never polled"
    run.send_signal(signal.SIGTERM)
    _, stderr = run.communicate(timeout=30)
    assert run.returncode == 143, stderr
    [record] = [json.loads(line) for line in stderr.splitlines()]
    assert record["level"] == "info"
    assert record["message"].startswith("stopping on SIGTERM: the cycle was cancelled with 1 of 1")
    feed_server.routes["/hang.rss"] = Route(rss([{"title": "A story", "guid": "1"}]))
    again = syndicator("--config", str(config), "run", "--once", cwd=tmp_path)
    assert again.returncode == 0, again.stderr  # the lock is free
    assert "cycle: 1 source(s) polled, 0 failed, 1 new stories" in again.stderr


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGHUP], ids=["SIGINT", "SIGHUP"])
def test_run_once_stops_on_ctrl_c_or_a_hangup_as_on_sigterm(
    tmp_path: Path, feed_server: FeedServer, stop: signal.Signals
) -> None:
    """A `run --once` started by hand: Ctrl-C ended it without a word (exit 130), and a
    hangup (the SSH session gone) killed it on the spot, losing the sources it had already
    polled (their write group not committed). Both now end it as SIGTERM does: one line,
    what was done kept, exit 128 + the signal."""
    feed_server.routes["/fast.rss"] = Route(rss([{"title": "Fast story", "guid": "f"}]))
    feed_server.routes["/slow.rss"] = Route(rss([{"title": "Slow", "guid": "s"}]), delay_s=20)
    config = write_config(tmp_path, [feed_server.url("/fast.rss"), feed_server.url("/slow.rss")])
    run = subprocess.Popen(
        [sys.executable, "-m", "syndicator", "--config", str(config), "run", "--once"],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not feed_server.requests_to("/slow.rss") and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # the fast source is stored meanwhile
    run.send_signal(stop)
    _, stderr = run.communicate(timeout=30)
    assert run.returncode == 128 + stop, stderr
    assert f"stopping on {stop.name}: the cycle was cancelled with 1 of 2" in stderr
    status = syndicator("--config", str(config), "status", "--json", cwd=tmp_path)
    states = {record["url"]: record["state"] for record in json.loads(status.stdout)}
    assert states[feed_server.url("/fast.rss")] == "ok"
    assert states[feed_server.url("/slow.rss")] == "new"  # polled again by the next run


def test_a_run_removes_temp_files_a_kill_left(tmp_path: Path, feed_server: FeedServer) -> None:
    feed_server.routes["/w.xml"] = Route(body=rss([{"title": "A story", "guid": "1"}]))
    config = write_config(tmp_path, [feed_server.url("w.xml")])
    output = tmp_path / "feeds"
    (output / "feeds").mkdir(parents=True)
    torn = [output / ".index.html.k2x_9a0q.tmp", output / "feeds" / ".all.atom.abcdefgh.tmp"]
    for path in torn:
        path.write_bytes(b"<feed xmlns='http://www.w3.org/2005/Atom'><title>ha")
    mine = output / ".notes.tmp"  # not a name write_atomically makes: left alone
    mine.write_text("keep")
    result = syndicator("--config", str(config), "run", "--once", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not any(path.exists() for path in torn)
    assert mine.read_text() == "keep"
    assert "removed 2 temp file(s)" in result.stderr


def test_backup_makes_a_missing_directory_and_names_what_is_in_the_way(tmp_path: Path) -> None:
    config = _config(tmp_path)
    open_store(_db(tmp_path)).close()
    target = tmp_path / "backups" / "nightly" / "copy.db"
    result = syndicator("--config", str(config), "backup", str(target), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (target.parent.stat().st_mode & 0o777) == 0o750 & ~_umask()
    with sqlite3.connect(target) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    copy.close()
    (tmp_path / "file").write_text("not a directory")
    blocked = syndicator(
        "--config", str(config), "backup", str(tmp_path / "file" / "copy.db"), cwd=tmp_path
    )
    assert blocked.returncode == 1
    assert blocked.stderr.strip() == (
        f"error: backup: cannot create the directory {tmp_path / 'file'}: a file is in the way"
    )


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_the_cron_backup_line_works_the_first_night_and_logs_json(tmp_path: Path) -> None:
    config = _config(tmp_path)
    open_store(_db(tmp_path)).close()
    environment = {**os.environ, "SYNDICATOR_CONFIG": str(config)}
    command = _cron_run_line(tmp_path, "backup")
    for _ in range(2):  # the second run of the night finds its file there: a clear refusal
        subprocess.run(["/bin/sh", "-c", command], env=environment, timeout=60, check=False)
    [backup] = (tmp_path / "backups").iterdir()
    assert re.fullmatch(r"syndicator-\d{4}-\d\d-\d\d\.db", backup.name)
    records = [json.loads(line) for line in (tmp_path / "syndicator.log").read_text().splitlines()]
    assert [record["level"] for record in records] == ["info", "error"]
    assert "integrity ok" in records[0]["message"]
    assert "never overwrites" in records[1]["message"]


def test_the_cron_example_keeps_two_weeks_of_backups_not_every_night_forever(
    tmp_path: Path,
) -> None:
    """The crontab made a copy of the whole database every night and never removed one:
    followed as written, it filled the disk. Its clean-up line keeps the newest 14."""
    backups = tmp_path / "backups"
    backups.mkdir()
    day = 24 * 3600
    for age in range(21):
        copy = backups / f"syndicator-night-{age:02d}.db"
        copy.write_bytes(b"SQLite format 3\0")
        os.utime(copy, (time.time() - age * day - 600, time.time() - age * day - 600))
    notes = backups / "README.txt"  # not a backup: left alone however old
    notes.write_text("restore with: syndicator backup ...")
    os.utime(notes, (time.time() - 90 * day, time.time() - 90 * day))
    command = _cron_run_line(tmp_path, "find")
    subprocess.run(["/bin/sh", "-c", command], timeout=60, check=True)
    kept = sorted(path.name for path in backups.iterdir())
    assert kept == ["README.txt"] + [f"syndicator-night-{age:02d}.db" for age in range(14)]


def test_deploy_files_hold_what_operators_expect() -> None:
    unit = (ROOT / "deploy" / "syndicator.service").read_text()
    for setting in ("Restart=on-failure", "ProtectSystem=strict", "NoNewPrivileges=true"):
        assert setting in unit
    assert "SYNDICATOR_CONFIG=" in unit
    container = (ROOT / "deploy" / "Containerfile").read_text()
    assert "USER syndicator" in container
    assert 'VOLUME ["/var/lib/syndicator"]' in container
    assert "HEALTHCHECK" in container
    assert "/healthz" in container
    cron = (ROOT / "deploy" / "syndicator.cron").read_text()
    assert "run --once" in cron


# The project's own console script, where the deploy files say /opt/syndicator/.venv/bin.
INSTALLED = Path(sys.executable).parent / "syndicator"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_the_systemd_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    unit = (ROOT / "deploy" / "syndicator.service").read_text()
    assert "/opt/syndicator/.venv/bin/syndicator" in unit
    # verify checks that ExecStart exists: point it at this checkout's installed script.
    here = tmp_path / "syndicator.service"
    here.write_text(unit.replace("/opt/syndicator/.venv/bin/syndicator", str(INSTALLED)))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(here)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # verify exits 0 on unknown keys and bad values too, and says so: any output is a finding.
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == result.stderr.strip() == ""


def _cron_run_line(tmp: Path, command: str = "run --once") -> str:
    """The crontab's line running `command`, with its paths moved under `tmp`."""
    cron = (ROOT / "deploy" / "syndicator.cron").read_text()
    lines = [line for line in cron.splitlines() if not line.startswith("#")]
    [line] = [line for line in lines if f" {command} " in line]
    command = line.split(None, 5)[5]  # after the five schedule fields
    command = command.replace("/opt/syndicator/.venv/bin/syndicator", str(INSTALLED))
    return command.replace("/var/lib/syndicator", str(tmp))


def test_the_cron_example_runs_once_twice_without_overlap(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    # A slow source keeps the first run busy while cron starts the next one.
    feed_server.routes["/slow.rss"] = Route(rss([{"title": "Slow", "guid": "s1"}]), delay_s=3)
    config = write_config(tmp_path, [feed_server.url("/slow.rss")])
    cron = (ROOT / "deploy" / "syndicator.cron").read_text()
    assert re.search(r"^SYNDICATOR_CONFIG=/etc/syndicator/syndicator\.toml$", cron, re.M)
    environment = {**os.environ, "SYNDICATOR_CONFIG": str(config)}
    command = _cron_run_line(tmp_path)

    def start() -> subprocess.Popen[str]:
        return subprocess.Popen(["/bin/sh", "-c", command], env=environment, text=True)

    first = start()
    deadline = time.monotonic() + 30
    while not feed_server.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert feed_server.requests, "the first run never polled"
    second = start()
    assert second.wait(timeout=60) == 1  # refused at once: the first holds the lock
    assert first.poll() is None  # still polling the slow source
    assert first.wait(timeout=60) == 0
    assert start().wait(timeout=60) == 0  # the next one, once the first is done
    log = (tmp_path / "syndicator.log").read_text().splitlines()
    records = [json.loads(line) for line in log]  # all JSON, the refusal included
    assert any(
        record["level"] == "error" and "locked by pid" in record["message"] for record in records
    ), log
    # One cycle polled: the refused run fetched nothing, and the third found nothing due.
    assert sum("source(s) polled" in record["message"] for record in records) == 1, log
    assert sum("cycle: no source due" in record["message"] for record in records) == 1, log
    assert len(feed_server.requests) == 1


def _blocked_output_dir_config(tmp: Path, feed_server: FeedServer, hook: str) -> Path:
    """A config whose publish.output_dir lies under a file (a typo, a volume not mounted),
    with an immediate webhook alert on the one source's story."""
    feed_server.routes["/wire.rss"] = Route(rss([{"title": "Protest in Almaty", "guid": "p1"}]))
    config = write_config(
        tmp,
        [feed_server.url("/wire.rss")],
        extra=(
            '[[alerts]]\nname = "kz"\nquery = "almaty"\nchannels = ["hook"]\n'
            f'[channels.hook]\ntype = "webhook"\nurl = "{hook}"\n'
        ),
    )
    (tmp / "blocked").write_text("not a directory")
    text = config.read_text().replace(f'"{tmp / "feeds"}"', f'"{tmp / "blocked" / "feeds"}"')
    config.write_text(text)
    return config


def test_an_unwritable_output_dir_is_one_error_and_alerts_still_go_out(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """`run --once` with publish.output_dir unwritable: one line naming the key, exit 1 (cron
    mails it), and the cycle's other work done. It printed one error per feed (51 here,
    thousands with many sections), then a bare "[Errno 20] Not a directory: '.../index.html'",
    and never delivered the alerts: the index's error ended the cycle before delivery."""
    receiver = Receiver()
    config = _blocked_output_dir_config(tmp_path, feed_server, receiver.url)
    result = syndicator("--config", str(config), "run", "--once", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    errors = [line for line in lines if "error" in line.lower()]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("error: publish.output_dir = ")
    assert "a file is in the way" in errors[0]
    assert "Traceback" not in result.stderr
    assert "1 new stories" in result.stderr  # polled and stored all the same
    assert len(receiver.seen) == 1  # and the alert delivered

    (tmp_path / "blocked").unlink()  # fixed: the next run publishes what was missed
    again = syndicator("--config", str(config), "run", "--once", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert (
        b"Protest in Almaty" in (tmp_path / "blocked" / "feeds" / "feeds" / "all.atom").read_bytes()
    )
    assert len(receiver.seen) == 1


def test_the_daemon_says_once_that_the_output_dir_is_unwritable(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """The daemon: one error line (not a traceback from each publish and poll job), /healthz
    failing with it, and the feeds published as soon as the directory can be written."""
    receiver = Receiver()
    config = _blocked_output_dir_config(tmp_path, feed_server, receiver.url)
    running = Running(["--config", str(config), "run"], cwd=tmp_path)
    try:
        base = running.wait_for(r"feeds at (http://127\.0\.0\.1:\d+/)").group(1)
        running.wait_for(r"cycle: 1 source\(s\) polled, 0 failed, 1 new stories")
        deadline = time.monotonic() + 20
        while not receiver.seen:
            assert time.monotonic() < deadline, "the alert was never delivered"
            time.sleep(0.1)
        health = _health(base)
        assert health["status"] == "failing"
        assert "publish.output_dir" in health["checks"]["output_dir"]["error"]
        time.sleep(3)  # a few more ticks: still said only once
        (tmp_path / "blocked").unlink()
        running.wait_for_next(r"publishing into .* works again")
        assert _health(base)["status"] == "ok"
        assert running.stop(signal.SIGTERM) == 0
    finally:
        running.kill()
    errors = [line for line in running.seen if "ERROR" in line or "Traceback" in line]
    assert len(errors) == 1, running.seen
    assert "publish.output_dir = " in errors[0]
    assert (tmp_path / "blocked" / "feeds" / "feeds" / "all.atom").exists()


def _health(base: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(base + "healthz", timeout=10) as response:
            body = response.read()
    except urllib.error.HTTPError as error:
        body = error.read()
    report: dict[str, Any] = json.loads(body)
    return report


def _systemctl_stop(daemon: subprocess.Popen[bytes], kill_mode: str) -> None:
    """What `systemctl stop` does under the unit's `KillMode` (systemd.kill(5)): SIGTERM to
    every process of the unit (`control-group`, the default; here the daemon's process
    group), or to the main process only (`mixed`, `process`); then, for those two, SIGKILL
    to whatever of the unit outlived the main process."""
    if kill_mode == "control-group":
        os.killpg(daemon.pid, signal.SIGTERM)
    else:
        daemon.send_signal(signal.SIGTERM)
    daemon.wait(timeout=30)
    if kill_mode in ("control-group", "mixed"):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(daemon.pid, signal.SIGKILL)


def test_systemctl_stop_lets_the_parse_in_flight_finish(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """The unit's default KillMode sent SIGTERM to the parser processes too, which have no
    handler for it: a stop during a poll killed the parse in flight and logged "the parser
    processes could not start ... parsing in the main process" (or failed the source with
    "the parser process died"), an ERROR at every routine restart. With KillMode=mixed only
    the daemon gets it, finishes the poll within its grace and closes its workers itself."""
    unit = (ROOT / "deploy" / "syndicator.service").read_text()
    found = re.search(r"^KillMode=(\S+)$", unit, re.MULTILINE)
    kill_mode = found.group(1) if found else "control-group"
    items = [
        {"title": f"Story {n} from Almaty", "guid": f"g{n}", "link": f"https://w.example/{n}"}
        for n in range(2000)
    ]
    feed_server.routes["/big.rss"] = Route(rss(items))
    config = write_config(tmp_path, [feed_server.url("/big.rss")])
    log = tmp_path / "journal.log"
    with log.open("wb") as journal:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "syndicator", "--config", str(config), "run"],
            cwd=tmp_path,
            stderr=journal,
            start_new_session=True,  # its own process group: the unit's control group here
        )
    try:
        deadline = time.monotonic() + 30
        while not feed_server.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert feed_server.requests, "the daemon never polled"
        time.sleep(0.5)  # the parser processes are starting, or parsing the feed
        _systemctl_stop(daemon, kill_mode)
    finally:
        if daemon.poll() is None:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait(timeout=10)
    journal_text = log.read_text()
    assert daemon.returncode == 0, journal_text
    assert "2000 new stories" in journal_text
    for trouble in ("ERROR", "WARNING", "Traceback"):
        assert trouble not in journal_text, journal_text


def _systemctl_reload(unit: str, main_pid: int, config: Path) -> subprocess.CompletedProcess[str]:
    """What `systemctl reload` runs (systemd.service(5)): the unit's `ExecReload=` commands
    in order, with $MAINPID and the unit's environment; the first that fails fails the
    reload, and its output goes to the journal (here: the result)."""
    environment = {**os.environ, "SYNDICATOR_CONFIG": str(config)}
    result = subprocess.CompletedProcess[str]([], 0, "", "")
    for line in re.findall(r"^ExecReload=(.+)$", unit, re.MULTILINE):
        command = line.replace("$MAINPID", str(main_pid))
        command = command.replace("/opt/syndicator/.venv/bin/syndicator", str(INSTALLED))
        result = subprocess.run(
            shlex.split(command),
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            break
    return result


def test_systemctl_reload_of_a_broken_config_fails_where_the_operator_sees_it(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """`systemctl reload` only sent SIGHUP: with a broken config it reported success, and
    only the daemon's log said that the reload was refused. Now the unit checks the config
    first: the reload fails, naming the problem, and the daemon is not even signalled."""
    unit = (ROOT / "deploy" / "syndicator.service").read_text()
    feed_server.routes["/wire.rss"] = Route(rss([{"title": "A story", "guid": "1"}]))
    config = write_config(tmp_path, [feed_server.url("/wire.rss")])
    good = config.read_text()
    running = Running(["--config", str(config), "run"], cwd=tmp_path)
    try:
        running.wait_for(r"cycle: 1 source\(s\) polled")
        config.write_text(good + '\n[[sections]]\nslug = "BAD SLUG"\n')
        refused = _systemctl_reload(unit, running.process.pid, config)
        assert refused.returncode != 0
        assert "sections[0].slug" in refused.stdout + refused.stderr
        config.write_text(good + '\n[[sections]]\nslug = "second"\n')
        assert _systemctl_reload(unit, running.process.pid, config).returncode == 0
        running.wait_for_next("configuration reloaded")
        assert running.stop(signal.SIGTERM) == 0
    finally:
        running.kill()
    assert not [line for line in running.seen if "reload refused" in line]


def _container_healthcheck(port: int) -> list[str]:
    """The Containerfile's HEALTHCHECK command, run with this interpreter against `port`."""
    text = (ROOT / "deploy" / "Containerfile").read_text().replace("\\\n", " ")
    [declared] = re.findall(r"^HEALTHCHECK .*? CMD (\[.*\])$", text, re.MULTILINE)
    program, *arguments = json.loads(declared)
    assert program == "python"
    return [sys.executable, *(argument.replace(":8080/", f":{port}/") for argument in arguments)]


def test_the_container_healthcheck_follows_healthz_behind_a_proxy_setting(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """The HEALTHCHECK used urlopen, which goes through $HTTP_PROXY: set in the container
    (as for `polling.proxy = "${HTTPS_PROXY}"`), every probe went to the proxy, which
    cannot reach the container's loopback, and the container was never healthy. Now it
    asks /healthz directly: unhealthy while it answers 503, healthy once it answers 200."""
    receiver = Receiver()
    config = _blocked_output_dir_config(tmp_path, feed_server, receiver.url)
    running = Running(["--config", str(config), "run"], cwd=tmp_path)
    unreachable_proxy = f"http://127.0.0.1:{_free_port()}"
    environment = {**os.environ, "HTTP_PROXY": unreachable_proxy, "http_proxy": unreachable_proxy}
    try:
        port = int(running.wait_for(r"feeds at http://127\.0\.0\.1:(\d+)/").group(1))
        running.wait_for("publish.output_dir = ")  # failing: /healthz answers 503
        probe = _container_healthcheck(port)
        unhealthy = subprocess.run(
            probe, env=environment, capture_output=True, timeout=30, check=False
        )
        (tmp_path / "blocked").unlink()
        running.wait_for_next("works again")
        healthy = subprocess.run(
            probe, env=environment, capture_output=True, timeout=30, check=False
        )
        assert running.stop(signal.SIGTERM) == 0
    finally:
        running.kill()
    assert unhealthy.returncode != 0
    assert b"503" in unhealthy.stderr, unhealthy.stderr
    assert healthy.returncode == 0, healthy.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
