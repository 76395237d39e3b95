"""next_poll_after: a pure function of now, bounds, failures and the feed's TTL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from syndicator.schedule import PollBounds, next_poll_after

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
BOUNDS = PollBounds(timedelta(minutes=15), timedelta(minutes=5), timedelta(hours=24))
URL = "https://wire.example/rss"


def test_interval_plus_stable_jitter() -> None:
    first = next_poll_after(NOW, URL, BOUNDS)
    assert timedelta(minutes=15) <= first - NOW <= timedelta(minutes=16, seconds=30)
    assert next_poll_after(NOW, URL, BOUNDS) == first  # deterministic per source


def test_jitter_spreads_sources() -> None:
    times = {next_poll_after(NOW, f"https://s{i}.example/rss", BOUNDS) for i in range(50)}
    assert len(times) > 40


def test_longer_feed_ttl_wins_and_shorter_is_ignored() -> None:
    long_ttl = next_poll_after(NOW, URL, BOUNDS, feed_ttl=timedelta(hours=1))
    assert long_ttl - NOW >= timedelta(hours=1)
    short_ttl = next_poll_after(NOW, URL, BOUNDS, feed_ttl=timedelta(minutes=1))
    assert short_ttl == next_poll_after(NOW, URL, BOUNDS)


def test_failures_back_off_exponentially_up_to_max_interval() -> None:
    delays = [next_poll_after(NOW, URL, BOUNDS, failures) - NOW for failures in range(12)]
    assert delays == sorted(delays)
    assert delays[1] >= timedelta(minutes=30)
    assert delays[-1] <= timedelta(hours=24) * 1.1


@given(
    interval_s=st.integers(min_value=1, max_value=10**7),
    failures=st.integers(min_value=0, max_value=100),
    ttl_s=st.none() | st.integers(min_value=0, max_value=10**7),
)
def test_always_within_bounds(interval_s: int, failures: int, ttl_s: int | None) -> None:
    bounds = PollBounds(timedelta(seconds=interval_s), timedelta(minutes=5), timedelta(hours=24))
    ttl = timedelta(seconds=ttl_s) if ttl_s is not None else None
    delay = next_poll_after(NOW, URL, bounds, failures, ttl) - NOW
    assert timedelta(minutes=5) <= delay <= timedelta(hours=24) * 1.1
