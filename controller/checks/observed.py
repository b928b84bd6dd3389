"""The selectors that pick a value out of a response (``models.http.HttpResponse``).

The body is what the service client kept (up to its cap): when the service sent more,
``body_complete`` is false and the ``json`` selector refuses to guess from a cut document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from controller.checks.jsonpath import select as select_json
from controller.checks.values import ABSENT
from controller.errors import PermanentError
from controller.models.http import HttpResponse
from controller.templating import MISSING, lookup

SELECTORS_WITH_ARGUMENT = ("header", "cookie", "json", "regex", "var")
SELECTORS_WITHOUT_ARGUMENT = ("status", "duration", "body", "url")
SELECTORS = (*SELECTORS_WITHOUT_ARGUMENT, *SELECTORS_WITH_ARGUMENT)


class SelectorError(PermanentError):
    """The selector cannot give a value (no response yet, a body that is not JSON, ...)."""


def response_json(response: HttpResponse) -> Any:
    """The body parsed as JSON (once per response); raises ``SelectorError`` for a cut or
    non-JSON body."""
    if "json" in response._cache:
        return response._cache["json"]
    if not response.body_complete:
        size = f" of {response.body_size} bytes" if response.body_size is not None else ""
        raise SelectorError(
            f"the body{size} was cut at {len(response.body)} bytes, so it cannot be read as JSON"
        )
    try:
        value = json.loads(response.text)
    except json.JSONDecodeError as exc:
        raise SelectorError(
            f"the body is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except RecursionError:
        raise SelectorError("the body is JSON nested too deeply to read") from None
    response._cache["json"] = value
    return value


def select(
    selector: str, argument: Any, observed: HttpResponse | None, scope: Mapping[str, Any]
) -> Any:
    """The value ``selector`` (with ``argument``) picks, or ``ABSENT``.

    ``observed`` is ``None`` where there is no response (a ``when`` before the request):
    only ``var`` works there.
    """
    if selector == "var":
        value = lookup(str(argument), scope)
        return ABSENT if value is MISSING else value
    if observed is None:
        raise SelectorError(f"{selector} needs a response; before the request only var works")
    if selector == "status":
        return observed.status
    if selector == "duration":
        return observed.elapsed_ms
    if selector == "body":
        return observed.text
    if selector == "url":
        return observed.url
    if selector == "header":
        found = observed.header(str(argument))
        return ABSENT if found is None else found
    if selector == "cookie":
        found = observed.cookie(str(argument))
        return ABSENT if found is None else found
    if selector == "json":
        return select_json(str(argument), response_json(observed))
    if selector == "regex":
        return _regex(str(argument), observed.text)
    raise SelectorError(f"unknown selector {selector!r}")


def _regex(pattern: str, text: str) -> Any:
    try:
        match = re.search(pattern, text)
    except re.error as exc:
        raise SelectorError(f"invalid regex {pattern!r}: {exc}") from None
    if match is None:
        return ABSENT
    return match.group(1) if match.re.groups else match.group(0)
