"""The operators of a check (flows.md §2.6), named from the actual value's point of view.

Each operator returns ``None`` when it passes, else what was found instead (the end of a
failure message: ``got "PENDING"``). The caller has already turned templates into values, and
handles ``ABSENT`` for every operator but ``exists``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sized
from dataclasses import dataclass
from typing import Any

from controller.checks.values import (
    ABSENT,
    has_type,
    is_deep_subset,
    is_number,
    json_type,
    show,
    strict_equal,
)
from controller.errors import PermanentError
from controller.loader.instance_schemas import SchemaLoader, schema_violations

OPERATORS = (
    "eq",
    "ne",
    "gt",
    "gte",
    "lt",
    "lte",
    "in",
    "not_in",
    "contains",
    "not_contains",
    "starts_with",
    "ends_with",
    "matches",
    "not_matches",
    "exists",
    "type",
    "is_empty",
    "length",
    "each",
    "schema",
)
SHOWN_VIOLATIONS = 3


class OperandError(PermanentError):
    """The check itself is wrong (an expected value of the wrong type, a bad regex): the
    flow needs fixing, whatever the service answers."""


@dataclass(frozen=True, slots=True)
class Context:
    """What operators need besides the two values: JSON Schema files of the config repo."""

    load_schema: SchemaLoader


def got(actual: Any) -> str:
    return f"got {show(actual)}"


def _eq(actual: Any, expected: Any, ctx: Context) -> str | None:
    return None if strict_equal(actual, expected) else got(actual)


def _ne(actual: Any, expected: Any, ctx: Context) -> str | None:
    return got(actual) if strict_equal(actual, expected) else None


def _comparison(test: Callable[[Any, Any], bool]) -> Callable[[Any, Any, Context], str | None]:
    def compare(actual: Any, expected: Any, ctx: Context) -> str | None:
        if not is_number(expected):
            raise OperandError(f"needs a number to compare with, not {json_type(expected)}")
        if not is_number(actual):
            return f"{got(actual)} ({json_type(actual)}, not a number)"
        return None if test(actual, expected) else got(actual)

    return compare


def _options(expected: Any) -> list[Any]:
    if not isinstance(expected, list | tuple):
        raise OperandError(f"needs a list of values, not {json_type(expected)}")
    return list(expected)


def _in(actual: Any, expected: Any, ctx: Context) -> str | None:
    return None if any(strict_equal(actual, o) for o in _options(expected)) else got(actual)


def _not_in(actual: Any, expected: Any, ctx: Context) -> str | None:
    return got(actual) if any(strict_equal(actual, o) for o in _options(expected)) else None


def _holds(actual: Any, expected: Any) -> bool | None:
    """``contains``; ``None`` when ``actual`` is of a kind nothing can be contained in."""
    if isinstance(actual, str):
        if not isinstance(expected, str):
            return False
        return expected in actual
    if isinstance(actual, list | tuple):
        return any(
            strict_equal(item, expected)
            or (isinstance(expected, Mapping | list) and is_deep_subset(expected, item))
            for item in actual
        )
    if isinstance(actual, Mapping):
        return is_deep_subset(expected, actual)
    return None


def _contains(actual: Any, expected: Any, ctx: Context) -> str | None:
    holds = _holds(actual, expected)
    if holds is None:
        return f"{got(actual)} ({json_type(actual)}: not a string, list or object)"
    return None if holds else got(actual)


def _not_contains(actual: Any, expected: Any, ctx: Context) -> str | None:
    holds = _holds(actual, expected)
    if holds is None:
        return f"{got(actual)} ({json_type(actual)}: not a string, list or object)"
    return got(actual) if holds else None


def _text_test(test: Callable[[str, str], bool]) -> Callable[[Any, Any, Context], str | None]:
    def check(actual: Any, expected: Any, ctx: Context) -> str | None:
        if not isinstance(expected, str):
            raise OperandError(f"needs a string, not {json_type(expected)}")
        if not isinstance(actual, str):
            return f"{got(actual)} ({json_type(actual)}, not a string)"
        return None if test(actual, expected) else got(actual)

    return check


def _search(actual: str, pattern: str) -> bool:
    try:
        return re.search(pattern, actual) is not None
    except re.error as exc:
        raise OperandError(f"invalid regex {pattern!r}: {exc}") from None


def _exists(actual: Any, expected: Any, ctx: Context) -> str | None:
    if not isinstance(expected, bool):
        raise OperandError("needs true or false")
    present = actual is not ABSENT
    if present == expected:
        return None
    return got(actual) if present else "got nothing"


def _type(actual: Any, expected: Any, ctx: Context) -> str | None:
    if not isinstance(expected, str):
        raise OperandError("needs a type name")
    return None if has_type(actual, expected) else f"{got(actual)} ({json_type(actual)})"


def _is_empty(actual: Any, expected: Any, ctx: Context) -> str | None:
    if not isinstance(expected, bool):
        raise OperandError("needs true or false")
    if not isinstance(actual, str | list | tuple | Mapping):
        return f"{got(actual)} ({json_type(actual)}: not a string, list or object)"
    return None if (len(actual) == 0) == expected else got(actual)


def _length(actual: Any, expected: Any, ctx: Context) -> str | None:
    if not isinstance(actual, str | list | tuple | Mapping):
        return f"{got(actual)} ({json_type(actual)}: has no length)"
    size = len(actual) if isinstance(actual, Sized) else 0
    if isinstance(expected, Mapping):
        failure = first_failure(size, expected, ctx)
        return None if failure is None else f"got length {size} ({failure[1]})"
    if not is_number(expected):
        raise OperandError(f"needs an integer or operators, not {json_type(expected)}")
    return None if size == expected else f"got length {size}"


def _each(actual: Any, expected: Any, ctx: Context) -> str | None:
    if not isinstance(expected, Mapping):
        raise OperandError(f"needs operators, not {json_type(expected)}")
    if not isinstance(actual, list | tuple):
        return f"{got(actual)} ({json_type(actual)}, not a list)"
    for index, item in enumerate(actual):
        failure = first_failure(item, expected, ctx)
        if failure is not None:
            operator, detail = failure
            return f"element [{index}] fails {operator} {show(expected[operator])}: {detail}"
    return None


def _schema(actual: Any, expected: Any, ctx: Context) -> str | None:
    if not isinstance(expected, Mapping):
        raise OperandError(f"needs a JSON Schema (an object), not {json_type(expected)}")
    try:
        violations = schema_violations(actual, expected, load=ctx.load_schema)
    except ValueError as exc:
        raise OperandError(str(exc)) from None
    if not violations:
        return None
    shown = "; ".join(violations[:SHOWN_VIOLATIONS])
    more = len(violations) - SHOWN_VIOLATIONS
    return f"got {len(violations)} violation(s): {shown}" + (
        f"; and {more} more" if more > 0 else ""
    )


Operator = Callable[[Any, Any, Context], "str | None"]

_TABLE: dict[str, Operator] = {
    "eq": _eq,
    "ne": _ne,
    "gt": _comparison(lambda a, e: a > e),
    "gte": _comparison(lambda a, e: a >= e),
    "lt": _comparison(lambda a, e: a < e),
    "lte": _comparison(lambda a, e: a <= e),
    "in": _in,
    "not_in": _not_in,
    "contains": _contains,
    "not_contains": _not_contains,
    "starts_with": _text_test(str.startswith),
    "ends_with": _text_test(str.endswith),
    "matches": _text_test(_search),
    "not_matches": _text_test(lambda a, e: not _search(a, e)),
    "exists": _exists,
    "type": _type,
    "is_empty": _is_empty,
    "length": _length,
    "each": _each,
    "schema": _schema,
}
assert tuple(_TABLE) == OPERATORS


def apply(operator: str, actual: Any, expected: Any, ctx: Context) -> str | None:
    """Run one operator; ``None`` if it passes, else what was found. Raises
    ``OperandError`` when ``expected`` does not suit the operator."""
    function = _TABLE.get(operator)
    if function is None:
        raise OperandError(f"unknown operator {operator!r}")
    if actual is ABSENT and operator != "exists":
        return "got nothing"
    return function(actual, expected, ctx)


def first_failure(
    actual: Any, operators: Mapping[str, Any], ctx: Context
) -> tuple[str, str] | None:
    """The first of ``operators`` that fails on ``actual``: (operator, detail)."""
    for operator, expected in operators.items():
        try:
            detail = apply(operator, actual, expected, ctx)
        except OperandError as exc:
            detail = f"the check is invalid: {exc}"
        if detail is not None:
            return operator, detail
    return None
