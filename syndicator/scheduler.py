"""APScheduler 3.x wiring only: run named coroutine jobs periodically on the asyncio loop.

Each job runs at most once at a time, missed runs coalesce into one, and the first run starts
immediately. `next_cron_time` reads a digest's cron schedule.
Which sources are due is not decided here: that lives in SQLite (`next_poll_at`),
so this scheduler only sets the tick. The only importer of apscheduler.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    """A coroutine function to call every `every`."""

    name: str
    every: timedelta
    run: Callable[[], Awaitable[None]]


class JobRunner:
    """Starts the jobs on the running loop; `stop` waits for jobs in flight to finish."""

    def __init__(self, jobs: Sequence[PeriodicJob]) -> None:
        self._jobs = list(jobs)
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._in_flight: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        for job in self._jobs:
            self._scheduler.add_job(
                self._tracked(job),
                IntervalTrigger(seconds=job.every.total_seconds(), timezone=UTC),
                id=job.name,
                name=job.name,
                next_run_time=datetime.now(UTC),
                coalesce=True,
                max_instances=1,
                misfire_grace_time=None,
            )
        self._scheduler.start()

    def _tracked(self, job: PeriodicJob) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            task = asyncio.current_task()
            if task is not None:
                self._in_flight.add(task)
            try:
                await job.run()
            finally:
                if task is not None:
                    self._in_flight.discard(task)

        return run

    async def stop(self, grace: timedelta) -> None:
        """Stop scheduling and give running jobs `grace` to finish, then cancel them."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        pending = set(self._in_flight)
        if not pending:
            return
        _, still_running = await asyncio.wait(pending, timeout=grace.total_seconds())
        for task in still_running:
            task.cancel()
        if still_running:
            await asyncio.gather(*still_running, return_exceptions=True)


def next_cron_time(expression: str, timezone: str, after: datetime) -> datetime:
    """The first time after `after` that a 5-field cron expression fires, in UTC (APScheduler's
    CronTrigger: the alert digests' schedules). ValueError for a malformed expression."""
    trigger = CronTrigger.from_crontab(cron_weekdays_as_names(expression), timezone=timezone)
    moment = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    if moment is None:
        raise ValueError(f"cron expression {expression!r} never fires")
    fired: datetime = moment.astimezone(UTC)
    return fired


_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_NUMERIC_DAYS = re.compile(r"(\*|[0-7])(?:-([0-7]))?(?:/([1-9][0-9]*))?")


def cron_weekdays_as_names(expression: str) -> str:
    """The expression with a numeric day-of-week field written as day names.

    cron counts 0 (and 7) as Sunday, 1 as Monday; APScheduler 3's `from_crontab` reads the
    same digits as its own weekday numbers, 0 as Monday, so "0 8 * * 1" (Mondays) fired on
    Tuesdays. Names mean the same to both. Fields with names, or malformed, are left as they
    are (APScheduler reports what is wrong with them)."""
    fields = expression.split()
    if len(fields) != 5:
        return expression
    days: list[str] = []
    for item in fields[4].split(","):
        match = _NUMERIC_DAYS.fullmatch(item)
        if match is None:
            return expression
        first, last, step = match.groups()
        if last and (first == "*" or int(last) < int(first)):
            return expression  # "*-3", "5-2": not cron; APScheduler says so
        if first == "*":
            numbers = range(0, 7)
        else:
            numbers = range(int(first), int(last) + 1 if last else int(first) + 1)
            if step and not last:  # "1/2": from Monday to the end of the week
                numbers = range(int(first), 8)
        days += [_CRON_DAYS[n % 7] for n in numbers[:: int(step or 1)]]
    if not days or fields[4] == "*":
        return expression
    unique = list(dict.fromkeys(days))
    return " ".join([*fields[:4], ",".join(unique)])
