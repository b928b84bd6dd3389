"""The response a check looks at, and the selectors that pick a value out of it.

``Observed`` is built by the flow engine from one HTTP exchange; checks never see the HTTP
library. Its body is what the engine kept (up to its cap): when the service sent more,
``body_complete`` is false and the ``json`` selector refuses to guess from a cut document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from controller.checks.jsonpath import select as select_json
from controller.checks.values import ABSENT
from controller.errors import PermanentError
from controller.templating import MISSING, lookup

SELECTORS_WITH_ARGUMENT = ("header", "cookie", "json", "regex", "var")
SELECTORS_WITHOUT_ARGUMENT = ("status", "duration", "body", "url")
SELECTORS = (*SELECTORS_WITHOUT_ARGUMENT, *SELECTORS_WITH_ARGUMENT)
_RESPONSE_SELECTORS = frozenset(SELECTORS) - {"var"}


class SelectorError(PermanentError):
    """The selector cannot give a value (no response yet, a body that is not JSON, ...)."""


@dataclass(frozen=True, slots=True)
class Observed:
    """One response: ``headers`` as received (names in their original case, repeats kept),
    ``body`` the bytes kept, ``elapsed_ms`` from sending to the end of the body."""

    status: int
    headers: Sequence[tuple[str, str]]
    body: bytes
    url: str
    elapsed_ms: float
    body_complete: bool = True
    body_size: int | None = None
    """Bytes the service sent (when known); ``len(body)`` when the body is complete."""
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def text(self) -> str:
        cached = self._cache.get("text")
        if cached is None:
            cached = self._cache["text"] = self.body.decode(self._charset(), "replace")
        return str(cached)

    def header(self, name: str) -> str | None:
        """Every value of header ``name`` (any case) joined with ``", "``, or ``None``."""
        wanted = name.lower()
        values = [value for key, value in self.headers if key.lower() == wanted]
        return ", ".join(values) if values else None

    def cookie(self, name: str) -> str | None:
        """The value ``Set-Cookie`` gave ``name`` (the last one wins), or ``None``."""
        found = None
        for key, value in self.headers:
            if key.lower() == "set-cookie":
                pair = value.split(";", 1)[0]
                cookie, sep, cookie_value = pair.partition("=")
                if sep and cookie.strip() == name:
                    found = cookie_value.strip().strip('"')
        return found

    def json(self) -> Any:
        """The body parsed as JSON; raises ``SelectorError`` for a cut or non-JSON body."""
        if "json" in self._cache:
            return self._cache["json"]
        if not self.body_complete:
            size = f" of {self.body_size} bytes" if self.body_size is not None else ""
            raise SelectorError(
                f"the body{size} was cut at {len(self.body)} bytes, so it cannot be read as JSON"
            )
        try:
            value = json.loads(self.text)
        except json.JSONDecodeError as exc:
            raise SelectorError(
                f"the body is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
            ) from None
        except RecursionError:
            raise SelectorError("the body is JSON nested too deeply to read") from None
        self._cache["json"] = value
        return value

    def _charset(self) -> str:
        content_type = self.header("content-type") or ""
        match = re.search(r"charset=\"?([A-Za-z0-9_.:-]+)", content_type)
        if match:
            try:
                "".encode(match.group(1))
            except LookupError:
                return "utf-8"
            return match.group(1)
        return "utf-8"


def select(
    selector: str, argument: Any, observed: Observed | None, scope: Mapping[str, Any]
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
        return select_json(str(argument), observed.json())
    if selector == "regex":
        return _regex(str(argument), observed.text)
    raise SelectorError(f"unknown selector {selector!r}")


def needs_response(selector: str) -> bool:
    return selector in _RESPONSE_SELECTORS


def _regex(pattern: str, text: str) -> Any:
    try:
        match = re.search(pattern, text)
    except re.error as exc:
        raise SelectorError(f"invalid regex {pattern!r}: {exc}") from None
    if match is None:
        return ABSENT
    return match.group(1) if match.re.groups else match.group(0)
