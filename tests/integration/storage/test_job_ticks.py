"""Job ticks on both backends: of the replicas firing a periodic job, one does each tick."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from controller.storage import Storage
from tests.integration.storage.test_runs import T0

pytestmark = pytest.mark.anyio
EVERY = timedelta(seconds=30)


async def test_a_tick_is_claimed_once_per_interval(storage: Storage) -> None:
    assert await storage.claim_tick("orphan-sweep", owner="a", now=T0, every=EVERY)
    assert not await storage.claim_tick("orphan-sweep", owner="b", now=T0, every=EVERY)
    assert not await storage.claim_tick(
        "orphan-sweep", owner="b", now=T0 + timedelta(seconds=20), every=EVERY
    )
    assert await storage.claim_tick("environment-sweep", owner="b", now=T0, every=EVERY)
    # A timer firing a little early still finds its tick due.
    assert await storage.claim_tick(
        "orphan-sweep", owner="b", now=T0 + timedelta(seconds=28), every=EVERY
    )


async def test_replicas_firing_at_once_do_a_tick_once(database_url: str) -> None:
    replicas = [await Storage.open(database_url) for _ in range(3)]
    try:
        for second in (0, 30, 60):
            now = T0 + timedelta(seconds=second)
            wins = await asyncio.gather(
                *(
                    replica.claim_tick("status-watchdog", owner=f"r{n}", now=now, every=EVERY)
                    for n, replica in enumerate(replicas)
                    for _ in range(3)
                )
            )
            assert sum(wins) == 1, second
    finally:
        for replica in replicas:
            await replica.close()
