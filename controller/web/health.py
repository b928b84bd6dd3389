"""Liveness and readiness.

``/healthz`` answers while the process can serve HTTP at all. ``/readyz`` answers 200 only
when every readiness check passes (database reachable, a valid config in force); an invalid
new config revision does not make the server unready, because the last good one keeps
serving.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ReadinessCheck = Callable[[], Awaitable[str | None]]
"""Returns ``None`` when ready, else the reason it is not."""


def health_routes(*, readiness: Sequence[ReadinessCheck]) -> list[Route]:
    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        reasons = [reason for check in readiness if (reason := await check()) is not None]
        if reasons:
            return JSONResponse({"status": "not ready", "reasons": reasons}, status_code=503)
        return JSONResponse({"status": "ready"})

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
