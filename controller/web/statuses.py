"""``GET /api/v1/statuses``: the status outbox, e.g. every dead-lettered status and why.

``delivery`` filters by how posting stands: ``pending`` (not posted yet, retries included),
``posted`` or ``dead`` (given up: a permanent refusal or the retry budget spent; a newer
status for the same commit and context revives it).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from controller.storage import Storage
from controller.web.params import PAGE_MAX, int_param, text_param

DELIVERY_STATES = ("pending", "posted", "dead")


def status_routes(*, storage: Storage) -> list[Route]:
    async def listing(request: Request) -> Response:
        limit = int_param(request, "limit", default=100, low=1, high=PAGE_MAX) or 100
        statuses = await storage.list_statuses(
            delivery=text_param(request, "delivery", choices=DELIVERY_STATES), limit=limit
        )
        return JSONResponse({"statuses": [s.to_dict() for s in statuses]})

    return [Route("/api/v1/statuses", listing, methods=["GET"])]
