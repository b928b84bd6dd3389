"""Group commit for deliveries: many webhook deliveries, one write transaction.

Every delivery must be committed before it is acknowledged, and with SQLite every commit
takes the database's single write lock. One transaction per delivery makes concurrent
webhooks queue for that lock (and, across connections, sleep in SQLite's busy handler). So
deliveries are handed to one writer task per ``Storage``: it takes every delivery waiting,
writes them in one transaction with multi-row statements (deliveries, then runs, then one
supersede; Argo CD syncs first look up their app's latest sync, see ``redeploys``; a closed
pull request closes its environments in the same transaction),
commits, and only then answers each caller. Nothing waits on a timer: the writer
lets the tasks already runnable go first (two event loop turns), then takes what is queued;
under low load a batch is one delivery, under load the deliveries that arrived meanwhile.

Guarantees: a caller gets its result only after the commit that holds its row; a duplicate
(of an earlier row, or of another delivery in the same batch) is answered with the row that
won, and queues nothing. If a batch fails, each delivery is retried in a transaction of its
own, so one delivery the database refuses fails alone (when the database is unavailable,
the whole batch fails at once). A caller that gave up waiting (its timeout) is dropped
from batches not yet started; if its batch already started, its row may still commit, and
a re-sent delivery is then answered as a duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from controller.errors import MeshgateError, StorageError, StorageUnavailable
from controller.models.deliveries import Delivery, RecordedDelivery
from controller.models.runs import RunRequest
from controller.storage.bulk import BulkInsert
from controller.storage.database import Database
from controller.storage.environments import close_environments
from controller.storage.redeploys import resolve_redeploys
from controller.storage.rows import delivery_from_row
from controller.storage.runs import queue_runs
from controller.storage.tables import deliveries

log = logging.getLogger(__name__)

MAX_BATCH = 256
COLUMNS = (
    "source",
    "delivery_id",
    "semantic_key",
    "integration",
    "workspace",
    "event_type",
    "repository",
    "revision",
    "trigger",
    "event",
    "body",
    "received_at",
    "config_revision",
    "decisions",
)
GATHER_TICKS = 2

_t = deliveries


@dataclass(slots=True, eq=False)
class PendingDelivery:
    """A delivery waiting for the writer: the value to store (its ``id`` is filled in once
    the row has one), its body bytes, its runs, and the caller's future."""

    delivery: Delivery
    body: bytes
    runs: Sequence[RunRequest]
    future: asyncio.Future[RecordedDelivery] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    @property
    def id_key(self) -> tuple[str, str] | None:
        delivery = self.delivery
        return (delivery.source, delivery.delivery_id) if delivery.delivery_id else None

    @property
    def event_key(self) -> tuple[str, str] | None:
        key = self.delivery.semantic_key
        return None if key is None else (self.delivery.workspace, key)

    def row(self) -> dict[str, Any]:
        """The ``deliveries`` row (``COLUMNS``)."""
        delivery, event, match = self.delivery, self.delivery.event, self.delivery.match
        return {
            "source": delivery.source,
            "delivery_id": delivery.delivery_id or None,
            "semantic_key": delivery.semantic_key,
            "integration": delivery.integration,
            "workspace": delivery.workspace,
            "event_type": event.type,
            "repository": event.repository,
            "revision": event.revision,
            "trigger": event.trigger,
            "event": event.to_dict(),
            "body": self.body,
            "received_at": delivery.received_at,
            "config_revision": None if match is None else match.config_revision,
            "decisions": None if match is None else match.to_dict(),
        }


