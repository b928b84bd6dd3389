"""The watchdog: no commit status stays pending forever.

A pending status is only as alive as its run. Each tick ends as ``error`` (and so turns the
status red, with the reason in the description) every run that posts a status and

- has waited in the queue longer than ``queue_timeout`` (no runner took it: all replicas
  run intake only, or the runners are stuck), or
- was running when its runner stopped, and no runner took it over within ``stranded_after``
  of its lease running out (runners re-claim expired runs long before that);

and it hands back to the poster every run that ended while its status still says pending
(the change was lost between the two writes), and turns ``error`` a pending status whose
run no longer exists. The poster is then woken.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from controller.models.durations import format_duration
from controller.storage import Storage

log = logging.getLogger(__name__)


class StatusWatchdog:
    def __init__(
        self,
        *,
        storage: Storage,
        queue_timeout: timedelta,
        stranded_after: timedelta = timedelta(minutes=10),
        on_change: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._storage = storage
        self._queue_timeout = queue_timeout
        self._stranded_after = stranded_after
        self._on_change = on_change
        self._clock = clock

    async def tick(self) -> int:
        now = self._clock()
        changed = await self._storage.fail_stale_runs(
            now=now,
            queued_before=now - self._queue_timeout,
            lease_expired_before=now - self._stranded_after,
            queued_message=(
                f"not started within {format_duration(self._queue_timeout)}: no runner took it"
            ),
            lease_message=(
                "its runner stopped and no runner took it over within "
                f"{format_duration(self._stranded_after)}"
            ),
        )
        if changed:
            log.warning("watchdog: %d run(s) whose status would have stayed pending", changed)
            self._on_change()
        return changed
