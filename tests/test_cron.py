"""syndicator.cron: 5-field cron expressions read as standard cron reads them."""

from __future__ import annotations

import re

import pytest

from syndicator.cron import parse_cron


def test_every_field_lists_the_values_it_names() -> None:
    spec = parse_cron("*/15 9-17/4 1,15 jan-MAR/2 mon-fri")
    assert spec.minutes == (0, 15, 30, 45)
    assert spec.hours == (9, 13, 17)
    assert spec.days == (1, 15)
    assert spec.months == (1, 3)
    assert spec.weekdays == (1, 2, 3, 4, 5)


@pytest.mark.parametrize("sunday", ["0", "7", "sun", "SUN", "6-7", "0,7"])
def test_sunday_is_0_or_7(sunday: str) -> None:
    assert 0 in parse_cron(f"0 7 * * {sunday}").weekdays
    assert 7 not in parse_cron(f"0 7 * * {sunday}").weekdays


@pytest.mark.parametrize(
    ("expression", "either"),
    [
        ("0 7 1 * 1", True),  # both restricted: the 1st or a Monday
        ("0 7 1-7 * mon", True),
        ("0 7 * * 1", False),
        ("0 7 1 * *", False),
        ("0 7 */2 * 1", False),  # starting with "*" counts as unrestricted, as in cron
        ("0 7 1 * */2", False),
    ],
)
def test_restricted_day_fields_combine_with_or(expression: str, either: bool) -> None:
    assert parse_cron(expression).any_day_field is either


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 7 * * 8", "day of week 8 is out of range 0-7 (0 and 7 are Sunday)"),
        ("60 7 * * *", "minute 60 is out of range 0-59"),
        ("0 24 * * *", "hour 24 is out of range 0-23"),
        ("0 7 0 * *", "day of month 0 is out of range 1-31"),
        ("0 7 * 13 *", "month 13 is out of range 1-12"),
        ("0 7 * * fri-mon", "range 'fri-mon' runs backwards"),
        ("*/0 7 * * *", "a step must be 1 or more"),
        ("0 7 L * *", "day of month: cannot read 'L'"),
        ("0 7 * * 1#2", "day of week: cannot read '1#2'"),
        ("0 7 * * monday", "day of week: cannot read 'monday'"),
        ("0 7 *-3 * *", "cannot read '*-3'"),
        ("0 7 1,,2 * *", "cannot read ''"),
        ("0 7 ١ * *", "cannot read '١'"),  # an Arabic-Indic digit is not a cron number
        ("0 7 30 2 *", "never fires: no day 30 or later in February"),
        ("0 7 * *", "expected 5 fields"),
    ],
)
def test_what_cron_would_refuse_is_refused_with_its_field(expression: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_cron(expression)


def test_a_day_that_some_month_has_is_fine() -> None:
    assert parse_cron("0 7 31 1-2 *").days == (31,)
    assert parse_cron("0 7 29 2 *").months == (2,)  # leap years
    assert parse_cron("0 7 31 2 mon").any_day_field  # Mondays in February
