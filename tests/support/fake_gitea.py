"""A fake Gitea for tests: a real HTTP app (serve it with ``tests.support.server.serving``)
that checks every request against Gitea's own OpenAPI document and records what it was sent.

Contract checks, from ``shared/fixtures/gitea/gitea-swagger-v1.json``: the path matches a
documented path below ``/api/v1`` and the method is documented for it; integer path and query
parameters are integers; every query parameter is documented; a JSON body validates against
the operation's body schema and has no field the schema does not name; the request carries
``Authorization: token <token>`` (the form meshgate uses) with the configured token. A request
that breaks the contract is answered 422 and listed in ``violations``, which the ``gitea``
fixture asserts empty after each test.

Behaviour, as Gitea's code has it (``shared/reference/gitea.md`` §3): every status POST adds a
row (``id`` counts per commit, the state comes back under ``status``); a wrong token is 401
with Gitea's message; an unknown repository is 404; a SHA outside ``known_shas`` (when set) is
500 with a blank message. Switches inject trouble: ``latency`` for every request, ``delay``
for requests a predicate picks, ``fail`` (a status, optionally with ``Retry-After``, for some
requests or until ``recover``), and dropped connections (``fail(status=None)``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from tests.support.swagger import SwaggerContract
from tests.support.webhooks import SHARED

SWAGGER = SHARED / "fixtures" / "gitea" / "gitea-swagger-v1.json"
ROOT_URL = "http://gitea.test/"
ERRORS = json.loads((SWAGGER.parent / "assembled" / "api-errors.json").read_text())


def gitea_integration(url: str, *, workspace: str = "shop", name: str = "gitea") -> str:
    """A config document of a Gitea integration at ``url`` whose token is read from
    ``GITEA_TOKEN`` (and webhook secret from ``GITEA_WEBHOOK_SECRET``)."""
    return f"""apiVersion: meshgate.dev/v1alpha1
kind: Integration
metadata: {{name: {name}, workspace: {workspace}}}
spec:
  provider: gitea
  config: {{url: "{url}"}}
  secrets:
    token: {{env: GITEA_TOKEN}}
    webhook_secret: {{env: GITEA_WEBHOOK_SECRET}}
