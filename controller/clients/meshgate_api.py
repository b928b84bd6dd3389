"""Clients of meshgate's own API: ``explain_remotely`` for ``meshgate explain --server``
(synchronous: the CLI makes one request and exits), and ``MeshgateAPI`` for ``meshgate
demo``, which sends itself webhooks."""

from __future__ import annotations

import asyncio
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


class MeshgateAPI:
    """An async client of a running meshgate (``meshgate demo`` sends itself webhooks)."""

    def __init__(self, base_url: str) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url, timeout=TIMEOUT_SECONDS, trust_env=False, follow_redirects=False
        )

    async def __aenter__(self) -> MeshgateAPI:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._client.aclose()

    async def wait_until_ready(self, *, within: float) -> None:
        """Until ``/readyz`` answers 200 (storage up, a valid config loaded)."""
        async with asyncio.timeout(within):
            while True:
                try:
                    if (await self._client.get("/readyz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)

    async def deliver(self, path: str, body: bytes, headers: dict[str, str]) -> list[int]:
        """POST a webhook; the ids of the runs its delivery queued. Raises
        ``PermanentError`` when meshgate did not accept it."""
        try:
            answer = await self._client.post(path, content=body, headers=headers)
            if answer.status_code not in (200, 202):
                raise PermanentError(f"{path} answered {answer.status_code}: {answer.text}")
            delivery = answer.json()["delivery"]
            listed = await self._client.get("/api/v1/runs", params={"delivery": delivery})
        except httpx.HTTPError as exc:
            raise TemporaryError(f"cannot reach meshgate: {exc}") from exc
        return [int(run["id"]) for run in listed.json()["runs"]]
