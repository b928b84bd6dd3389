"""``GET /runs/{id}``: the page every commit status links to.

A plain server-rendered summary for now (state, trigger, commit statuses, each flow and its
failing step with the check that failed), every value escaped; links lead to the full
evidence in ``/api/v1/runs/{id}`` and to the JUnit report. The dashboard (issue 7) replaces
it with the complete run page at the same address, so links already posted keep working.
"""

from __future__ import annotations

from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from controller.errors import NotFound
from controller.models.runs import Run
from controller.storage import Storage
from controller.web.params import path_id

STYLE = (
    "body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem}"
    "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;"
    "padding:.3rem .5rem;text-align:left;vertical-align:top}.passed,.success{color:#1a7f37}"
    ".failed,.failure,.error{color:#cf222e}code{font-size:90%}"
)


def run_page_routes(*, storage: Storage) -> list[Route]:
    async def page(request: Request) -> Response:
        run = await storage.get_run(path_id(request, "run"))
        try:
            result: dict[str, Any] | None = (await storage.run_result(run.id))[0]
        except NotFound:
            result = None
        statuses = [s.to_dict() for s in await storage.list_statuses(run_id=run.id)]
        return HTMLResponse(render(run, result, statuses))

    return [Route("/runs/{id:int}", page, methods=["GET"])]


def render(run: Run, result: dict[str, Any] | None, statuses: list[dict[str, Any]]) -> str:
    request = run.request
    facts = [
        ("Suite", f"{request.workspace}/{request.suite}"),
        ("State", _state(run.state)),
        ("Summary", escape(run.message) or "—"),
        (
            "Trigger",
            escape(request.trigger_type + (f" (rule {request.rule})" if request.rule else "")),
        ),
        ("Repository", escape(request.repository) or "—"),
        ("Commit", f"<code>{escape(request.trigger_ref)}</code>" if request.trigger_ref else "—"),
        ("Config revision", f"<code>{escape(request.config_revision)}</code>"),
    ]
    if request.status_problem:
        facts.append(("Commit status", escape(request.status_problem)))
    rows = "".join(f"<tr><th>{name}</th><td>{value}</td></tr>" for name, value in facts)
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>Run #{run.id} · meshgate</title>",
        f"<style>{STYLE}</style></head><body><h1>Run #{run.id}</h1><table>{rows}</table>",
        _statuses(statuses),
        _flows(result),
        f"<p><a href='/api/v1/runs/{run.id}'>Full evidence (JSON)</a> · "
        f"<a href='/api/v1/runs/{run.id}/junit.xml'>JUnit report</a></p></body></html>",
    ]
    return "".join(parts)


def _state(state: str) -> str:
    return f"<strong class='{escape(state)}'>{escape(state)}</strong>"


def _statuses(statuses: list[dict[str, Any]]) -> str:
    if not statuses:
        return ""
    rows = "".join(
        f"<tr><td>{escape(s['context'])}</td><td>{_state(s['state'])}</td>"
        f"<td>{escape(s['description'])}</td><td>{escape(s['delivery'])}"
        f"{' — ' + escape(s['last_error']) if s['last_error'] else ''}</td></tr>"
        for s in statuses
    )
    return (
        "<h2>Commit statuses</h2><table><tr><th>Context</th><th>State</th><th>Description</th>"
        f"<th>Posting</th></tr>{rows}</table>"
    )


def _flows(result: dict[str, Any] | None) -> str:
    if result is None:
        return "<p>No result yet.</p>"
    rows = []
    for flow in result.get("flows", []):
        detail = escape(flow.get("message", ""))
        for step in flow.get("steps", []):
            if step.get("status") in ("failed", "error"):
                detail = f"{escape(step.get('name', ''))}: {escape(step.get('message', ''))}"
                break
        rows.append(
            f"<tr><td>{escape(flow.get('label', ''))}</td><td>{_state(flow.get('status', ''))}</td>"
            f"<td>{detail}</td></tr>"
        )
    return (
        "<h2>Flows</h2><table><tr><th>Flow</th><th>Result</th><th>Detail</th></tr>"
        f"{''.join(rows)}</table>"
    )
