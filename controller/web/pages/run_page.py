"""The run page every commit status links to (``/runs/{id}``), its live part
(``/runs/{id}/flows``, polled by the page while the run goes on) and its re-run form.

The live part is the flows fragment rendered alone, with the run's state in ``X-Run-State``
and ``X-Run-Ended: true`` once it has ended (the page then reloads once, to show the result,
the statuses and the re-run form). A re-run needs an API token typed into the form and a
matching CSRF cookie; it answers 303 to the new run's page.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from controller.intake.manual_runs import ManualRuns
from controller.models.runs import ENDED_STATES
from controller.settings import Secret
from controller.storage import Storage
from controller.web.api_tokens import require_api_token_value
from controller.web.pages.csrf import csrf_token, remember, require_csrf
from controller.web.pages.rendering import Pages
from controller.web.pages.run_view import Config, flows_view, run_view
from controller.web.params import form_fields, path_id


def run_page_routes(
    *,
    storage: Storage,
    pages: Pages,
    config: Config,
    manual_runs: ManualRuns,
    api_tokens: tuple[Secret, ...],
    on_queued: Callable[[], None] = lambda: None,
) -> list[Route]:
    async def page(request: Request) -> Response:
        view = await run_view(path_id(request, "run"), storage=storage, config=config)
        token = csrf_token(request)
        return remember(pages.render(request, "run.html", view=view, csrf=token), token)

    async def flows(request: Request) -> Response:
        run, found = await flows_view(path_id(request, "run"), storage=storage)
        ended = run.state in ENDED_STATES
        body = pages.fragment("run_flows.html", flows=found, live=not ended)
        headers = {
            "X-Run-State": run.state,
            "X-Run-Ended": "true" if ended else "false",
            "Cache-Control": "no-store",
        }
        return HTMLResponse(body, headers=headers)

    async def rerun(request: Request) -> Response:
        form = await form_fields(request)
        require_csrf(request, form)
        require_api_token_value(form.get("token", ""), api_tokens)
        run = await manual_runs.rerun(
            path_id(request, "run"), revision=form.get("revision", "same")
        )
        on_queued()
        return RedirectResponse(f"/runs/{run.id}", status_code=303)

    return [
        Route("/runs/{id:int}", page, methods=["GET"]),
        Route("/runs/{id:int}/flows", flows, methods=["GET"]),
        Route("/runs/{id:int}/rerun", rerun, methods=["POST"]),
    ]
