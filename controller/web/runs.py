"""Runs API: ``GET /api/v1/runs[/{id}]`` (a run with its commit statuses and, once it
finished, its evidence),
``GET /api/v1/runs/{id}/junit.xml``, the manual run
``POST /api/v1/workspaces/{ws}/suites/{suite}/runs`` and the re-run
``POST /api/v1/runs/{id}/rerun`` (``{"config_revision": "same" | "latest"}``; both need an
API token)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypedDict

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from controller.errors import NotFound
from controller.intake.manual_runs import ManualRuns
from controller.models.runs import RUN_STATES, TRIGGER_TYPES
from controller.settings import Secret
from controller.storage import Storage
from controller.web.api_tokens import require_api_token
from controller.web.params import ID_MAX, PAGE_MAX, int_param, json_object, path_id, text_param


class RunFilters(TypedDict):
    workspace: str | None
    suite: str | None
    state: str | None
    repository: str | None
    trigger_type: str | None


def run_filters(request: Request) -> RunFilters:
    """The runs list's filters, shared by the API and the dashboard (400 for a bad one)."""
    return {
        "workspace": text_param(request, "workspace"),
        "suite": text_param(request, "suite"),
        "state": text_param(request, "state", choices=RUN_STATES),
        "repository": text_param(request, "repository"),
        "trigger_type": text_param(request, "trigger_type", choices=TRIGGER_TYPES),
    }


def run_routes(
    *,
    storage: Storage,
    manual_runs: ManualRuns,
    api_tokens: Sequence[Secret],
    on_queued: Callable[[], None] = lambda: None,
) -> list[Route]:
    """``on_queued`` is told of each manual run once it is queued (the runner wakes)."""

    async def listing(request: Request) -> Response:
        limit = int_param(request, "limit", default=50, low=1, high=PAGE_MAX) or 50
        runs = await storage.list_runs(
            **run_filters(request),
            delivery=int_param(request, "delivery", default=None, low=1, high=ID_MAX),
            before=int_param(request, "before", default=None, low=1, high=ID_MAX),
            limit=limit,
        )
        following = runs[-1].id if len(runs) == limit else None
        return JSONResponse({"runs": [run.to_dict() for run in runs], "next_before": following})

    async def detail(request: Request) -> Response:
        run = await storage.get_run(path_id(request, "run"))
        try:
            result, _ = await storage.run_result(run.id)
        except NotFound:
            result = None
        statuses = await storage.list_statuses(run_id=run.id)
        attempts = await storage.run_attempts(run.id)
        return JSONResponse(
            {
                **run.to_dict(),
                "attempts": [a.to_dict() for a in attempts],
                "statuses": [s.to_dict() for s in statuses],
                "result": result,
            }
        )

    async def junit(request: Request) -> Response:
        run = await storage.get_run(path_id(request, "run"))
        _, report = await storage.run_result(run.id)
        if not report:
            raise NotFound(f"run {run.id} ended without a report: {run.message}")
        return Response(report, media_type="application/xml")

    async def start(request: Request) -> Response:
        require_api_token(request, api_tokens)
        options = await json_object(request, optional=True)
        run = await manual_runs.start(
            workspace=request.path_params["ws"],
            suite=request.path_params["suite"],
            options=options,
        )
        on_queued()
        return JSONResponse(
            run.to_dict(), status_code=201, headers={"Location": f"/api/v1/runs/{run.id}"}
        )

    async def rerun(request: Request) -> Response:
        require_api_token(request, api_tokens)
        options = await json_object(request, optional=True)
        revision = options.get("config_revision", "same")
        run = await manual_runs.rerun(
            path_id(request, "run"), revision=revision if isinstance(revision, str) else ""
        )
        on_queued()
        return JSONResponse(
            run.to_dict(), status_code=201, headers={"Location": f"/api/v1/runs/{run.id}"}
        )

    return [
        Route("/api/v1/runs", listing, methods=["GET"]),
        Route("/api/v1/runs/{id:int}/rerun", rerun, methods=["POST"]),
        Route("/api/v1/runs/{id:int}", detail, methods=["GET"]),
        Route("/api/v1/runs/{id:int}/junit.xml", junit, methods=["GET"]),
        Route("/api/v1/workspaces/{ws}/suites/{suite}/runs", start, methods=["POST"]),
    ]
