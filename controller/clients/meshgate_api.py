"""A client of meshgate's own API, for ``meshgate explain --server`` (the live config).

Synchronous: the CLI makes one request and exits.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from controller.errors import BadRequest, PermanentError, TemporaryError

TIMEOUT_SECONDS = 30.0


def explain_remotely(
    server: str,
    *,
    source: str,
    body: bytes,
    event: str,
    workspace: str | None,
    integration: str | None,
    rule: str | None,
) -> dict[str, Any]:
    """``POST {server}/api/v1/explain``; raises ``TemporaryError`` when the server
    cannot be reached and ``BadRequest`` / ``PermanentError`` with the server's reason."""
    request: dict[str, Any] = {"source": source, "payload": json.loads(body)}
    optional = {"event": event, "workspace": workspace, "integration": integration, "rule": rule}
    request.update({key: value for key, value in optional.items() if value})
    url = server.rstrip("/") + "/api/v1/explain"
    try:
        response = httpx.post(url, json=request, timeout=TIMEOUT_SECONDS, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise TemporaryError(f"cannot reach {server}: {exc}") from exc
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if response.status_code != 200:
        message = f"{server} answered {response.status_code}"
        if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
            message += f": {answer['error'].get('message')}"
        error = BadRequest if 400 <= response.status_code < 500 else PermanentError
        raise error(message)
    if not isinstance(answer, dict) or "integrations" not in answer:
        raise PermanentError(f"{server} did not answer like meshgate's explain API")
    return answer
