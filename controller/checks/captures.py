"""Captures: values taken from a response into flow variables (flows.md §2.7).

A capture uses the selectors of the checks (``json``, ``header``, ``cookie``, ``regex``) or
takes the whole ``body``, the ``status`` or the final ``url``. A selector that finds nothing
is a ``CaptureError`` unless the capture has a ``default``. The engine commits the values to
the flow only when the step passes; ``secret: true`` values go to the redactor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from controller.checks.observed import SelectorError, select
from controller.checks.values import ABSENT
from controller.errors import PermanentError
from controller.models.http import HttpResponse

CAPTURE_SELECTORS = ("json", "header", "cookie", "regex", "body", "status", "url")
_WHOLE = frozenset({"body", "status", "url"})


class CaptureError(PermanentError):
    """A capture found nothing (and has no default), or its selector could not be applied."""


@dataclass(frozen=True, slots=True)
class Captured:
    name: str
    value: Any
    secret: bool
    defaulted: bool = False


def capture(name: str, spec: Mapping[str, Any], observed: HttpResponse) -> Captured:
    """Take capture ``name`` from ``observed``; raises ``CaptureError``."""
    selectors = [key for key in spec if key in CAPTURE_SELECTORS]
    if len(selectors) != 1:
        raise CaptureError(f"capture {name!r} needs exactly one of {', '.join(CAPTURE_SELECTORS)}")
    selector = selectors[0]
    argument = None if selector in _WHOLE else spec[selector]
    label = selector if argument is None else f"{selector} {argument}"
    secret = bool(spec.get("secret", False))
    try:
        value = select(selector, argument, observed, {})
    except (SelectorError, PermanentError) as exc:
        if "default" in spec:
            return Captured(name, spec["default"], secret, defaulted=True)
        raise CaptureError(f"capture {name!r} ({label}): {exc}") from None
    if value is ABSENT:
        if "default" in spec:
            return Captured(name, spec["default"], secret, defaulted=True)
        raise CaptureError(f"capture {name!r} ({label}) found nothing")
    return Captured(name, value, secret)


def capture_all(specs: Mapping[str, Mapping[str, Any]], observed: HttpResponse) -> list[Captured]:
    """Every capture, in order; the first that fails raises ``CaptureError``."""
    return [capture(name, spec, observed) for name, spec in specs.items()]
