"""A fake Argo CD for tests: a real HTTP app (serve it with ``tests.support.server.serving``)
that checks every request against Argo CD's ``swagger.json`` and keeps Applications in memory.

Behaviour, as argocd.md §2 describes Argo CD's code:

- ``Authorization: Bearer <token>``; anything else is 401 with Argo CD's body.
- Create: an identical Application (spec, labels, annotations, finalizers) answers 200 with
  the stored one; a different one 400 "existing application spec is different" unless
  ``upsert=true``.
- Get and delete of a missing Application answer 403 without ``project``, 404 with it.
- Each Application moves through the lifecycle of ``application-status-lifecycle.json`` (just
  created, reconciled, operation running, synced and progressing, then Synced + Healthy), one
  stage per GET after ``polls_per_stage`` GETs; ``degrade(name)`` makes it end Degraded.
- Delete with cascade marks it deleting (``deletionTimestamp``) and removes it after
  ``delete_polls`` further GETs of it or lists (the finalizer's work takes a while).
- ``unavailable`` > 0: that many next requests answer 503 (an Argo CD outage).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from tests.support.swagger import SwaggerContract
from tests.support.webhooks import SHARED

FIXTURES = SHARED / "fixtures" / "argocd"
SWAGGER = FIXTURES / "swagger.json"
LIFECYCLE = json.loads((FIXTURES / "assembled" / "application-status-lifecycle.json").read_text())
STAGES = [snapshot["app"] for snapshot in LIFECYCLE["snapshots"][:5]]
READY = len(STAGES) - 1


def _error(status: int, message: str, code: int) -> JSONResponse:
    body = {"error": message, "code": code, "message": message, "details": []}
    return JSONResponse(body, status_code=status)


@dataclass
class FakeApp:
    document: dict[str, Any]
    polls: int = 0
    degraded: bool = False
    deleting_polls: int | None = None


@dataclass
class FakeArgoCD:
    token: str
    polls_per_stage: int = 1
    delete_polls: int = 1
    contract: SwaggerContract = field(default_factory=lambda: SwaggerContract(SWAGGER))
    apps: dict[str, FakeApp] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    degrading: set[str] = field(default_factory=set)
    unavailable: int = 0
    creations: list[str] = field(default_factory=list)
    """The names of Applications the fake stored anew (an identical re-create is not one)."""

    def degrade(self, name: str) -> None:
        """The Application ``name`` (now or once created) ends Degraded instead of Healthy."""
        self.degrading.add(name)
        if name in self.apps:
            self.apps[name].degraded = True

    def created(self) -> list[str]:
        return [path for method, path, _ in self.requests if method == "POST"]

    def deleted(self) -> list[str]:
        return [path for method, path, _ in self.requests if method == "DELETE"]

    def put(self, document: dict[str, Any]) -> None:
        """An Application that exists already (made by someone else), as stored."""
        self.apps[document["metadata"]["name"]] = FakeApp(copy.deepcopy(document), polls=10**6)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return
        request = Request(scope, receive)
        body = await request.body()
        response = self._handle(request, body)
        await response(scope, receive, send)

    def _handle(self, request: Request, body: bytes) -> Response:
        method, path = request.method, request.url.path
        query = dict(request.query_params)
        self.requests.append((method, path, query))
        operation, params, problems = self.contract.check(method, path, query, body)
        if problems or operation is None:
            self.violations.extend(f"{method} {path}: {p}" for p in problems)
            return _error(400, "; ".join(problems), 3)
        if self.unavailable > 0:
            self.unavailable -= 1
            return _error(503, "the Argo CD API server is restarting", 14)
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return _error(401, "no session information", 16)
        template = operation.template
        if template == "/api/v1/applications" and method == "POST":
            return self._create(json.loads(body), upsert=query.get("upsert") == "true")
        if template == "/api/v1/applications" and method == "GET":
            return self._list(query.get("selector", ""))
        name = params.get("name", "")
        if template == "/api/v1/applications/{name}" and method == "GET":
            return self._get(name, query)
        if template == "/api/v1/applications/{name}" and method == "DELETE":
            return self._delete(name, query)
        return _error(501, f"the fake does not serve {method} {template}", 12)

    def _create(self, app: dict[str, Any], *, upsert: bool) -> Response:
        name = app["metadata"]["name"]
        existing = self.apps.get(name)
        if existing is not None and not upsert:
            if _comparable(existing.document) == _comparable(app):
                return JSONResponse(self._view(existing))
            return _error(
                400, "existing application spec is different, use upsert flag to force update", 3
            )
        stored = copy.deepcopy(app)
        stored["metadata"].setdefault("namespace", "argocd")
        stored["metadata"]["creationTimestamp"] = datetime.now(UTC).isoformat()
        self.apps[name] = FakeApp(stored, degraded=name in self.degrading)
        self.creations.append(name)
        return JSONResponse(self._view(self.apps[name]))

    def _tick_deletion(self, name: str) -> FakeApp | None:
        app = self.apps.get(name)
        if app is not None and app.deleting_polls is not None:
            app.deleting_polls -= 1
            if app.deleting_polls < 0:
                del self.apps[name]
                return None
        return app

    def _get(self, name: str, query: dict[str, str]) -> Response:
        app = self._tick_deletion(name)
        if app is None or not _in_project(app, query):
            return self._missing(name, query)
        app.polls += 1
        return JSONResponse(self._view(app))

    def _delete(self, name: str, query: dict[str, str]) -> Response:
        app = self.apps.get(name)
        if app is None or not _in_project(app, query):
            return self._missing(name, query)
        if query.get("cascade", "true") == "false":
            del self.apps[name]
        elif app.deleting_polls is None:
            app.deleting_polls = self.delete_polls
            app.document["metadata"]["deletionTimestamp"] = datetime.now(UTC).isoformat()
        return JSONResponse({})

    def _list(self, selector: str) -> Response:
        wanted = dict(part.split("=", 1) for part in selector.split(",") if "=" in part)
        for name in list(self.apps):
            self._tick_deletion(name)
        items = [
            self._view(app)
            for name, app in sorted(self.apps.items())
            if all(
                app.document["metadata"].get("labels", {}).get(k) == v for k, v in wanted.items()
            )
        ]
        return JSONResponse({"metadata": {}, "items": items})

    def _missing(self, name: str, query: dict[str, str]) -> Response:
        if "project" not in query:
            return _error(403, "permission denied", 7)
        return _error(404, f'applications.argoproj.io "{name}" not found', 5)

    def _view(self, app: FakeApp) -> dict[str, Any]:
        stage = min(app.polls // max(self.polls_per_stage, 1), READY)
        view = copy.deepcopy(app.document)
        status = copy.deepcopy(STAGES[stage].get("status", {}))
        if "operation" in STAGES[stage]:
            view["operation"] = copy.deepcopy(STAGES[stage]["operation"])
        if stage == READY:
            status["resources"] = [{"kind": "Deployment", "name": view["metadata"]["name"]}]
            if app.degraded:
                status["health"] = {
                    "status": "Degraded",
                    "message": "Deployment exceeded its progress deadline",
                }
        view["status"] = status
        return view


def _in_project(app: FakeApp, query: dict[str, str]) -> bool:
    """An app in another project than the one asked for is "not found" (argocd.md §2.4)."""
    return "project" not in query or app.document["spec"].get("project") == query["project"]


def _comparable(app: dict[str, Any]) -> tuple[Any, ...]:
    metadata = app.get("metadata", {})
    return (
        app.get("spec"),
        metadata.get("labels") or {},
        metadata.get("annotations") or {},
        metadata.get("finalizers") or [],
    )
