"""Webhook deliveries: record each once, whoever receives it and however often.

``record_delivery`` hands the row to the group-commit writer (``delivery_batches``), which
inserts with ``INSERT … ON CONFLICT DO NOTHING RETURNING`` and no conflict target, so either
unique constraint — ``(source, delivery_id)`` or ``(workspace, semantic_key)`` — turns a
repeat into "no row". The earlier row is then read in the same write transaction and
returned with ``duplicate=True``. Never check-then-insert: replicas
receiving the same delivery at once end with one row, and exactly one of them sees
``duplicate=False``. On PostgreSQL (read committed) the insert waits for a concurrent
uncommitted insert of the same key, and the following read sees that row once committed; on
SQLite the write transaction holds the database's write lock throughout.

An empty ``delivery_id`` is stored as NULL and an event that does not trigger has no semantic
key (NULL); NULLs never collide, so such deliveries are only deduplicated by the other key.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from controller.errors import NotFound, StorageError
from controller.models.deliveries import Delivery, RecordedDelivery, semantic_key
from controller.models.events import Event
from controller.models.matching import MatchReport
from controller.models.runs import RunRequest
from controller.storage.database import Database
from controller.storage.delivery_batches import DeliveryBatcher, PendingDelivery
from controller.storage.rows import delivery_from_row
from controller.storage.tables import DELIVERY_ID_MAX, DELIVERY_SOURCE_MAX, NAME_MAX, deliveries
from controller.storage.types import require_aware

MAX_LIST_LIMIT = 1000

_t = deliveries


class DeliveryQueries:
    """The delivery part of ``Storage`` (mixed in; needs ``_db``)."""

    _db: Database
    _delivery_batches: DeliveryBatcher

    async def record_delivery(
        self,
        *,
        source: str,
        delivery_id: str,
        integration: str,
        workspace: str,
        event: Event,
        body: bytes,
        received_at: datetime,
        match: MatchReport | None = None,
        runs: Sequence[RunRequest] = (),
    ) -> RecordedDelivery:
        """Record a delivery, or find the earlier one it repeats (``duplicate=True``).

        A repeat has the same ``source`` and non-empty ``delivery_id``, or (same
        ``workspace``) the same ``semantic_key(event)``. A new delivery is stored with its
        ``match`` decisions and its ``runs`` queued, all in one transaction; a repeat stores
        and queues nothing. Raises ``ValueError`` for a naive
        ``received_at`` and ``StorageError`` for an empty ``source`` or an over-long
        ``source``/``delivery_id``/``integration``/``workspace``.
        """
        _check_lengths(source, delivery_id, integration, workspace)
        require_aware(received_at, "received_at")
        key = semantic_key(event)
        delivery = Delivery(
            id=0,
            source=source,
            delivery_id=delivery_id,
            semantic_key=key,
            integration=integration,
            workspace=workspace,
            event=event,
            body=body.decode("utf-8", "surrogateescape"),
            received_at=received_at,
            config_revision="" if match is None else match.config_revision,
            match=match,
        )
        pending = PendingDelivery(delivery, body, runs)
        return await self._delivery_batches.record(pending)

    async def get_delivery(self, id: int) -> Delivery:
        """The delivery recorded as ``id``; raises ``NotFound`` if there is none."""
        async with self._db.read(f"reading delivery {id}") as conn:
            row = (await conn.execute(select(_t).where(_t.c.id == id))).one_or_none()
        if row is None:
            raise NotFound(f"delivery {id} was never recorded")
        return delivery_from_row(row)

    async def recent_deliveries(
        self,
        *,
        limit: int = 50,
        before: int | None = None,
        source: str | None = None,
        workspace: str | None = None,
    ) -> list[Delivery]:
        """The latest deliveries, most recently recorded first, filtered by ``source`` and
        ``workspace`` when given; ``before`` is a delivery id to page from (exclusive)."""
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIST_LIMIT}, got {limit}")
        statement = select(_t).order_by(_t.c.id.desc()).limit(limit)
        if before is not None:
            statement = statement.where(_t.c.id < before)
        if source is not None:
            statement = statement.where(_t.c.source == source)
        if workspace is not None:
            statement = statement.where(_t.c.workspace == workspace)
        async with self._db.read("listing deliveries") as conn:
            rows = (await conn.execute(statement)).all()
        return [delivery_from_row(row) for row in rows]


def _check_lengths(source: str, delivery_id: str, integration: str, workspace: str) -> None:
    # StorageError like config revisions: both backends must refuse the same values.
    if not 0 < len(source) <= DELIVERY_SOURCE_MAX:
        raise StorageError(
            f"source must be 1 to {DELIVERY_SOURCE_MAX} characters, got {len(source)}"
        )
    if len(delivery_id) > DELIVERY_ID_MAX:
        raise StorageError(
            f"delivery_id must be at most {DELIVERY_ID_MAX} characters, got {len(delivery_id)}"
        )
    for name, value in (("integration", integration), ("workspace", workspace)):
        if len(value) > NAME_MAX:
            raise StorageError(f"{name} must be at most {NAME_MAX} characters, got {len(value)}")
