"""``GET /api/v1/deliveries`` and ``/api/v1/deliveries/{id}``: what arrived and what it did.

The detail answers "why did my trigger not fire?" for a real delivery: the normalized event,
the config revision it was matched against, every rule considered with the predicates that
failed and the values compared, and the runs it queued. Bodies are not returned (they are
kept for replay, and their size is shown); headers, which carry the signatures and tokens,
were never stored.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from controller.models.deliveries import Delivery
from controller.models.events import EVENT_SOURCES
from controller.models.timestamps import iso_utc
from controller.storage import Storage
from controller.web.params import ID_MAX, PAGE_MAX, int_param, path_id, text_param


def delivery_routes(*, storage: Storage) -> list[Route]:
    async def listing(request: Request) -> Response:
        limit = int_param(request, "limit", default=50, low=1, high=PAGE_MAX) or 50
        deliveries = await storage.recent_deliveries(
            limit=limit,
            before=int_param(request, "before", default=None, low=1, high=ID_MAX),
            source=text_param(request, "source", choices=EVENT_SOURCES),
            workspace=text_param(request, "workspace"),
        )
        following = deliveries[-1].id if len(deliveries) == limit else None
        return JSONResponse(
            {"deliveries": [summary(d) for d in deliveries], "next_before": following}
        )

    async def detail(request: Request) -> Response:
        delivery = await storage.get_delivery(path_id(request, "delivery"))
        runs = await storage.list_runs(delivery=delivery.id, limit=1000)
        return JSONResponse(
            {
                **summary(delivery),
                "event": delivery.event.to_dict(),
                "match": None if delivery.match is None else delivery.match.to_dict(),
                "runs": [run.to_dict() for run in reversed(runs)],
            }
        )

    return [
        Route("/api/v1/deliveries", listing, methods=["GET"]),
        Route("/api/v1/deliveries/{id:int}", detail, methods=["GET"]),
    ]


def summary(delivery: Delivery) -> dict[str, Any]:
    event = delivery.event
    match = delivery.match
    return {
        "id": delivery.id,
        "source": delivery.source,
        "delivery_id": delivery.delivery_id or None,
        "integration": f"{delivery.workspace}/{delivery.integration}",
        "event": event.type,
        "action": event.action or None,
        "repository": event.repository,
        "branch": event.branch or None,
        "revision": event.revision or None,
        "trigger": event.trigger,
        "ignored_reason": event.ignored_reason or None,
        "received_at": iso_utc(delivery.received_at),
        "config_revision": delivery.config_revision or None,
        "summary": None if match is None else match.summary,
        "body_bytes": len(delivery.raw_body),
    }
