"""The job runner: periods that a reload changes, and a stop that gives jobs their grace."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from syndicator.scheduler import JobRunner, PeriodicJob


def test_a_rescheduled_job_runs_at_its_new_period() -> None:
    async def scenario() -> int:
        runs = 0

        async def job() -> None:
            nonlocal runs
            runs += 1

        runner = JobRunner([PeriodicJob("poll", timedelta(hours=1), job)])
        runner.start()
        await asyncio.sleep(0.1)  # the first run starts at once
        runner.reschedule("poll", timedelta(seconds=0.1))
        await asyncio.sleep(1)
        await runner.stop(timedelta(seconds=1))
        return runs

    assert asyncio.run(scenario()) >= 4


def test_stop_cancels_a_job_past_its_grace_and_names_it() -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        async def hangs() -> None:
            await asyncio.sleep(60)

        async def quick() -> None:
            await asyncio.sleep(0.05)

        runner = JobRunner(
            [
                PeriodicJob("poll", timedelta(hours=1), hangs),
                PeriodicJob("deliver", timedelta(hours=1), quick),
            ]
        )
        runner.start()
        await asyncio.sleep(0.02)
        cancelled = await runner.stop(timedelta(seconds=0.3))
        return cancelled, [task.get_name() for task in asyncio.all_tasks()][1:]

    cancelled, left = asyncio.run(scenario())
    assert cancelled == ["poll"]
    assert left == []
