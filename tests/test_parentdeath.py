"""A SIGKILLed daemon leaves no parser processes behind (Linux: PR_SET_PDEATHSIG)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

_CHILD = r"""
import os, time
from syndicator.pipeline import ParserPool
pool = ParserPool()
worker = pool._executor().submit(os.getpid).result()
print(worker, os.getppid(), flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux only")
def test_parser_workers_end_with_a_killed_daemon() -> None:
    daemon = subprocess.Popen([sys.executable, "-c", _CHILD], stdout=subprocess.PIPE, text=True)
    assert daemon.stdout is not None
    worker = int(daemon.stdout.readline().split()[0])
    with open(f"/proc/{worker}/stat", encoding="ascii") as stat:
        fork_server = int(stat.read().rsplit(")", 1)[1].split()[1])  # the worker's parent
    os.kill(daemon.pid, signal.SIGKILL)
    daemon.wait()
    daemon.stdout.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(
        os.path.exists(f"/proc/{pid}") and "Z" not in _state(pid) for pid in (worker, fork_server)
    ):
        time.sleep(0.1)
    assert not os.path.exists(f"/proc/{worker}") or "Z" in _state(worker)
    assert not os.path.exists(f"/proc/{fork_server}") or "Z" in _state(fork_server)


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"
