"""What the clients of the REST APIs meshgate calls (Gitea, Argo CD) share: one request with
its transport failures translated, a success body decoded, and the server's own error
message, cut to a line."""

from __future__ import annotations

from typing import Any

import httpx

from controller.credentials import redact_url
from controller.errors import TemporaryError

MAX_MESSAGE_CHARS = 300


async def request(
    client: httpx.AsyncClient,
    method: str,
    api: str,
    path: str,
    *,
    authorization: str,
    unavailable: type[TemporaryError],
    json: Any = None,
    params: dict[str, Any] | None = None,
) -> tuple[httpx.Response, str]:
    """Send ``method`` to ``api`` + ``path``; the response and ``where`` it went (the method
    and the URL without credentials, for error messages). A transport failure (no
    connection, timeout, broken answer) is ``unavailable`` naming ``where``, never
    ``authorization``."""
    where = f"{method} {redact_url(api)}{path}"
    try:
        response = await client.request(
            method, api + path, json=json, params=params, headers={"Authorization": authorization}
        )
        return response, where
    except httpx.TimeoutException as exc:
        raise unavailable(f"{where}: no answer in time ({type(exc).__name__})") from exc
    except httpx.HTTPError as exc:
        raise unavailable(f"{where}: {type(exc).__name__}: {exc}") from exc


def success_body(response: httpx.Response, where: str, *, unavailable: type[TemporaryError]) -> Any:
    """A successful answer's JSON (``None`` when it has no body); a body that is not JSON is
    ``unavailable`` (a proxy's page, a truncated answer), naming ``where``."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError as exc:
        raise unavailable(
            f"{where}: answered {response.status_code} with a body that is not JSON"
        ) from exc


def error_message(response: httpx.Response, *keys: str) -> str:
    """The first non-empty string under ``keys`` of a JSON error body, on one line."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    for key in keys:
        text = body.get(key)
        if isinstance(text, str) and text.strip():
            line = " ".join(text.split())
            return line if len(line) <= MAX_MESSAGE_CHARS else line[: MAX_MESSAGE_CHARS - 1] + "…"
    return ""
