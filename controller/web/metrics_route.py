"""``GET /metrics``: Prometheus' text format (``controller.metrics`` says what is counted
where). Open like the health checks: it shows counts, never a name or a secret."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from controller.metrics import CONTENT_TYPE, Metrics
from controller.storage import Storage


def metrics_routes(*, storage: Storage, metrics: Metrics) -> list[Route]:
    async def scrape(request: Request) -> Response:
        tallies = await storage.tallies()
        return Response(metrics.exposition(tallies), media_type=CONTENT_TYPE)

    return [Route("/metrics", scrape, methods=["GET"])]
