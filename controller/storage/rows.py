"""Rows back into values, shared by the query modules of ``controller.storage``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from controller.models.deliveries import Delivery
from controller.models.events import Event
from controller.models.matching import MatchReport


def delivery_from_row(row: Row[Any]) -> Delivery:
    return Delivery(
        id=row.id,
        source=row.source,
        delivery_id=row.delivery_id or "",
        semantic_key=row.semantic_key,
        integration=row.integration,
        workspace=row.workspace,
        event=Event.from_dict(row.event),
        body=bytes(row.body).decode("utf-8", "surrogateescape"),
        received_at=row.received_at,
        config_revision=row.config_revision or "",
        match=None if row.decisions is None else MatchReport.from_dict(row.decisions),
    )
