from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from controller.checks import CheckResult, Context, evaluate
from controller.models.http import HttpResponse

NO_FILES = Context(load_schema=lambda path: (_ for _ in ()).throw(LookupError(path)))


def response(
    body: Any = b"",
    *,
    status: int = 200,
    headers: Sequence[tuple[str, str]] = (),
    elapsed_ms: float = 12.0,
    url: str = "http://user-service.test/api/users",
    complete: bool = True,
) -> HttpResponse:
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
        headers = [("Content-Type", "application/json"), *headers]
    return HttpResponse(
        status=status,
        headers=tuple(headers),
        body=body,
        url=url,
        elapsed_ms=elapsed_ms,
        body_complete=complete,
    )


def check(
    spec: Mapping[str, Any],
    observed: HttpResponse | None,
    scope: Mapping[str, Any] | None = None,
    ctx: Context = NO_FILES,
) -> list[CheckResult]:
    return evaluate(spec, observed, scope or {}, ctx)


def messages(results: Sequence[CheckResult]) -> list[str]:
    return [r.message for r in results if not r.passed]
