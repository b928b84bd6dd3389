"""What checks compare: JSON values with strict types, and "absent" (nothing selected).

The rules are flows.md §2.6: equality is typed and deep (``1 == 1.0``, but ``true != 1`` and
``"1" != 1``), booleans are never numbers, and a selector that finds nothing yields
``ABSENT``, which every operator except ``exists`` fails on. JSON ``null`` is a value, not
absence.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

PREVIEW_CHARS = 200


class _Absent:
    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Final[Any] = _Absent()


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def strict_equal(actual: Any, expected: Any) -> bool:
    """Deep equality where numbers compare by value and every other type must match."""
    if is_number(actual) and is_number(expected):
        return bool(actual == expected)
    if isinstance(actual, bool) or isinstance(expected, bool):
        return actual is expected
    if actual is None or expected is None:
        return actual is None and expected is None
    if isinstance(actual, str) or isinstance(expected, str):
        return isinstance(actual, str) and isinstance(expected, str) and actual == expected
    if isinstance(actual, Mapping) and isinstance(expected, Mapping):
        return actual.keys() == expected.keys() and all(
            strict_equal(actual[key], expected[key]) for key in expected
        )
    if isinstance(actual, list | tuple) and isinstance(expected, list | tuple):
        return len(actual) == len(expected) and all(
            strict_equal(a, e) for a, e in zip(actual, expected, strict=True)
        )
    return False


def is_deep_subset(expected: Any, actual: Any) -> bool:
    """``expected`` is found in ``actual``: every key of an object with a matching value,
    every element of a list matched by some element; other values are ``strict_equal``."""
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(
            key in actual and is_deep_subset(value, actual[key]) for key, value in expected.items()
        )
    if isinstance(expected, list | tuple):
        return isinstance(actual, list | tuple) and all(
            any(is_deep_subset(item, candidate) for candidate in actual) for item in expected
        )
    return strict_equal(actual, expected)


def json_type(value: Any) -> str:
    """The JSON type name (``integer`` is reported as ``number``: see ``has_type``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


def has_type(value: Any, name: str) -> bool:
    """``type: integer`` accepts ``3`` and ``3.0`` (JSON does not tell them apart)."""
    if name == "integer":
        return is_number(value) and float(value).is_integer()
    return json_type(value) == name


def show(value: Any, limit: int = PREVIEW_CHARS) -> str:
    """``value`` as compact JSON for a message, cut to ``limit`` characters."""
    if value is ABSENT:
        return "nothing"
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def preview(value: Any, limit: int = PREVIEW_CHARS) -> Any:
    """``value`` itself when it is small, else its cut ``show`` text: what a stored check
    result keeps as the actual value (a ``json: $`` check would otherwise store the body)."""
    if value is ABSENT:
        return None
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value if len(value) <= limit else value[: limit - 1] + "…"
    text = show(value, limit + 1)
    return value if len(text) <= limit else text[: limit - 1] + "…"
