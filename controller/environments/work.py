"""The claim on an environment's provisioning or teardown, renewed while Argo CD works."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

from controller.concurrency import renewing
from controller.storage import Storage


@contextlib.asynccontextmanager
async def claimed_work(
    storage: Storage,
    env_id: int,
    *,
    worker: str,
    lease: timedelta,
    clock: Callable[[], datetime],
    what: str,
) -> AsyncIterator[None]:
    """``worker``'s claim on ``env_id`` renewed every quarter of ``lease`` during the block,
    so a replica that dies mid-way loses it after one lease, however long Argo CD takes."""

    async def renew() -> bool:
        now = clock()
        return await storage.renew_environment_work(
            env_id, worker=worker, now=now, lease_until=now + lease
        )

    async with renewing(renew, every=lease.total_seconds() / 4, what=what):
        yield
