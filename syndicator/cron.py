"""A 5-field cron expression -> the minutes, hours, days, months and weekdays it names.

The rules are standard cron's (Vixie cron, cronie), which is what users write and what the
README promises: fields `minute hour day-of-month month day-of-week`; each a list of `*`,
`N`, `N-M`, with an optional `/step` (`N/step` runs from N to the field's end); months and
weekdays also by English name (`jan`, `mon`, any case); 0 and 7 are both Sunday. When both
day fields are restricted (neither starts with `*`), a day matches if *either* does:
"0 7 1 * 1" is the 1st of the month and every Monday. Ranges do not wrap ("fri-mon" is an
error), and the extensions some crons have (`@daily`, `L`, `W`, `#`) are refused.

This module only parses and checks; it computes no fire times (the scheduler does that, with
time zones and daylight saving time) and reads no clock.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # cron's numbering: 0 is Sunday


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names[i] means low + i


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day of month", 1, 31),
    _Field("month", 1, 12, _MONTHS),
    _Field("day of week", 0, 7, WEEKDAYS),
)
_ITEM = re.compile(r"(\*|\w+)(?:-(\w+))?(?:/(\w+))?")


@dataclass(frozen=True, slots=True)
class CronSpec:
    """What a cron expression names, each field as its sorted values.

    `weekdays` count 0 as Sunday to 6 Saturday (a 7 is folded into 0). `day_restricted` and
    `weekday_restricted` say whether the field did not start with `*`: cron's test for
    "restricted", which decides whether the two day fields combine with OR (both restricted)
    or AND (`any_day_field`). `fixed_time` is cron's "not a wildcard job": neither the minute
    nor the hour field starts with `*`. When the clock goes back an hour (the end of daylight
    saving time), cron runs such a job once, not again in the repeated hour."""

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: tuple[int, ...]
    months: tuple[int, ...]
    weekdays: tuple[int, ...]
    day_restricted: bool
    weekday_restricted: bool
    fixed_time: bool = False  # neither minute nor hour starts with `*` ("30 2 * * *")

    @property
    def any_day_field(self) -> bool:
        """Whether a day matches when it is in `days` OR in `weekdays` (cron's rule when both
        day fields are restricted); otherwise it must be in both."""
        return self.day_restricted and self.weekday_restricted


def parse_cron(expression: str) -> CronSpec:
    """The `CronSpec` of a 5-field cron expression; ValueError saying what is wrong and in
    which field ("day of week 8 is out of range 0-7 (0 and 7 are Sunday)")."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 fields (minute hour day month weekday), got {len(fields)}")
    minutes, hours, days, months, weekdays = (
        _values(text, field) for text, field in zip(fields, _FIELDS, strict=True)
    )
    spec = CronSpec(
        minutes=minutes,
        hours=hours,
        days=days,
        months=months,
        weekdays=tuple(sorted({day % 7 for day in weekdays})),
        day_restricted=not fields[2].startswith("*"),
        weekday_restricted=not fields[4].startswith("*"),
        fixed_time=not fields[0].startswith("*") and not fields[1].startswith("*"),
    )
    _check_fires(spec)
    return spec


def _values(text: str, field: _Field) -> tuple[int, ...]:
    values: set[int] = set()
    for item in text.split(","):
        values.update(_item_values(item, field))
    return tuple(sorted(values))


def _item_values(item: str, field: _Field) -> range:
    match = _ITEM.fullmatch(item)
    if match is None:
        raise ValueError(f"{field.name}: cannot read {item!r}{_expected(field)}")
    first, last, step_text = match.groups()
    step = _number(step_text, field, item) if step_text else 1
    if step_text and step < 1:
        raise ValueError(f"{field.name}: a step must be 1 or more, got {item!r}")
    if first == "*":
        if last:
            raise ValueError(f"{field.name}: cannot read {item!r}{_expected(field)}")
        return range(field.low, field.high + 1, step)
    start = _value(first, field)
    if last:
        end = _value(last, field)
        if end < start:
            raise ValueError(
                f"{field.name}: range {item!r} runs backwards (cron ranges do not wrap; "
                "write two, e.g. 5-6,0-1)"
            )
    else:
        end = field.high if step_text else start  # "1/3": from 1 to the end, every third
    return range(start, end + 1, step)


def _value(text: str, field: _Field) -> int:
    if text.lower() in field.names:
        return field.low + field.names.index(text.lower())
    value = _number(text, field, text)
    if not field.low <= value <= field.high:
        sunday = " (0 and 7 are Sunday)" if field.names == WEEKDAYS else ""
        raise ValueError(f"{field.name} {value} is out of range {field.low}-{field.high}{sunday}")
    return value


def _number(text: str, field: _Field, item: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"{field.name}: cannot read {item!r}{_expected(field)}")
    return int(text)


def _expected(field: _Field) -> str:
    names = f", or a name {field.names[0]}-{field.names[-1]}" if field.names else ""
    return f" (expected *, N, N-M, */S or N-M/S with N from {field.low} to {field.high}{names})"


def _check_fires(spec: CronSpec) -> None:
    """ValueError when no date matches ("0 7 30 2 *": February has no 30th), which would
    leave a digest waiting for ever. With OR-ed day fields every week has a match."""
    if spec.any_day_field:
        return
    longest = {month: calendar.monthrange(2024, month)[1] for month in spec.months}  # leap year
    if not any(day <= longest[month] for month in spec.months for day in spec.days):
        months = ", ".join(calendar.month_name[month] for month in spec.months)
        raise ValueError(f"never fires: no day {spec.days[0]} or later in {months}")
