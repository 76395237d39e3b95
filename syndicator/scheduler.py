"""APScheduler 3.x wiring only: run named coroutine jobs periodically on the asyncio loop.

Each job runs at most once at a time, missed runs coalesce into one, and the first run starts
immediately. `next_cron_time` reads a digest's cron schedule.
Which sources are due is not decided here: that lives in SQLite (`next_poll_at`),
so this scheduler only sets the tick. The only importer of apscheduler.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from syndicator.cron import WEEKDAYS, parse_cron


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
        self._in_flight: dict[asyncio.Task[None], str] = {}  # running job -> its name
        self._stopping = False

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
                self._in_flight[task] = job.name
            try:
                await job.run()
            except asyncio.CancelledError:
                if not self._stopping:
                    raise
                # Cancelled by `stop` once its grace ran out, which its caller reports in one
                # line. Raised on, APScheduler would log it as the job's error with a traceback.
                if task is not None:
                    task.uncancel()
            finally:
                if task is not None:
                    self._in_flight.pop(task, None)

        return run

    def reschedule(self, name: str, every: timedelta) -> None:
        """Run job `name` every `every` from now on (a reload changed its period)."""
        trigger = IntervalTrigger(seconds=every.total_seconds(), timezone=UTC)
        self._scheduler.reschedule_job(name, trigger=trigger)

    def run_soon(self, name: str) -> None:
        """Run job `name` at once, then on its period again (a reload changed what it does)."""
        self._scheduler.modify_job(name, next_run_time=datetime.now(UTC))

    async def stop(self, grace: timedelta) -> list[str]:
        """Stop scheduling and give running jobs `grace` to finish, then cancel them.
        Returns the names of the jobs cancelled (none if all finished in time)."""
        self._stopping = True
        # Paused, not shut down, while the grace runs: APScheduler's shutdown cancels the
        # running coroutine jobs at once (and logs each as failed), which left no grace.
        if self._scheduler.running:
            self._scheduler.pause()
        pending = set(self._in_flight)
        cancelled: list[str] = []
        if pending:
            _, still_running = await asyncio.wait(pending, timeout=grace.total_seconds())
            cancelled = sorted(self._in_flight.get(task, "?") for task in still_running)
            for task in still_running:
                task.cancel()
            if still_running:
                await asyncio.gather(*still_running, return_exceptions=True)
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        return cancelled


def next_cron_time(expression: str, timezone: str, after: datetime) -> datetime:
    """The first time after `after` that a 5-field cron expression fires, in UTC: the alert
    digests' schedules, with standard cron's rules (`syndicator.cron`). ValueError for a
    malformed expression.

    When the clock goes back (the end of daylight saving time), a job at a fixed time
    ("30 2 * * *") fires in the first pass of the repeated hour only, as cron runs it: once a
    day. APScheduler fires it in both passes, so a daily digest at 02:30 in Berlin came twice
    on the last Sunday of October. A wildcard job ("*/30 * * * *", "0 * * * *") fires in
    both, as in cron: its times are a matter of elapsed time, not of the wall clock."""
    trigger = cron_trigger(expression, timezone)
    fixed = _fixed_time(expression)
    moment: datetime | None = after
    while moment is not None:
        # In UTC: an aware time plus a timedelta is wall-clock arithmetic, which would take
        # the second 02:30 back to the first.
        start = moment.astimezone(UTC) + timedelta(microseconds=1)
        moment = trigger.get_next_fire_time(None, start)
        if moment is not None and not (fixed and _second_pass(moment)):
            fired: datetime = moment.astimezone(UTC)
            return fired
    raise ValueError(f"cron expression {expression!r} never fires")


@lru_cache(maxsize=256)
def _fixed_time(expression: str) -> bool:
    return parse_cron(expression).fixed_time


def _second_pass(moment: datetime) -> bool:
    """Whether `moment`'s wall-clock time is the second of two (the hour that repeats when
    daylight saving time ends): the same time an hour earlier had the other UTC offset."""
    if moment.tzinfo is None:
        return False
    local = moment.astimezone(UTC).astimezone(moment.tzinfo)  # from UTC: `fold` is set
    return local.fold == 1 and local.replace(fold=0).utcoffset() != local.utcoffset()


@lru_cache(maxsize=256)  # a digest asks again for every fire time it steps over
def cron_trigger(expression: str, timezone: str) -> BaseTrigger:
    """The APScheduler trigger of a cron expression read as cron reads it.

    Not `CronTrigger.from_crontab`: APScheduler 3 counts weekdays from 0 = Monday (cron: 0 and
    7 are Sunday), and ANDs a restricted day of month with a restricted weekday, where cron
    ORs them ("0 7 1 * 1": the 1st and every Monday). The fields are given to it as value
    lists, weekdays by name, and the OR as an OrTrigger of a day trigger and a weekday one."""
    spec = parse_cron(expression)
    common = {
        "minute": _listed(spec.minutes),
        "hour": _listed(spec.hours),
        "month": _listed(spec.months),
        "timezone": timezone,
    }
    days, weekdays = _listed(spec.days), ",".join(WEEKDAYS[day] for day in spec.weekdays)
    if spec.any_day_field:
        return OrTrigger(
            [CronTrigger(day=days, **common), CronTrigger(day_of_week=weekdays, **common)]
        )
    return CronTrigger(day=days, day_of_week=weekdays, **common)


def _listed(values: tuple[int, ...]) -> str:
    return ",".join(map(str, values))
