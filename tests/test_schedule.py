"""next_poll_after: a pure function of now, bounds, failures and the feed's TTL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syndicator.cron import parse_cron
from syndicator.schedule import (
    PollBounds,
    PollSignals,
    entry_interval,
    feed_ttl,
    fresh_for,
    next_poll_after,
    parse_retry_after,
)
from syndicator.scheduler import next_cron_time

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
    long_ttl = next_poll_after(NOW, URL, BOUNDS, PollSignals(feed_ttl=timedelta(hours=1)))
    assert long_ttl - NOW >= timedelta(hours=1)
    short_ttl = next_poll_after(NOW, URL, BOUNDS, PollSignals(feed_ttl=timedelta(minutes=1)))
    assert short_ttl == next_poll_after(NOW, URL, BOUNDS)


def test_failures_back_off_exponentially_up_to_max_interval() -> None:
    delays = [
        next_poll_after(NOW, URL, BOUNDS, PollSignals(consecutive_failures=n)) - NOW
        for n in range(12)
    ]
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
    signals = PollSignals(consecutive_failures=failures, feed_ttl=ttl)
    delay = next_poll_after(NOW, URL, bounds, signals) - NOW
    assert timedelta(minutes=5) <= delay <= timedelta(hours=24) * 1.1


def test_retry_after_seconds_and_date() -> None:
    assert parse_retry_after("120", NOW) == NOW + timedelta(seconds=120)
    assert parse_retry_after("Fri, 27 Nov 2026 13:00:00 GMT", NOW) == NOW + timedelta(hours=1)
    assert parse_retry_after("Fri, 27 Nov 2026 11:00:00 GMT", NOW) == NOW  # in the past
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None


def test_retry_after_moves_the_poll_later_but_not_past_max_interval() -> None:
    hour_later = next_poll_after(NOW, URL, BOUNDS, PollSignals(retry_at=NOW + timedelta(hours=3)))
    assert hour_later == NOW + timedelta(hours=3)
    capped = next_poll_after(NOW, URL, BOUNDS, PollSignals(retry_at=NOW + timedelta(days=30)))
    assert capped == NOW + timedelta(hours=24)


def test_cache_control_and_expires() -> None:
    assert fresh_for({"Cache-Control": "public, max-age=3600"}, NOW) == timedelta(hours=1)
    assert fresh_for({"cache-control": "s-maxage=60, max-age=10"}, NOW) == timedelta(seconds=60)
    assert fresh_for({"Cache-Control": "no-cache, max-age=3600"}, NOW) is None
    assert fresh_for({"Expires": "Fri, 27 Nov 2026 12:30:00 GMT"}, NOW) == timedelta(minutes=30)
    assert fresh_for({"Expires": "0"}, NOW) is None
    assert fresh_for({}, NOW) is None
    fresh = next_poll_after(NOW, URL, BOUNDS, PollSignals(fresh_for=timedelta(hours=2)))
    assert fresh - NOW >= timedelta(hours=2)


def test_feed_ttl_from_ttl_and_sy_update_period() -> None:
    assert feed_ttl(60, None, None) == timedelta(hours=1)
    assert feed_ttl(None, "hourly", "2") == timedelta(minutes=30)
    assert feed_ttl(None, "daily", None) == timedelta(days=1)
    assert feed_ttl(30, "daily", "4") == timedelta(hours=6)
    assert feed_ttl(None, "fortnightly", "1") is None
    assert feed_ttl(0, None, None) is None


def test_observed_entry_frequency_adapts_within_a_factor_of_four() -> None:
    times = [NOW - timedelta(minutes=5 * i) for i in range(10)]
    assert entry_interval(times) == timedelta(minutes=5)
    assert entry_interval(times[:2]) is None
    busy = next_poll_after(NOW, URL, BOUNDS, PollSignals(entry_interval=timedelta(minutes=5)))
    assert timedelta(minutes=5) <= busy - NOW < timedelta(minutes=6)
    quiet = next_poll_after(NOW, URL, BOUNDS, PollSignals(entry_interval=timedelta(days=2)))
    assert timedelta(hours=1) <= quiet - NOW <= timedelta(hours=1, minutes=6)


# -- digest schedules: cron day-of-week numbering ------------------------------------------


@pytest.mark.parametrize(
    ("expression", "weekday"),
    [
        ("0 8 * * 1", "Monday"),  # APScheduler 3 alone fired this on Tuesdays
        ("0 8 * * 0", "Sunday"),
        ("0 8 * * 7", "Sunday"),  # cron accepts 7 for Sunday; APScheduler refused it
        ("0 8 * * 5", "Friday"),
        ("0 8 * * mon", "Monday"),
        ("0 8 * * 6-7", "Saturday"),
    ],
)
def test_digest_weekdays_count_as_cron_counts_them(expression: str, weekday: str) -> None:
    friday_noon = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    fired = next_cron_time(expression, "UTC", friday_noon)
    assert fired.strftime("%A") == weekday
    assert fired.hour == 8


def test_weekday_ranges_lists_and_steps_count_as_cron_counts_them() -> None:
    assert parse_cron("0 8 * * 1-5").weekdays == (1, 2, 3, 4, 5)
    assert parse_cron("0 8 * * 0-2,6").weekdays == (0, 1, 2, 6)
    assert parse_cron("0 8 * * */2").weekdays == (0, 2, 4, 6)
    assert parse_cron("0 8 * * 1/3").weekdays == (0, 1, 4)  # Monday, Thursday, Sunday (7)
    assert parse_cron("0 8 * * *").weekdays == tuple(range(7))
    assert parse_cron("0 8 * * mon-FRI").weekdays == (1, 2, 3, 4, 5)
    fired = [
        next_cron_time("30 7 * * 1-5", "Asia/Almaty", datetime(2026, 11, 27 + n, tzinfo=UTC))
        for n in range(4)
    ]
    # 07:30 in Almaty is 02:30 UTC: from Friday 05:00 there, Friday; from the weekend, Monday
    assert [moment.strftime("%a %H:%M") for moment in fired] == ["Fri 02:30"] + ["Mon 02:30"] * 3


def _fire_times(expression: str, count: int, after: datetime = NOW) -> list[str]:
    """The next `count` times the expression fires after `after` (UTC), as "Mon 01 Jun"."""
    times = []
    for _ in range(count):
        after = next_cron_time(expression, "UTC", after)
        times.append(after.strftime("%a %d %b %H:%M"))
    return times


def test_a_day_of_month_and_a_weekday_fire_on_either_as_in_cron() -> None:
    # From Friday 27 November 2026: the 1st of the month OR any Monday (cron's rule when both
    # day fields are restricted); APScheduler alone fired on Mondays that fell on the 1st.
    assert _fire_times("0 7 1 * 1", 4) == [
        "Mon 30 Nov 07:00",
        "Tue 01 Dec 07:00",
        "Mon 07 Dec 07:00",
        "Mon 14 Dec 07:00",
    ]
    # A field starting with "*" is unrestricted for cron: then both must hold (odd-day Mondays)
    assert _fire_times("0 7 */2 * mon", 3) == [
        "Mon 07 Dec 07:00",
        "Mon 21 Dec 07:00",
        "Mon 11 Jan 07:00",
    ]
    # Only the weekday restricted: every Sunday, whether written 0, 7 or sun
    assert (
        _fire_times("0 7 * * 0", 2) == _fire_times("0 7 * * 7", 2) == _fire_times("0 7 * * sun", 2)
    )
    assert _fire_times("0 7 * * 0", 2) == ["Sun 29 Nov 07:00", "Sun 06 Dec 07:00"]


def test_a_day_that_only_some_years_have_still_fires() -> None:
    assert _fire_times("0 0 29 2 *", 1) == ["Tue 29 Feb 00:00"]  # 2028


def test_cron_digests_keep_their_local_time_across_daylight_saving() -> None:
    before = datetime(2026, 3, 27, 12, tzinfo=UTC)
    fired = [next_cron_time("0 7 * * *", "Europe/Berlin", before)]
    fired.append(next_cron_time("0 7 * * *", "Europe/Berlin", fired[0]))
    fired.append(next_cron_time("0 7 * * *", "Europe/Berlin", fired[1]))
    # 07:00 in Berlin: 06:00 UTC in winter time, 05:00 UTC from Sunday 29 March
    assert [moment.strftime("%d %H:%M") for moment in fired] == ["28 06:00", "29 05:00", "30 05:00"]


def _local_fire_times(expression: str, zone: str, after: datetime, count: int) -> list[str]:
    times = []
    for _ in range(count):
        after = next_cron_time(expression, zone, after)
        times.append(after.astimezone(ZoneInfo(zone)).strftime("%d %H:%M%z"))
    return times


@pytest.mark.parametrize(
    ("zone", "expression", "saturday", "expected"),
    [
        # Berlin goes back from 03:00 to 02:00 on Sunday 25 October 2026
        (
            "Europe/Berlin",
            "30 2 * * *",
            datetime(2026, 10, 24, 12, tzinfo=UTC),
            ["25 02:30+0200", "26 02:30+0100", "27 02:30+0100"],
        ),
        # New York from 02:00 to 01:00 on Sunday 1 November 2026
        (
            "America/New_York",
            "30 1 * * *",
            datetime(2026, 10, 31, 12, tzinfo=UTC),
            ["01 01:30-0400", "02 01:30-0500", "03 01:30-0500"],
        ),
    ],
)
def test_when_the_clock_goes_back_a_fixed_time_fires_once_as_in_cron(
    zone: str, expression: str, saturday: datetime, expected: list[str]
) -> None:
    fired = _local_fire_times(expression, zone, saturday, 3)
    assert fired == expected, "a daily digest must not fire again in the repeated hour"
    # A wildcard job runs in both passes of the repeated hour, as cron runs it
    hour = expression.split()[1]
    night = next_cron_time(f"0 {hour} * * *", zone, saturday) - timedelta(minutes=1)
    halves = _local_fire_times("*/30 * * * *", zone, night, 4)
    assert [moment[3:8] for moment in halves] == [f"0{hour}:00", f"0{hour}:30"] * 2
    assert halves[0][-5:] != halves[2][-5:]  # the same wall times, under two UTC offsets
