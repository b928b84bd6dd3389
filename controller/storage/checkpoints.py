"""SQLite WAL checkpoints, taken beside the writers instead of inside their commits.

By default SQLite checkpoints (copies the write-ahead log back into the database file and
syncs it) in whichever connection commits past 1000 log pages, inside that commit. With
webhooks committing in batches, that made every few commits several milliseconds longer
while every delivery of the batch waited. The engine turns the automatic checkpoint off
(``wal_autocheckpoint = 0``) and this takes a ``PASSIVE`` checkpoint on a connection of its
own after every few write transactions: it runs concurrently with the next writer (readers
and writers are never blocked by a passive checkpoint) and costs the committing request
nothing. If a checkpoint cannot finish (a reader still needs old pages), the next one
carries on from where it stopped; the log never grows without bound while writes go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

COMMITS_PER_CHECKPOINT = 8


class WalCheckpointer:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._commits = 0
        self._running: asyncio.Task[None] | None = None

    def note_commit(self) -> None:
        """Count a committed write; start a checkpoint every few (never two at once)."""
        self._commits += 1
        if self._commits < COMMITS_PER_CHECKPOINT:
            return
        if self._running is not None and not self._running.done():
            return
        self._commits = 0
        self._running = asyncio.get_running_loop().create_task(
            self._checkpoint(), name="sqlite-checkpoint"
        )

    async def _checkpoint(self) -> None:
        try:
            async with self._engine.connect() as conn:
                raw = await conn.get_raw_connection()
                driver = raw.driver_connection
                assert driver is not None  # a live pooled connection
                await driver.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception as exc:  # the next one retries; nothing is lost by skipping one
            log.warning("SQLite checkpoint failed: %s", exc)

    async def aclose(self) -> None:
        """Wait for a checkpoint in progress (it is short and leaves the file consistent)."""
        running = self._running
        if running is not None:
            with contextlib.suppress(Exception):
                await running
