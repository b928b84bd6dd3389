"""The one place where errors become HTTP responses.

Every error body has the same shape, ``{"error": {"type": ..., "message": ...}}``. Unexpected
exceptions answer a generic 500 and are logged with their traceback; their text is never
sent, because it may carry data that must not leave the process.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from html import escape
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from controller.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    MeshgateError,
    NotFound,
    PermanentError,
    TemporaryError,
    Unauthenticated,
)

log = logging.getLogger(__name__)


def error_response(status: int, kind: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "message": message, **extra}}, status_code=status)


def status_for(exc: MeshgateError) -> int:
    if isinstance(exc, BadRequest):
        return 400
    if isinstance(exc, Unauthenticated):
        return 401
    if isinstance(exc, Forbidden):
        return 403
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, TemporaryError):
        return 503
    if isinstance(exc, PermanentError):
        return 422
    return 500


async def _meshgate_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MeshgateError)
    status = status_for(exc)
    if status >= 500 or status == 401:
        log.warning("%s %s: %s", request.method, request.url.path, exc)
    if not request.url.path.startswith("/api/"):
        return page_error(status, str(exc))
    return error_response(status, type(exc).__name__, str(exc))


def page_error(status: int, message: str) -> HTMLResponse:
    """The dashboard's answer to a request it cannot serve: a page saying why."""
    return HTMLResponse(
        "<!doctype html><html lang='en'><meta charset='utf-8'>"
        f"<title>{status} · meshgate</title><link rel='stylesheet' href='/static/meshgate.css'>"
        f"<main><h1>{status}</h1><p>{escape(message)}</p><p><a href='/'>meshgate</a></p></main>",
        status_code=status,
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if not request.url.path.startswith("/api/"):
        return page_error(exc.status_code, str(exc.detail))
    return error_response(exc.status_code, "HTTPError", exc.detail, path=request.url.path)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "InternalError", "internal error; see the server log")


EXCEPTION_HANDLERS: Mapping[Any, Any] = {
    MeshgateError: _meshgate_error,
    HTTPException: _http_error,
    Exception: _unexpected,
}
