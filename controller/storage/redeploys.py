"""Argo CD redeploys versus repeated notifications, decided inside the delivery writer's
transaction (``controller.storage.delivery_batches``)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from controller.models.deliveries import RecordedDelivery, semantic_key
from controller.storage.rows import delivery_from_row
from controller.storage.tables import deliveries

if TYPE_CHECKING:
    from controller.storage.delivery_batches import PendingDelivery

_t = deliveries


async def resolve_redeploys(
    conn: AsyncConnection, batch: list[PendingDelivery]
) -> tuple[dict[int, PendingDelivery], dict[int, RecordedDelivery]]:
    """Tell an Argo CD redeploy from a repeated notification.

    An Argo CD body names the synced revision but not the one before, so A, then B, then A
    again would repeat the first sync's key and start nothing, though A was deployed anew.
    Each triggering Argo CD sync is therefore compared with the app's latest triggering sync
    (earlier in this batch, else in the table): the same revision is a repeat of that one;
    another revision is a new deployment, recorded as the event's ``previous_revision``, and
    its key follows the latest one's key (a chain, so A → B → A → B gives four keys).
    Replicas receiving one notification at once compute the same key, and the unique
    constraint keeps one. Returns the repeats of deliveries in this batch (by index) and of
    stored ones.
    """
    repeats: dict[int, PendingDelivery] = {}
    known: dict[int, RecordedDelivery] = {}
    latest: dict[tuple[str, str], tuple[str, str, PendingDelivery | None]] = {}
    for index, pending in enumerate(batch):
        delivery = pending.delivery
        revision = delivery.event.revision
        if delivery.source != "argocd" or delivery.semantic_key is None:
            continue
        app = (delivery.workspace, delivery.event.repository)
        if app not in latest:
            row = (
                await conn.execute(
                    select(_t.c.id, _t.c.revision, _t.c.semantic_key)
                    .where(
                        _t.c.workspace == app[0],
                        _t.c.source == "argocd",
                        _t.c.repository == app[1],
                        _t.c.trigger.is_(True),
                    )
                    .order_by(_t.c.id.desc())
                    .limit(1)
                )
            ).one_or_none()
            if row is not None and row.revision == revision:
                earlier = (await conn.execute(select(_t).where(_t.c.id == row.id))).one()
                known[index] = RecordedDelivery(delivery_from_row(earlier), duplicate=True)
                continue
            latest[app] = ("", "", None) if row is None else (row.revision, row.semantic_key, None)
        previous, previous_key, previous_pending = latest[app]
        if previous == revision and previous_pending is not None:
            repeats[index] = previous_pending
            continue
        event = replace(delivery.event, previous_revision=previous)
        key = semantic_key(event, follows=previous_key)
        pending.delivery = replace(delivery, event=event, semantic_key=key)
        assert key is not None  # a triggering event
        latest[app] = (revision, key, pending)
    return repeats, known