"""


@dataclass
class Fault:
    status: int | None  # None: drop the connection mid-answer
    times: int | None = None  # None: until recover()
    retry_after: str | None = None
    methods: tuple[str, ...] = ("POST", "PATCH", "GET")


@dataclass
class Delay:
    seconds: float
    when: Callable[[str, str, dict[str, Any]], bool]
    times: int | None = 1
    release: asyncio.Event | None = None


@dataclass
class Recorded:
    method: str
    path: str
    body: Any
    answered: int | None


@dataclass
class FakeGitea:
    token: str
    repositories: set[str] = field(default_factory=lambda: {"alice/demo"})
    known_shas: set[str] | None = None
    latency: float = 0.0
    contract: SwaggerContract = field(default_factory=lambda: SwaggerContract(SWAGGER))
    statuses: dict[tuple[str, str], list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    comments: dict[tuple[str, int], list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    requests: list[Recorded] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    delays: list[Delay] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0
    _comment_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # --- switches ------------------------------------------------------------------------

    def fail(
        self,
        status: int | None,
        *,
        times: int | None = None,
        retry_after: str | None = None,
        methods: tuple[str, ...] = ("POST", "PATCH", "GET"),
    ) -> None:
        self.faults.append(Fault(status, times, retry_after, methods))

    def recover(self) -> None:
        self.faults.clear()

    def delay(
        self,
        seconds: float,
        when: Callable[[str, str, dict[str, Any]], bool],
        *,
        times: int | None = 1,
        release: asyncio.Event | None = None,
    ) -> None:
        """Hold requests for which ``when(method, path, body)`` is true (``times`` of them)
        for ``seconds``, or until ``release`` is set if that comes first."""
        self.delays.append(Delay(seconds, when, times, release))

    # --- what was recorded ---------------------------------------------------------------

    def statuses_of(self, repository: str, sha: str, context: str | None = None) -> list[str]:
        """The states posted for the commit (oldest first), for one context if given."""
        return [
            s["status"]
            for s in self.statuses[(repository, sha)]
            if context is None or s["context"] == context
        ]

    def latest(self, repository: str, sha: str, context: str) -> dict[str, Any] | None:
        rows = [s for s in self.statuses[(repository, sha)] if s["context"] == context]
        return rows[-1] if rows else None

    def status_posts(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and "/statuses/" in r.path]

    # --- the ASGI app --------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return
        request = Request(scope, receive)
        body = await request.body()
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self._answer(request, body, send)
        finally:
            self.in_flight -= 1

    async def _answer(self, request: Request, body: bytes, send: Send) -> None:
        method, path = request.method, request.url.path
        parsed: Any = None
        if body:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = body.decode("utf-8", "replace")
        record = Recorded(method, path, parsed, None)
        self.requests.append(record)
        if self.latency:
            await asyncio.sleep(self.latency)
        for delay in list(self.delays):
            if delay.when(method, path, parsed if isinstance(parsed, dict) else {}):
                if delay.times is not None:
                    delay.times -= 1
                    if delay.times <= 0:
                        self.delays.remove(delay)
                if delay.release is None:
                    await asyncio.sleep(delay.seconds)
                else:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(delay.release.wait(), delay.seconds)
        fault = next((f for f in self.faults if method in f.methods), None)
        if fault is not None:
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
            if fault.status is None:
                record.answered = None
                await _drop(send)
                return
            record.answered = fault.status
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            response: Response = JSONResponse(
                {"message": "injected", "url": f"{ROOT_URL}api/swagger"},
                status_code=fault.status,
                headers=headers,
            )
        else:
            response = self._handle(request, body, parsed)
            record.answered = response.status_code
        await response(request.scope, request.receive, send)

    def _handle(self, request: Request, body: bytes, parsed: Any) -> Response:
        method, path = request.method, request.url.path
        operation, params, problems = self.contract.check(
            method, path, dict(request.query_params), body
        )
        auth = request.headers.get("authorization", "")
        if not auth.startswith("token "):
            problems.append(f"the Authorization header is not 'token <token>': {auth[:6]!r}…")
        if problems or operation is None:
            self.violations.extend(f"{method} {path}: {p}" for p in problems)
            return JSONResponse({"message": "; ".join(problems)}, status_code=422)
        if auth != f"token {self.token}":
            return JSONResponse(ERRORS["bad_token_401"]["body"], status_code=401)
        repository = f"{params['owner']}/{params['repo']}"
        if repository not in self.repositories:
            return JSONResponse(ERRORS["repo_not_found_404"]["body"], status_code=404)
        if operation.template == "/repos/{owner}/{repo}/statuses/{sha}" and method == "POST":
            return self._create_status(repository, params["sha"], parsed)
        if operation.template == "/repos/{owner}/{repo}/issues/{index}/comments":
            number = int(params["index"])
            if method == "POST":
                return self._create_comment(repository, number, parsed["body"])
            return JSONResponse(self.comments[(repository, number)])
        if operation.template == "/repos/{owner}/{repo}/issues/comments/{id}" and method == "PATCH":
            return self._edit_comment(repository, int(params["id"]), parsed["body"])
        return JSONResponse({"message": f"the fake does not serve {operation.template}"}, 501)

    def _create_status(self, repository: str, sha: str, body: dict[str, Any]) -> Response:
        if self.known_shas is not None and sha not in self.known_shas:
            return JSONResponse(ERRORS["unknown_sha_500_prod"]["body"], status_code=500)
        rows = self.statuses[(repository, sha)]
        now = datetime.now(UTC).isoformat()
        row = {
            "id": len(rows) + 1,
            "status": body.get("state", ""),
            "target_url": body.get("target_url", "").strip(),
            "description": body.get("description", "").strip(),
            "context": body.get("context", "").strip(),
            "url": f"{ROOT_URL}api/v1/repos/{repository}/statuses/{sha}",
            "creator": {"id": 9, "login": "ci-bot"},
            "created_at": now,
            "updated_at": now,
        }
        rows.append(row)
        return JSONResponse(row, status_code=201)

    def _create_comment(self, repository: str, number: int, text: str) -> Response:
        comment = {
            "id": next(self._comment_ids),
            "body": text,
            "user": {"id": 9, "login": "ci-bot"},
            "html_url": f"{ROOT_URL}{repository}/pulls/{number}#issuecomment",
            "created_at": datetime.now(UTC).isoformat(),
        }
        self.comments[(repository, number)].append(comment)
        return JSONResponse(comment, status_code=201)

    def _edit_comment(self, repository: str, comment_id: int, text: str) -> Response:
        for (repo, _), rows in self.comments.items():
            for comment in rows:
                if comment["id"] == comment_id and repo == repository:
                    comment["body"] = text
                    return JSONResponse(comment)
        return JSONResponse(ERRORS["repo_not_found_404"]["body"], status_code=404)


async def _drop(send: Send) -> None:
    """Start an answer and end it short of its declared length: the server closes the
    connection, and the client sees it broken mid-answer."""
    await send(
        {"type": "http.response.start", "status": 201, "headers": [(b"content-length", b"100")]}
    )
    await send({"type": "http.response.body", "body": b"{", "more_body": False})
