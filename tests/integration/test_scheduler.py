"""The scheduler runs jobs on the loop, survives their failures, and stops quietly."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest

from controller.scheduler import Scheduler
from tests.support.waiting import eventually

pytestmark = pytest.mark.anyio


async def test_scheduler_keeps_running_a_failing_job_and_logs_each_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[int] = []

    async def failing() -> None:
        calls.append(1)
        raise RuntimeError("boom")

    scheduler = Scheduler()
    scheduler.every(timedelta(seconds=1), failing, name="failing", start_now=True)
    scheduler.start()
    try:

        async def count() -> int:
            return len(calls)

        await eventually(count, until=lambda n: n >= 2, within=10, what="two runs")
    finally:
        scheduler.shutdown()
    failures = [r for r in caplog.records if "periodic job failing failed" in r.getMessage()]
    assert len(failures) >= 2


async def test_scheduler_shutdown_during_a_job_is_not_reported_as_a_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    started = asyncio.Event()

    async def slow() -> None:
        started.set()
        await asyncio.sleep(3600)

    scheduler = Scheduler()
    scheduler.every(timedelta(hours=1), slow, name="slow", start_now=True)
    with caplog.at_level(logging.INFO):
        scheduler.start()
        async with asyncio.timeout(10):
            await started.wait()
        scheduler.shutdown()

        async def stopped() -> bool:
            return any("stopped by shutdown" in r.getMessage() for r in caplog.records)

        await eventually(stopped, until=bool, what="job stopped")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