class DeliveryBatcher:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._queue: asyncio.Queue[PendingDelivery] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        self._insert_rows_sql = BulkInsert(
            _t,
            COLUMNS,
            dialect=db.dialect,
            returning=("id", "source", "delivery_id", "workspace", "semantic_key"),
            ignore_conflicts=True,
        )

    async def record(self, pending: PendingDelivery) -> RecordedDelivery:
        if self._closed:
            raise StorageUnavailable("storage is closed (while recording a delivery)")
        if self._queue is None or self._writer is None or self._writer.done():
            self._queue = asyncio.Queue()
            self._writer = asyncio.get_running_loop().create_task(
                self._write_forever(self._queue), name="delivery-writer"
            )
        self._queue.put_nowait(pending)
        # Not shielded: a caller that stops waiting cancels the future, and the writer then
        # leaves the delivery out of any batch not yet started.
        return await pending.future

    async def close(self) -> None:
        """Stop the writer; callers still waiting get ``StorageUnavailable``."""
        self._closed = True
        writer, queue = self._writer, self._queue
        if writer is not None:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        while queue is not None and not queue.empty():
            _fail(queue.get_nowait(), StorageUnavailable("storage closed before the write"))

    async def _write_forever(self, queue: asyncio.Queue[PendingDelivery]) -> None:
        while True:
            batch = [await queue.get()]
            # Let the tasks that are ready run first (those just answered, with their next
            # delivery in hand): without this, batches stay as small as they start.
            for _ in range(GATHER_TICKS):
                await asyncio.sleep(0)
            while len(batch) < MAX_BATCH and not queue.empty():
                batch.append(queue.get_nowait())
            waiting = [p for p in batch if not p.future.done()]
            try:
                await self._write(waiting)
            except asyncio.CancelledError:
                for pending in waiting:
                    _fail(pending, StorageUnavailable("storage closed during the write"))
                raise
            except Exception as exc:  # never let the writer die with callers waiting
                log.error("delivery writer failed", exc_info=exc)
                for pending in waiting:
                    _fail(pending, StorageError("recording the delivery failed"))

    async def _write(self, batch: list[PendingDelivery]) -> None:
        if not batch:
            return
        doing = f"recording {len(batch)} deliver{'y' if len(batch) == 1 else 'ies'}"
        try:
            async with self._db.write(doing) as conn:
                results = await self._insert(conn, batch)
        except StorageError as exc:
            if len(batch) == 1:
                _fail(batch[0], exc)
                return
            for pending in batch:  # find the delivery the database refused
                if not pending.future.done():
                    await self._write([pending])
            return
        except MeshgateError as exc:  # unavailable: every delivery of the batch alike
            for pending in batch:
                _fail(pending, exc)
            return
        for pending, result in zip(batch, results, strict=True):
            if not pending.future.done():
                pending.future.set_result(result)

    async def _insert(
        self, conn: AsyncConnection, batch: list[PendingDelivery]
    ) -> list[RecordedDelivery]:
        repeats, known = await resolve_redeploys(conn, batch)
        winners: dict[tuple[str, ...], PendingDelivery] = {}
        unique: list[PendingDelivery] = []
        for index, pending in enumerate(batch):
            if index in repeats or index in known:
                continue
            earlier = next((winners[key] for key in _keys(pending) if key in winners), None)
            if earlier is not None:
                repeats[index] = earlier
                continue
            for key in _keys(pending):
                winners[key] = pending
            unique.append(pending)

        inserted_ids = await self._insert_rows(conn, unique)
        stored: dict[int, RecordedDelivery] = {}  # id(pending) -> result
        runs: list[tuple[RunRequest, int]] = []
        for pending in unique:
            row_id = inserted_ids.get(id(pending))
            if row_id is None:
                stored[id(pending)] = await _find_earlier(conn, pending)
                continue
            pending.delivery = replace(pending.delivery, id=row_id)
            runs.extend((request, row_id) for request in pending.runs)
            await _close_environments(conn, pending.delivery)
        queued = await queue_runs(conn, runs, at=batch[0].delivery.received_at) if runs else ()
        by_delivery: dict[int, list[Any]] = {}
        for run in queued:
            by_delivery.setdefault(run.delivery or 0, []).append(run)
        for pending in unique:
            if id(pending) not in stored:
                own = tuple(by_delivery.get(pending.delivery.id, ()))
                stored[id(pending)] = RecordedDelivery(pending.delivery, duplicate=False, runs=own)
        results = []
        for index, pending in enumerate(batch):
            if index in known:
                results.append(known[index])
            elif index in repeats:
                winner = stored[id(repeats[index])]
                results.append(RecordedDelivery(winner.delivery, duplicate=True))
            else:
                results.append(stored[id(pending)])
        return results

    async def _insert_rows(
        self, conn: AsyncConnection, unique: list[PendingDelivery]
    ) -> dict[int, int]:
        """Insert ``unique`` (no two share a key); the row id of each one inserted, keyed by
        ``id(pending)``. ``RETURNING`` order is not guaranteed for a multi-row insert, so
        rows are matched back by their unique keys."""
        rows = await self._insert_rows_sql.execute(conn, [p.row() for p in unique])
        by_key: dict[tuple[str, ...], int] = {}
        anonymous: list[int] = []
        for row_id, source, delivery_id, workspace, key in rows:
            if delivery_id is not None:
                by_key[("id", source, delivery_id)] = row_id
            if key is not None:
                by_key[("event", workspace, key)] = row_id
            if delivery_id is None and key is None:
                anonymous.append(row_id)
        found: dict[int, int] = {}
        keyless = []
        for pending in unique:
            keys = _keys(pending)
            if not keys:
                keyless.append(pending)
                continue
            row_id = next((by_key[k] for k in keys if k in by_key), None)
            if row_id is not None:
                found[id(pending)] = row_id
        # Rows with neither a delivery id nor an event key cannot conflict, so all of them
        # were inserted; ids grow in insertion order within one statement on both backends
        # (one sequence or rowid, taken row by row), which pairs them up.
        for pending, row_id in zip(keyless, sorted(anonymous), strict=True):
            found[id(pending)] = row_id
        return found


async def _close_environments(conn: AsyncConnection, delivery: Delivery) -> None:
    match = delivery.match
    if match is not None and (match.closes_pull_request or match.closes_contexts):
        await close_environments(
            conn,
            delivery.workspace,
            match.closes_contexts,
            match.closes_pull_request or None,
            delivery.received_at,
        )


def _keys(pending: PendingDelivery) -> list[tuple[str, ...]]:
    keys: list[tuple[str, ...]] = []
    if pending.id_key is not None:
        keys.append(("id", *pending.id_key))
    if pending.event_key is not None:
        keys.append(("event", *pending.event_key))
    return keys


async def _find_earlier(conn: AsyncConnection, pending: PendingDelivery) -> RecordedDelivery:
    """The stored delivery that ``pending`` repeats (it was not inserted)."""
    conditions = []
    if pending.id_key is not None:
        source, delivery_id = pending.id_key
        conditions.append((_t.c.source == source) & (_t.c.delivery_id == delivery_id))
    if pending.event_key is not None:
        workspace, key = pending.event_key
        conditions.append((_t.c.workspace == workspace) & (_t.c.semantic_key == key))
    for condition in conditions:  # the same delivery id first: a retry of that delivery
        row = (await conn.execute(select(_t).where(condition))).one_or_none()
        if row is not None:
            return RecordedDelivery(delivery_from_row(row), duplicate=True)
    raise StorageError("a delivery conflicts with a row that cannot be found")


def _fail(pending: PendingDelivery, exc: BaseException) -> None:
    if not pending.future.done():
        pending.future.set_exception(exc)
