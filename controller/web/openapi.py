"""``GET /api/v1/openapi.json``: an OpenAPI 3.1 document of every JSON endpoint.

Written by hand, next to the routes, rather than generated from them: the routes say little
about their bodies, and a generated document would be as thin. A test keeps the two equal
(every JSON route and method is described, nothing else) and validates the document, so a
route added without its description fails the build.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

JSON = "application/json"
Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: Schema, description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


def _path_param(name: str, description: str, *, integer: bool = False) -> dict[str, Any]:
    schema: Schema = {"type": "integer", "minimum": 1} if integer else {"type": "string"}
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema,
    }


def _query(name: str, description: str, schema: Schema | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _operation(
    summary: str,
    *,
    responses: dict[str, Any],
    parameters: list[dict[str, Any]] | None = None,
    body: Schema | None = None,
    body_required: bool = True,
    token: bool = False,
    tag: str,
) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses}
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = {"required": body_required, "content": {JSON: {"schema": body}}}
    if token:
        operation["security"] = [{"apiToken": []}]
        responses.setdefault("401", _error("missing or wrong API token"))
        responses.setdefault("403", _error("no API token is configured (MESHGATE_API_TOKENS)"))
    return operation


RUN_ID = _path_param("id", "run id", integer=True)
WS = _path_param("ws", "workspace")
LIMIT = _query(
    "limit", "page size (1-1000, default 50)", {"type": "integer", "minimum": 1, "maximum": 1000}
)
BEFORE = _query("before", "an id to page from (exclusive)", {"type": "integer", "minimum": 1})
RUN_STATES = ["queued", "running", "passed", "failed", "error", "superseded", "cancelled"]
TRIGGER_TYPES = ["argocd", "webhook", "manual"]


def _webhook(provider: str, *, named: bool) -> dict[str, Any]:
    auth = (
        "HMAC-SHA256 of the raw body in X-Gitea-Signature (or X-Hub-Signature-256)"
        if provider == "gitea"
        else "a static token (Authorization: Bearer, or Basic with the token as password)"
    )
    parameters = [_path_param("integration", f"the {provider} integration")] if named else []
    return {
        "post": _operation(
            f"Receive a {'Gitea' if provider == 'gitea' else 'Argo CD'} webhook ({auth})",
            tag="intake",
            parameters=parameters,
            body={"type": "object"},
            responses={
                "202": _json(_ref("Acknowledged"), "recorded; runs queued for matching rules"),
                "200": _json(
                    _ref("Acknowledged"), "a repeat of a recorded delivery (duplicate: true)"
                ),
                "400": _error("malformed JSON"),
                "401": _error("missing or wrong signature or token"),
                "413": _error("body over the size cap"),
                "415": _error("not application/json"),
                "503": _error("the database did not take the delivery in time; send it again"),
            },
        )
    }


def _config_view(summary: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    read = _operation(
        summary,
        tag="config",
        parameters=parameters,
        responses={
            "200": _json(
                {"type": "object", "required": ["config_revision"]},
                "the view, with the config revision it shows",
            ),
            "404": _error("no such workspace or document"),
            "503": _error("no config loaded yet"),
        },
    )
    refused = {
        "summary": "Refused: the config changes only by a pull request on the config repo",
        "tags": ["config"],
        "parameters": parameters,
        "responses": {"405": _error("read-only; the answer names the file to edit")},
    }
    return {"get": read, **dict.fromkeys(("post", "put", "patch", "delete"), refused)}


SCHEMAS: dict[str, Schema] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["type", "message"],
                "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
            }
        },
    },
    "Acknowledged": {
        "type": "object",
        "required": ["delivery", "duplicate"],
        "properties": {
            "delivery": {"type": "integer"},
            "duplicate": {"type": "boolean"},
            "integration": {"type": "string"},
            "event": {"type": "string"},
            "trigger": {"type": "boolean"},
            "ignored_reason": {"type": "string"},
        },
    },
    "Run": {
        "type": "object",
        "required": ["id", "state", "workspace", "suite", "trigger_type", "config_revision"],
        "properties": {
            "id": {"type": "integer"},
            "state": {"enum": RUN_STATES},
            "workspace": {"type": "string"},
            "suite": {"type": "string"},
            "rule": {"type": ["string", "null"]},
            "trigger_type": {"enum": TRIGGER_TYPES},
            "trigger_ref": {"type": ["string", "null"]},
            "repository": {"type": ["string", "null"]},
            "branch": {"type": ["string", "null"]},
            "pr_number": {"type": ["integer", "null"]},
            "context": {"type": ["string", "null"]},
            "template": {"type": ["string", "null"]},
            "config_revision": {"type": "string"},
            "config_pinned": {"type": "boolean"},
            "rerun_of": {"type": ["integer", "null"]},
            "delivery": {"type": ["integer", "null"]},
            "superseded_by": {"type": ["integer", "null"]},
            "attempt": {"type": "integer"},
            "message": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
            "started_at": {"type": ["string", "null"], "format": "date-time"},
            "finished_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "RunDetail": {
        "allOf": [
            _ref("Run"),
            {
                "type": "object",
                "properties": {
                    "attempts": {"type": "array", "items": _ref("RunAttempt")},
                    "statuses": {"type": "array", "items": _ref("CommitStatus")},
                    "result": {
                        "type": ["object", "null"],
                        "description": "every flow and step, once the run ended",
                    },
                },
            },
        ]
    },
    "RunAttempt": {
        "type": "object",
        "description": "one claim of the run, by one replica",
        "required": ["attempt", "owner", "started_at", "ended_at", "outcome", "note"],
        "properties": {
            "attempt": {"type": "integer"},
            "owner": {"type": "string", "description": "the replica: host:pid:id"},
            "started_at": {"type": "string", "format": "date-time"},
            "ended_at": {"type": ["string", "null"], "format": "date-time"},
            "outcome": {
                "enum": ["finished", "interrupted", "released", None],
                "description": "null while it runs; interrupted: its replica died",
            },
            "note": {"type": "string", "description": "the state it ended in, or why"},
        },
    },
    "RunList": {
        "type": "object",
        "required": ["runs"],
        "properties": {
            "runs": {"type": "array", "items": _ref("Run")},
            "next_before": {"type": ["integer", "null"]},
        },
    },
    "ManualRun": {
        "type": "object",
        "properties": {
            "context": {"type": "string"},
            "template": {"type": "string"},
            "routes": {"type": "object", "additionalProperties": {"type": "string"}},
            "parameters": {"type": "object"},
        },
        "additionalProperties": False,
    },
    "Rerun": {
        "type": "object",
        "properties": {"config_revision": {"enum": ["same", "latest"], "default": "same"}},
    },
    "CommitStatus": {
        "type": "object",
        "properties": {
            "context": {"type": "string"},
            "state": {"enum": ["pending", "success", "failure", "error"]},
            "description": {"type": "string"},
            "target_url": {"type": "string"},
            "delivery": {"enum": ["pending", "posted", "dead"]},
            "attempts": {"type": "integer"},
            "last_error": {"type": ["string", "null"]},
        },
    },
    "StatusList": {
        "type": "object",
        "required": ["statuses"],
        "properties": {"statuses": {"type": "array", "items": _ref("CommitStatus")}},
    },
    "Delivery": {
        "type": "object",
        "required": ["id", "source", "event", "received_at"],
        "properties": {
            "id": {"type": "integer"},
            "source": {"enum": ["gitea", "argocd"]},
            "delivery_id": {"type": ["string", "null"]},
            "integration": {"type": "string"},
            "event": {"type": "string"},
            "action": {"type": ["string", "null"]},
            "repository": {"type": "string"},
            "revision": {"type": ["string", "null"]},
            "trigger": {"type": "boolean"},
            "summary": {"type": ["string", "null"]},
            "received_at": {"type": "string", "format": "date-time"},
        },
    },
    "DeliveryList": {
        "type": "object",
        "required": ["deliveries"],
        "properties": {
            "deliveries": {"type": "array", "items": _ref("Delivery")},
            "next_before": {"type": ["integer", "null"]},
        },
    },
    "DeliveryDetail": {
        "allOf": [
            _ref("Delivery"),
            {
                "type": "object",
                "properties": {
                    "event": {"type": "object"},
                    "match": {
                        "type": ["object", "null"],
                        "description": "every rule considered: predicates and values compared",
                    },
                    "runs": {"type": "array", "items": _ref("Run")},
                },
            },
        ]
    },
    "Environment": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "context": {"type": "string"},
            "template": {"type": "string"},
            "state": {
                "enum": ["provisioning", "ready", "expiring", "deleting", "deleted", "failed"]
            },
            "application": {"type": ["string", "null"]},
            "pull_request": {"type": ["string", "null"]},
            "routing": {"type": "object", "additionalProperties": {"type": "string"}},
            "expires_at": {"type": ["string", "null"], "format": "date-time"},
            "runs": {"type": "array", "items": {"type": "integer"}},
        },
    },
    "EnvironmentList": {
        "type": "object",
        "required": ["environments"],
        "properties": {"environments": {"type": "array", "items": _ref("Environment")}},
    },
    "ConfigStatus": {
        "type": "object",
        "required": ["source", "applied", "last_attempt", "errors"],
        "properties": {
            "source": {"type": "object"},
            "applied": {"type": ["object", "null"]},
            "last_attempt": {"type": ["object", "null"]},
            "source_error": {"type": ["object", "null"]},
            "errors": {"type": "array", "items": {"type": "string"}},
        },
    },
    "Health": {
        "type": "object",
        "required": ["status"],
        "properties": {
            "status": {"type": "string"},
            "reasons": {"type": "array", "items": {"type": "string"}},
        },
    },
}


def openapi_document() -> dict[str, Any]:
    run_filters = [
        _query("workspace", "only this workspace"),
        _query("suite", "only this suite"),
        _query("state", "only runs in this state", {"enum": RUN_STATES}),
        _query("repository", "only this Argo CD app or Gitea owner/repo"),
        _query("trigger_type", "only this trigger type", {"enum": TRIGGER_TYPES}),
        _query("delivery", "only the runs of this delivery", {"type": "integer", "minimum": 1}),
        BEFORE,
        LIMIT,
    ]
    paths: dict[str, Any] = {
        "/healthz": {
            "get": _operation(
                "Liveness", tag="health", responses={"200": _json(_ref("Health"), "alive")}
            )
        },
        "/readyz": {
            "get": _operation(
                "Readiness: storage reachable and a valid config loaded",
                tag="health",
                responses={
                    "200": _json(_ref("Health"), "ready"),
                    "503": _json(_ref("Health"), "not ready, with the reasons"),
                },
            )
        },
        "/api/v1/openapi.json": {
            "get": _operation(
                "This document",
                tag="meta",
                responses={"200": _json({"type": "object"}, "OpenAPI 3.1")},
            )
        },
        "/api/v1/webhooks/gitea": _webhook("gitea", named=False),
        "/api/v1/webhooks/gitea/{integration}": _webhook("gitea", named=True),
        "/api/v1/webhooks/argocd": _webhook("argocd", named=False),
        "/api/v1/webhooks/argocd/{integration}": _webhook("argocd", named=True),
        "/api/v1/integrations/webhooks/argocd": _webhook("argocd", named=False),
        "/api/v1/explain": {
            "post": _operation(
                "Evaluate a payload against the live config, without side effects",
                tag="intake",
                body={
                    "type": "object",
                    "required": ["source", "payload"],
                    "properties": {
                        "source": {"enum": ["gitea", "argocd"]},
                        "payload": {"type": "object"},
                        "event": {"type": "string"},
                        "workspace": {"type": "string"},
                        "integration": {"type": "string"},
                        "rule": {"type": "string"},
                    },
                },
                responses={
                    "200": _json({"type": "object"}, "the decisions, as for a real delivery"),
                    "400": _error("bad request"),
                },
            )
        },
        "/api/v1/deliveries": {
            "get": _operation(
                "Recent deliveries, newest first",
                tag="intake",
                parameters=[
                    _query("source", "gitea or argocd", {"enum": ["gitea", "argocd"]}),
                    _query("workspace", "only this workspace"),
                    BEFORE,
                    LIMIT,
                ],
                responses={
                    "200": _json(_ref("DeliveryList"), "a page of deliveries"),
                    "400": _error("bad filter"),
                },
            )
        },
        "/api/v1/deliveries/{id}": {
            "get": _operation(
                "One delivery: its event, every rule's decision and its runs",
                tag="intake",
                parameters=[_path_param("id", "delivery id", integer=True)],
                responses={
                    "200": _json(_ref("DeliveryDetail"), "the delivery"),
                    "404": _error("no such delivery"),
                },
            )
        },
        "/api/v1/runs": {
            "get": _operation(
                "Runs, newest first",
                tag="runs",
                parameters=run_filters,
                responses={
                    "200": _json(_ref("RunList"), "a page of runs"),
                    "400": _error("bad filter"),
                },
            )
        },
        "/api/v1/runs/{id}": {
            "get": _operation(
                "One run with its statuses and, once it ended, its evidence",
                tag="runs",
                parameters=[RUN_ID],
                responses={
                    "200": _json(_ref("RunDetail"), "the run"),
                    "404": _error("no such run"),
                },
            )
        },
        "/api/v1/runs/{id}/junit.xml": {
            "get": _operation(
                "The run's JUnit XML report",
                tag="runs",
                parameters=[RUN_ID],
                responses={
                    "200": {
                        "description": "JUnit XML",
                        "content": {"application/xml": {"schema": {"type": "string"}}},
                    },
                    "404": _error("no such run, or it has not ended"),
                },
            )
        },
        "/api/v1/runs/{id}/rerun": {
            "post": _operation(
                "Re-run an ended run, with its config revision or the latest",
                tag="runs",
                parameters=[RUN_ID],
                body=_ref("Rerun"),
                body_required=False,
                token=True,
                responses={
                    "201": _json(_ref("Run"), "the queued re-run"),
                    "400": _error("bad request"),
                    "404": _error("no such run"),
                    "409": _error("the run has not ended"),
                },
            )
        },
        "/api/v1/workspaces/{ws}/suites/{suite}/runs": {
            "post": _operation(
                "Start a manual run",
                tag="runs",
                parameters=[WS, _path_param("suite", "suite")],
                body=_ref("ManualRun"),
                body_required=False,
                token=True,
                responses={
                    "201": _json(_ref("Run"), "the queued run"),
                    "400": _error("bad option"),
                    "404": _error("no such workspace, suite or template"),
                },
            )
        },
        "/api/v1/statuses": {
            "get": _operation(
                "Commit statuses in the outbox",
                tag="statuses",
                parameters=[
                    _query(
                        "delivery",
                        "pending, posted or dead",
                        {"enum": ["pending", "posted", "dead"]},
                    ),
                    LIMIT,
                ],
                responses={
                    "200": _json(_ref("StatusList"), "statuses"),
                    "400": _error("bad filter"),
                },
            )
        },
        "/api/v1/workspaces/{ws}/environments": {
            "get": _operation(
                "The workspace's test environments, newest first",
                tag="environments",
                parameters=[
                    WS,
                    _query("active", "only active ones", {"enum": ["true", "false"]}),
                    LIMIT,
                ],
                responses={
                    "200": _json(_ref("EnvironmentList"), "environments"),
                    "400": _error("bad filter"),
                },
            )
        },
        "/api/v1/config/status": {
            "get": _operation(
                "Which config revision serves, and what is wrong with the newest",
                tag="config",
                responses={"200": _json(_ref("ConfigStatus"), "the config status")},
            )
        },
        "/api/v1/workspaces": _config_view("The workspaces of the live config", []),
        "/api/v1/workspaces/{ws}/integrations": _config_view("A workspace's integrations", [WS]),
        "/api/v1/workspaces/{ws}/integrations/{name}": _config_view(
            "One integration (secrets as references)", [WS, _path_param("name", "integration")]
        ),
        "/api/v1/workspaces/{ws}/integrations/{name}/trigger-rules": _config_view(
            "An integration's trigger rules", [WS, _path_param("name", "integration")]
        ),
        "/api/v1/workspaces/{ws}/suites": _config_view("A workspace's suites", [WS]),
        "/api/v1/workspaces/{ws}/suites/{name}": _config_view(
            "One suite with its flows", [WS, _path_param("name", "suite")]
        ),
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "meshgate",
            "version": "1",
            "description": "GitOps-native test controller: Argo CD and Gitea webhooks in, "
            "test runs and commit statuses out. Reads are open unless MESHGATE_READ_TOKENS is "
            "set; then every GET needs Authorization: Bearer with a read or API token.",
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "apiToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "one of MESHGATE_API_TOKENS",
                }
            },
        },
    }


def openapi_routes() -> list[Route]:
    document = openapi_document()

    async def serve(request: Request) -> Response:
        return JSONResponse(document)

    return [Route("/api/v1/openapi.json", serve, methods=["GET"])]
