"""Helpers to run syndicator as a long-lived subprocess and wait for what it prints."""

from __future__ import annotations

import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO


class Running:
    """A syndicator subprocess whose stdout and stderr lines are collected as they arrive."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "syndicator", *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._pumps = []
        for stream in (self.process.stdout, self.process.stderr):
            assert stream is not None
            pump = threading.Thread(target=self._pump, args=(stream,), daemon=True)
            pump.start()
            self._pumps.append(pump)

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line)

    def wait_for(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        """The first output line (old or new) matching `pattern`, waiting up to `timeout`."""
        regex = re.compile(pattern)
        for line in self.seen:
            if match := regex.search(line):
                return match
        return self.wait_for_next(pattern, timeout)

    def wait_for_next(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        """The first line not seen yet that matches `pattern`."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                if self.process.poll() is not None and self.lines.empty():
                    break
                continue
            self.seen.append(line)
            if match := regex.search(line):
                return match
        raise AssertionError(f"no line matching {pattern!r}; output so far:\n{''.join(self.seen)}")

    def stop(self, signal_number: int, timeout: float = 20) -> int:
        self.process.send_signal(signal_number)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """Kill if still running, then release the pipes (pytest fails on unclosed files)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        for pump in self._pumps:
            pump.join(timeout=5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
