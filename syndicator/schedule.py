"""When to poll a source next: a pure function of now, the configured bounds and the last outcome.

No I/O and no clock: `now` is a parameter. Jitter is derived from the source URL, so it is
stable per source (spreading sources apart) and tests need no random seed. Cache-Control,
Retry-After and observed entry frequency arrive with the polling issue; this module is where
they go.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

_JITTER_FRACTION = 0.1
_MAX_BACKOFF_STEPS = 10


@dataclass(frozen=True, slots=True)
class PollBounds:
    """The configured interval and the clamp every computed delay must respect."""

    interval: timedelta
    min_interval: timedelta
    max_interval: timedelta


def next_poll_after(
    now: datetime,
    source_url: str,
    bounds: PollBounds,
    consecutive_failures: int = 0,
    feed_ttl: timedelta | None = None,
) -> datetime:
    """The time of the next poll: interval (or a longer feed TTL), backed off on failure."""
    delay = bounds.interval
    if feed_ttl is not None and feed_ttl > delay:
        delay = feed_ttl
    if consecutive_failures > 0:
        delay = delay * (2 ** min(consecutive_failures, _MAX_BACKOFF_STEPS))
    delay = min(max(delay, bounds.min_interval), bounds.max_interval)
    return now + delay + _stable_jitter(source_url, delay)


def _stable_jitter(source_url: str, delay: timedelta) -> timedelta:
    """Up to 10% of the delay, fixed per source so sources spread out over the interval."""
    fraction = (zlib.crc32(source_url.encode("utf-8")) % 1000) / 1000
    return delay * (fraction * _JITTER_FRACTION)
