"""Query parameters and JSON bodies of the API, checked once: a bad value is a 400 naming it."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from controller.errors import BadRequest, NotFound

MAX_JSON_BODY = 1 << 20
PAGE_MAX = 200
ID_MAX = 2**63 - 1  # database ids are 64-bit


def int_param(
    request: Request, name: str, *, default: int | None, low: int, high: int
) -> int | None:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    if not text.isascii() or not text.isdigit() or not low <= int(text) <= high:
        raise BadRequest(f"query parameter {name!r} must be an integer from {low} to {high}")
    return int(text)


def text_param(request: Request, name: str, *, choices: tuple[str, ...] = ()) -> str | None:
    text = request.query_params.get(name)
    if text is None or text == "":
        return None
    if choices and text not in choices:
        raise BadRequest(f"query parameter {name!r} must be one of: {', '.join(choices)}")
    return text


async def json_object(request: Request, *, optional: bool = False) -> dict[str, Any]:
    """The request body as a JSON object; an empty body is ``{}`` when ``optional``."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    body = await request.body()
    if not body.strip() and optional:
        return {}
    if media not in ("application/json", ""):
        raise BadRequest(f"expected a JSON body (Content-Type: application/json), got {media!r}")
    if len(body) > MAX_JSON_BODY:
        raise BadRequest(f"body larger than {MAX_JSON_BODY} bytes")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    return data


def path_id(request: Request, what: str) -> int:
    """The ``{id:int}`` path parameter; one no database key can hold is simply not found."""
    value: int = request.path_params["id"]
    if value > ID_MAX:
        raise NotFound(f"{what} {value} does not exist")
    return value
