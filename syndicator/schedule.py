"""When to poll a source next: a pure function of now, the bounds and what the source told us.

No I/O and no clock: `now` is a parameter. The rules, in order:

1. Start from the source's interval (its own, else `polling.interval`).
2. Adapt to the observed entry frequency: the mean gap between its recent entries, kept
   within a quarter and four times the interval (a 15m default ranges 3m45s .. 1h).
3. Respect the server: never sooner than the feed's `<ttl>` / `sy:updatePeriod`,
   Cache-Control `max-age` or `Expires` say the content stays fresh.
4. Back off on failure: double per consecutive failure.
5. Clamp to `[min_interval, max_interval]`, then add a jitter of up to 10% that is fixed per
   source (derived from its URL), so sources spread out and tests need no random seed.
6. Retry-After (429/503) moves the time later still, up to `max_interval` from now.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

_JITTER_FRACTION = 0.1
_MAX_BACKOFF_STEPS = 10
_ADAPT_LOW, _ADAPT_HIGH = 0.25, 4.0
_MIN_ENTRIES_FOR_FREQUENCY = 3
_UPDATE_PERIODS = {
    "hourly": timedelta(hours=1),
    "daily": timedelta(days=1),
    "weekly": timedelta(weeks=1),
    "monthly": timedelta(days=30),
    "yearly": timedelta(days=365),
}
_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-maxage|max-age)\s*=\s*\"?(\d+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class PollBounds:
    """The configured interval and the clamp every computed delay must respect."""

    interval: timedelta
    min_interval: timedelta
    max_interval: timedelta


@dataclass(frozen=True, slots=True)
class PollSignals:
    """What the last poll taught us about a source. Every field is optional."""

    consecutive_failures: int = 0
    feed_ttl: timedelta | None = None
    fresh_for: timedelta | None = None  # from Cache-Control max-age or Expires
    retry_at: datetime | None = None  # from Retry-After
    entry_interval: timedelta | None = None  # observed mean gap between entries


def next_poll_after(
    now: datetime, source_url: str, bounds: PollBounds, signals: PollSignals | None = None
) -> datetime:
    """The time of the next poll (see the module docstring for the rules)."""
    signals = signals or PollSignals()
    delay = _adapted(bounds.interval, signals.entry_interval)
    for hint in (signals.feed_ttl, signals.fresh_for):
        if hint is not None and hint > delay:
            delay = hint
    if signals.consecutive_failures > 0:
        delay = delay * (2 ** min(signals.consecutive_failures, _MAX_BACKOFF_STEPS))
    delay = min(max(delay, bounds.min_interval), bounds.max_interval)
    when = now + delay + _stable_jitter(source_url, delay)
    if signals.retry_at is not None:
        when = max(when, min(signals.retry_at, now + bounds.max_interval))
    return when


def _adapted(interval: timedelta, entry_interval: timedelta | None) -> timedelta:
    if entry_interval is None:
        return interval
    return min(max(entry_interval, interval * _ADAPT_LOW), interval * _ADAPT_HIGH)


def _stable_jitter(source_url: str, delay: timedelta) -> timedelta:
    """Up to 10% of the delay, fixed per source so sources spread out over the interval."""
    fraction = (zlib.crc32(source_url.encode("utf-8")) % 1000) / 1000
    return delay * (fraction * _JITTER_FRACTION)


_LONGEST_HINT_S = 366 * 24 * 3600  # Retry-After and max-age beyond a year mean "a year"


def parse_retry_after(value: str | None, now: datetime) -> datetime | None:
    """Retry-After as delay-seconds or an HTTP-date; None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():  # "²" is a digit to isdigit(), not to int()
        # A year of seconds at most: a peer asking for more (or for 10**30) gets a year.
        return now + timedelta(seconds=min(int(text), _LONGEST_HINT_S))
    moment = _http_date(text)
    return moment if moment is None or moment > now else now


def fresh_for(headers: Mapping[str, str], now: datetime) -> timedelta | None:
    """How long the response says it stays fresh: Cache-Control max-age, else Expires."""
    lowered = {key.lower(): value for key, value in headers.items()}
    control = lowered.get("cache-control", "")
    if "no-cache" in control.lower() or "no-store" in control.lower():
        return None
    if match := _MAX_AGE.search(control):
        return timedelta(seconds=min(int(match.group(1)), _LONGEST_HINT_S))
    expires = _http_date(lowered.get("expires", ""))
    if expires is not None and expires > now:
        return expires - now
    return None


def feed_ttl(
    ttl_minutes: int | None, update_period: str | None, update_frequency: str | None
) -> timedelta | None:
    """The feed's own refresh hint: RSS `<ttl>` or `sy:updatePeriod` / `sy:updateFrequency`."""
    hints = []
    if ttl_minutes is not None and ttl_minutes > 0:
        hints.append(timedelta(minutes=ttl_minutes))
    period = _UPDATE_PERIODS.get((update_period or "").strip().lower())
    if period is not None:
        text = (update_frequency or "").strip()
        frequency = int(text) if text.isdigit() else 1
        hints.append(period / max(frequency, 1))
    return max(hints) if hints else None


def entry_interval(published: Sequence[datetime]) -> timedelta | None:
    """The mean gap between a source's recent entries (None with fewer than 3)."""
    ordered = sorted(published)
    if len(ordered) < _MIN_ENTRIES_FOR_FREQUENCY:
        return None
    span = ordered[-1] - ordered[0]
    if span <= timedelta(0):
        return None
    return span / (len(ordered) - 1)


def _http_date(text: str) -> datetime | None:
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
