"""A step's ``request`` rendered into what the service client sends.

Rendering happens per attempt (a poll re-renders, so ``${uuid()}`` changes). The suite's
``defaults`` give the timeout, headers (a step's own headers win, compared without case) and
``follow_redirects``. Which rendered parts read ``secrets`` is kept (``tainted``), so the
recorded request can mask them whole whatever filters they went through (flows.md §2.12).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from controller.clients.services import OutgoingRequest, Timeouts
from controller.errors import PermanentError
from controller.flows.routing import RoutingPolicy
from controller.models.durations import parse_duration
from controller.templating import TemplateError, render_value_tracked

DEFAULT_TIMEOUT_SECONDS = 10.0
SECRET_ROOTS = frozenset({"secrets"})


class RequestError(PermanentError):
    """The rendered request cannot be sent (a header with a line break, a bad timeout)."""


@dataclass(frozen=True, slots=True)
class Prepared:
    outgoing: OutgoingRequest
    timeouts: Timeouts
    follow_redirects: bool
    secret_headers: frozenset[str] = field(default_factory=frozenset)
    """Lower-case names of headers whose value read a secret."""
    secret_url: bool = False
    secret_body: bool = False


def prepare(
    request: Mapping[str, Any],
    *,
    defaults: Mapping[str, Any],
    scope: Mapping[str, Any],
    routing: RoutingPolicy,
    secret_names: frozenset[str] = frozenset(),
) -> Prepared:
    """Render ``request`` in ``scope``; raises ``TemplateError``, ``RoutingError`` or
    ``RequestError``. ``secret_names`` are variables holding secret captures: reading one
    taints like ``secrets`` does."""
    tainting = SECRET_ROOTS | secret_names
    method = str(request.get("method", "GET")).upper()
    path, path_roots = render_value_tracked(request.get("path", "/"), scope)
    query, query_roots = render_value_tracked(request.get("query", {}), scope)
    url = routing.url_for(str(request.get("service", "")), _text(path))
    if query:
        url += ("&" if "?" in url else "?") + _query_string(query)
    headers: dict[str, tuple[str, str]] = {}
    secret_headers: set[str] = set()
    for source in (defaults.get("headers") or {}, request.get("headers") or {}):
        for name, template in source.items():
            value, roots = render_value_tracked(template, scope)
            key = str(name).lower()
            if value is None:
                headers.pop(key, None)
                continue
            text = _text(value)
            if "\r" in text or "\n" in text:
                raise RequestError(f"header {name!r} renders to a value with a line break")
            headers[key] = (str(name), text)
            secret_headers.discard(key)
            if roots & tainting:
                secret_headers.add(key)
    content, content_type, body_roots = _body(request, scope)
    if content_type and "content-type" not in headers:
        headers["content-type"] = ("Content-Type", content_type)
    return Prepared(
        outgoing=OutgoingRequest(method, url, tuple(headers.values()), content),
        timeouts=timeouts_of(request.get("timeout"), defaults.get("timeout")),
        follow_redirects=bool(
            request.get("follow_redirects", defaults.get("follow_redirects", False))
        ),
        secret_headers=frozenset(secret_headers),
        secret_url=bool((path_roots | query_roots) & tainting),
        secret_body=bool(body_roots & tainting),
    )


def timeouts_of(step: Any, default: Any) -> Timeouts:
    """The step's timeout over the suite default (each a duration or ``{connect, read,
    write, pool}``; phases left out keep the default's)."""
    base = _phases(default, Timeouts(*(DEFAULT_TIMEOUT_SECONDS,) * 4))
    return _phases(step, base)


def _phases(value: Any, base: Timeouts) -> Timeouts:
    if value is None:
        return base
    if isinstance(value, str):
        seconds = _seconds(value)
        return Timeouts(seconds, seconds, seconds, seconds)
    if isinstance(value, Mapping):
        return Timeouts(
            *(
                _seconds(value[phase]) if phase in value else getattr(base, phase)
                for phase in ("connect", "read", "write", "pool")
            )
        )
    raise RequestError(f"a timeout is a duration or connect/read/write/pool, not {value!r}")


def _seconds(text: Any) -> float:
    try:
        return parse_duration(str(text)).total_seconds()
    except ValueError as exc:
        raise RequestError(str(exc)) from None


def _body(
    request: Mapping[str, Any], scope: Mapping[str, Any]
) -> tuple[bytes | None, str, frozenset[str]]:
    kinds = [kind for kind in ("json", "body", "form") if kind in request]
    if len(kinds) > 1:
        raise RequestError(
            f"a request has at most one of json, body, form; found {', '.join(kinds)}"
        )
    if not kinds:
        return None, "", frozenset()
    kind = kinds[0]
    value, roots = render_value_tracked(request[kind], scope)
    if kind == "json":
        try:
            text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise RequestError(f"the json body cannot be encoded: {exc}") from None
        return text.encode(), "application/json", roots
    if kind == "form":
        if not isinstance(value, Mapping):
            raise RequestError("form renders to something that is not a mapping")
        return _query_string(value).encode(), "application/x-www-form-urlencoded", roots
    return _text(value).encode(), "", roots


def _query_string(values: Mapping[str, Any]) -> str:
    pairs: list[tuple[str, str]] = []
    for name, value in values.items():
        for item in value if isinstance(value, list | tuple) else [value]:
            pairs.append((str(name), _scalar(item)))
    return urlencode(pairs)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return _text(value)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        raise TemplateError(f"a {type(value).__name__} value cannot be sent as text") from None
