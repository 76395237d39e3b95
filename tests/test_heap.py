"""The heap trim gives freed memory back to the system (glibc), or says it cannot."""

from __future__ import annotations

import platform
import sys

import pytest

from syndicator.heap import trim_heap

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


@pytest.mark.skipif(not GLIBC, reason="malloc_trim is glibc's")
def test_trim_returns_the_free_pages_between_live_blocks() -> None:
    # 100 MB in blocks under glibc's mmap threshold, so they live in the heap; the last one
    # stays alive and pins the heap's top, so glibc's automatic trimming cannot shrink it.
    blocks = [bytearray(50_000) for _ in range(2_000)]
    last = blocks[-1]
    del blocks
    before = _rss_bytes()
    assert trim_heap() is True
    assert before - _rss_bytes() > 50_000_000
    assert len(last) == 50_000


def test_trim_never_fails() -> None:
    assert trim_heap() in (True, False)
    assert trim_heap() is GLIBC
