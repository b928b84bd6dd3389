"""History at a glance: the runs list (``/``, ``/runs``) filtered by workspace, suite,
state, repository and trigger type, paged by id; and a suite's page with the chart of its
last runs (``/suites/{ws}/{suite}``). Lists read one page of rows through the runs' indexes,
so they stay fast however many runs are stored."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from controller.models.runs import RUN_STATES, TRIGGER_TYPES, Run
from controller.storage import Storage
from controller.web.pages.charts import duration_ms, suite_chart
from controller.web.pages.rendering import Pages
from controller.web.params import ID_MAX, int_param, older_page
from controller.web.runs import run_filters

PAGE = 50
CHART_RUNS = 60


def history_routes(*, storage: Storage, pages: Pages) -> list[Route]:
    async def runs(request: Request) -> Response:
        chosen = run_filters(request)
        before = int_param(request, "before", default=None, low=1, high=ID_MAX)
        found = await storage.list_runs(**chosen, before=before, limit=PAGE)
        return pages.render(
            request,
            "runs.html",
            runs=[_row(run) for run in found],
            filters=chosen,
            states=RUN_STATES,
            trigger_types=TRIGGER_TYPES,
            older=older_page("/runs", chosen, found, page=PAGE),
        )

    async def suite(request: Request) -> Response:
        workspace, name = request.path_params["ws"], request.path_params["suite"]
        found = await storage.list_runs(workspace=workspace, suite=name, limit=CHART_RUNS)
        return pages.render(
            request,
            "suite.html",
            workspace=workspace,
            suite=name,
            chart=suite_chart(found),
            runs=[_row(run) for run in found[:PAGE]],
        )

    return [
        Route("/", runs, methods=["GET"]),
        Route("/runs", runs, methods=["GET"]),
        Route("/suites/{ws}/{suite}", suite, methods=["GET"]),
    ]


def _row(run: Run) -> dict[str, Any]:
    return {**run.to_dict(), "duration_ms": duration_ms(run)}
