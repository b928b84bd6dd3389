"""Query parameters, media types and bodies of the API, checked once: a bad value is a 400
naming it, a body over ``MAX_BODY_BYTES`` a 413 (it is read in chunks, never kept past the
cap), an unusable media type a 415."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request

from controller.errors import BadRequest, NotFound

MAX_BODY_BYTES = 1 << 20
PAGE_MAX = 200
ID_MAX = 2**63 - 1  # database ids are 64-bit


class _Identified(Protocol):
    @property
    def id(self) -> int: ...


def older_page(
    path: str, filters: Mapping[str, object], found: Sequence[_Identified], *, page: int
) -> str | None:
    """The link to the next page of a newest-first list (the same filters, ``before`` the
    last one shown), or ``None`` when this page was not full."""
    if len(found) < page:
        return None
    kept = {name: str(value) for name, value in filters.items() if value not in (None, "")}
    return f"{path}?" + urlencode({**kept, "before": found[-1].id})


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


def media_type(request: Request) -> str:
    """The request's media type, lower case, without parameters (``""`` when absent)."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def require_media(request: Request, accepted: tuple[str, ...]) -> None:
    media = media_type(request)
    if media not in accepted:
        shown = ", ".join(m for m in accepted if m) or "none"
        raise HTTPException(415, f"unsupported content type {media or 'none'!r}; use {shown}")


async def read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise HTTPException(400, "invalid Content-Length header")
        if int(declared) > MAX_BODY_BYTES:
            raise HTTPException(413, f"body larger than {MAX_BODY_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise HTTPException(413, f"body larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def json_object(request: Request, *, optional: bool = False) -> dict[str, Any]:
    """The request body as a JSON object; an empty body is ``{}`` when ``optional``."""
    media = media_type(request)
    body = await read_body(request)
    if not body.strip() and optional:
        return {}
    if media not in ("application/json", ""):
        raise BadRequest(f"expected a JSON body (Content-Type: application/json), got {media!r}")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    return data


async def form_fields(request: Request) -> dict[str, str]:
    """A dashboard form's fields (``application/x-www-form-urlencoded``; a repeated field
    keeps its last value). Parsed here rather than by Starlette, whose form parsing needs
    python-multipart for what a few forms with text fields never send."""
    require_media(request, ("application/x-www-form-urlencoded",))
    body = await read_body(request)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("the form is not UTF-8") from exc
    try:
        return dict(parse_qsl(text, keep_blank_values=True, max_num_fields=50))
    except ValueError as exc:
        raise BadRequest(f"the form cannot be read: {exc}") from exc


def path_id(request: Request, what: str) -> int:
    """The ``{id:int}`` path parameter; one no database key can hold is simply not found."""
    value: int = request.path_params["id"]
    if value > ID_MAX:
        raise NotFound(f"{what} {value} does not exist")
    return value
