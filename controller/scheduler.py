"""Periodic jobs (the only module that imports APScheduler).

APScheduler 3 runs in memory, one per replica, and only *triggers* ticks; jobs that must run
once across replicas claim their tick in the database themselves (DESIGN.md §5). Each job
runs on the event loop, never overlaps with itself (``max_instances=1``), and a late tick
is coalesced into one run instead of a burst.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


class Scheduler:
    def __init__(self) -> None:
        self._scheduler = AsyncIOScheduler(timezone=UTC)

    def every(self, interval: timedelta, job: Job, *, name: str, start_now: bool = False) -> None:
        """Run ``job`` every ``interval``; with ``start_now`` the first run is immediate.

        (APScheduler reads an explicit ``next_run_time=None`` as "paused", hence the dict.)
        """

        async def guarded() -> None:
            try:
                await job()
            except asyncio.CancelledError:
                # The scheduler cancels a running job when it shuts down; that is the
                # expected end of this task, not a failure to report.
                log.info("periodic job %s stopped by shutdown", name)
            except Exception:
                log.exception("periodic job %s failed; it will run again in %s", name, interval)

        timing: dict[str, object] = {"next_run_time": datetime.now(UTC)} if start_now else {}
        self._scheduler.add_job(
            guarded,
            "interval",
            seconds=interval.total_seconds(),
            id=name,
            name=name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(interval.total_seconds())),
            replace_existing=True,
            **timing,
        )

    def start(self) -> None:
        self._scheduler.start()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
