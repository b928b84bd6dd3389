"""``GET /api/v1/config/status``: which revision serves, and what is wrong with the newest."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from controller.configsync.service import ConfigAttempt, ConfigSync
from controller.models.timestamps import iso_utc

MAX_PROBLEMS_SHOWN = 200


def config_status_routes(*, sync: ConfigSync, poll_interval_seconds: float) -> list[Route]:
    async def config_status(request: Request) -> Response:
        return JSONResponse(config_status_document(sync, poll_interval_seconds))

    return [Route("/api/v1/config/status", config_status, methods=["GET"])]


def config_status_document(sync: ConfigSync, poll_interval_seconds: float) -> dict[str, Any]:
    status = sync.status()
    live = status.live
    attempt = status.last_attempt
    failure = status.source_failure
    errors = [str(p) for p in attempt.problems[:MAX_PROBLEMS_SHOWN]] if attempt else []
    if failure is not None:
        errors.insert(0, f"config source: {failure.message}")
    return {
        "source": {**sync.source.describe(), "poll_interval_seconds": poll_interval_seconds},
        "applied": None
        if live is None
        else {
            "revision": live.revision,
            "applied_at": iso_utc(live.loaded_at),
            "documents": live.counts(),
            "workspaces": list(live.workspaces()),
        },
        "last_attempt": None if attempt is None else _attempt(attempt),
        "source_error": None
        if failure is None
        else {
            "message": failure.message,
            "at": iso_utc(failure.at),
            "temporary": failure.temporary,
        },
        "errors": errors,
    }


def _attempt(attempt: ConfigAttempt) -> dict[str, Any]:
    return {
        "revision": attempt.revision,
        "summary": attempt.summary,
        "at": iso_utc(attempt.at),
        "valid": attempt.valid,
        "document_count": attempt.document_count,
        "problem_count": len(attempt.problems),
        "problems": [p.to_dict() for p in attempt.problems[:MAX_PROBLEMS_SHOWN]],
    }
