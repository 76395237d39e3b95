"""`syndicator demo`: offline, on loopback, serving feeds with stories within 30 seconds."""

from __future__ import annotations

import contextlib
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.atom_checks import check_atom
from tests.conftest import syndicator
from tests.processes import Running


def test_demo_serves_feeds_with_stories_within_30_seconds(tmp_path: Path) -> None:
    started = time.monotonic()
    running = Running(["demo", "--port", "0", "--dir", str(tmp_path / "demo")], cwd=tmp_path)
    try:
        index = running.wait_for(r"Feed index:\s+(http://127\.0\.0\.1:\d+/)").group(1)
        running.wait_for(r"cycle: 6 source\(s\) polled, 0 failed, 4\d new stories")
        # The poll's stories are published by the poll, or by the publish job's next tick
        # if the start-up publish was still running: wait for the feed, not for a log line.
        ids: list[str] = []
        while True:
            with contextlib.suppress(urllib.error.HTTPError):  # not written yet: a 404
                with urllib.request.urlopen(index + "feeds/all.atom", timeout=10) as response:
                    (tmp_path / "all.atom").write_bytes(response.read())
                ids = check_atom(tmp_path / "all.atom")
            if len(ids) >= 30 or time.monotonic() - started >= 30:
                break
            time.sleep(0.1)
        assert time.monotonic() - started < 30
        assert len(ids) >= 30  # 46 items, syndicated copies folded into their wire story
        with urllib.request.urlopen(index, timeout=10) as response:
            assert b"Central Asia desk" in response.read()
        assert running.stop(signal.SIGINT) == 0
    finally:
        running.kill()


def test_demo_refuses_a_directory_of_other_files_and_keeps_them(tmp_path: Path) -> None:
    """`demo --dir DIR` started afresh by removing DIR whatever it held: `--dir ~/news`
    deleted the user's files without a word."""
    mine = tmp_path / "news"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine", encoding="utf-8")
    result = syndicator("demo", "--port", "0", "--dir", str(mine), cwd=tmp_path)
    assert result.returncode == 1
    assert (mine / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert result.stderr.startswith(f"error: --dir {mine}: holds files of its own")
    assert "Traceback" not in result.stderr


def test_demo_at_a_directory_it_cannot_make_exits_1_instead_of_hanging(tmp_path: Path) -> None:
    """The webhook receiver's stop waited for a serve loop that never began, so a demo
    whose directory could not be made hung, silent, until Ctrl-C."""
    (tmp_path / "file").write_text("", encoding="utf-8")
    result = syndicator(
        "demo", "--port", "0", "--dir", str(tmp_path / "file" / "demo"), cwd=tmp_path
    )
    assert result.returncode == 1  # subprocess.TimeoutExpired (60 s) before the fix
    assert (
        result.stderr
        == f"error: --dir {tmp_path / 'file' / 'demo'}: cannot create it: Not a directory\n"
    )


def test_demo_starts_afresh_in_an_earlier_demos_directory(tmp_path: Path) -> None:
    running = Running(["demo", "--port", "0", "--dir", str(tmp_path / "demo")], cwd=tmp_path)
    try:
        running.wait_for(r"cycle: 6 source\(s\) polled, 0 failed, 4\d new stories")
        assert running.stop(signal.SIGINT) == 0
    finally:
        running.kill()
    again = Running(["demo", "--port", "0", "--dir", str(tmp_path / "demo")], cwd=tmp_path)
    try:  # the earlier database is gone: every story is new again
        again.wait_for(r"cycle: 6 source\(s\) polled, 0 failed, 4\d new stories")
        assert again.stop(signal.SIGINT) == 0
    finally:
        again.kill()
