"""``POST /api/v1/explain``: dry-run a payload against the live config (no side effects).

Body: ``{"source": "gitea" | "argocd", "payload": {...}}``, plus optional ``event`` (the
Gitea event name, inferred from the payload when absent), ``workspace``, ``integration`` and
``rule`` to narrow the answer. No token is needed: it changes nothing, and it reveals no more
than the read-only config views.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from controller.errors import BadRequest
from controller.intake.explain import explain
from controller.matcher.service import Matcher
from controller.models.snapshot import ConfigSnapshot, require_loaded
from controller.web.params import json_object

FIELDS = ("source", "payload", "event", "workspace", "integration", "rule")


def explain_routes(*, config: Callable[[], ConfigSnapshot | None], matcher: Matcher) -> list[Route]:
    async def endpoint(request: Request) -> Response:
        body = await json_object(request)
        unknown = sorted(set(body) - set(FIELDS))
        if unknown:
            raise BadRequest(f"unknown field {unknown[0]!r}; known: {', '.join(FIELDS)}")
        payload = body.get("payload")
        if not isinstance(payload, dict):
            raise BadRequest("payload: expected the webhook body, a JSON object")
        texts = {name: body.get(name) for name in FIELDS if name != "payload"}
        for name, value in texts.items():
            if value is not None and not isinstance(value, str):
                raise BadRequest(f"{name}: expected a string")
        snapshot = require_loaded(config())
        explanation = explain(
            snapshot=snapshot,
            matcher=matcher,
            source=texts["source"] or "",
            body=json.dumps(payload).encode(),
            gitea_event=texts["event"] or "",
            workspace=texts["workspace"],
            integration=texts["integration"],
            rule=texts["rule"],
        )
        return JSONResponse(explanation.to_dict())

    return [Route("/api/v1/explain", endpoint, methods=["POST"])]
