"""Evaluation of parsed templates against a scope (a plain ``Mapping``).

The only operations ever performed on scope values are ``Mapping`` item lookups and
``list``/``tuple`` indexing: no ``getattr``, no calls, so a flow author can reach the data in the
scope and nothing else. There are no loops, so rendering is linear in the template's size, and
the text one call creates is capped at ``MAX_OUTPUT_CHARS`` (repeating a large value, or chaining
``json`` filters, could otherwise exhaust memory).
"""

from __future__ import annotations

import base64
import functools
import json
import math
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from controller.templating.errors import TemplateError, TemplateSyntaxError
from controller.templating.grammar import Expression, Segment, Template, format_path, parse

MAX_OUTPUT_CHARS = 1 << 20
_KNOWN_SHOWN = 10
_KINDS: tuple[tuple[Any, str], ...] = (
    (type(None), "null"),
    (bool, "a boolean"),
    (int | float, "a number"),
    (str, "a string"),
    (Mapping, "an object"),
    (list | tuple, "a list"),
)


_json = functools.partial(json.dumps, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _text(value: Any) -> str:
    """The embedding rule: strings as they are, anything else as compact JSON."""
    return value if isinstance(value, str) else _json(value)


def _float(value: Any) -> float:
    result = float(value)
    if not math.isfinite(result):
        raise ValueError
    return result


_FILTERS: dict[str, Callable[[Any], Any]] = {
    "upper": lambda v: _text(v).upper(),
    "lower": lambda v: _text(v).lower(),
    "trim": lambda v: _text(v).strip(),
    "int": int,
    "float": _float,
    "string": _text,
    "length": len,
    "json": _json,
    "b64encode": lambda v: base64.b64encode(_text(v).encode()).decode("ascii"),
    "urlencode": lambda v: urllib.parse.quote(_text(v), safe=""),
}
_FAILURES = {
    "int": "is not an integer",
    "float": "is not a finite number",
    "length": "has no length",
}
_FUNCTIONS: dict[str, Callable[[], Any]] = {
    "uuid": lambda: str(uuid.uuid4()),
    "now": lambda: datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
}


def render(template: Template, scope: Mapping[str, Any]) -> Any:
    """Render ``template``: the native value if it is exactly one expression, else a string.

    A native value is the scope's own object, not a copy.
    """
    return _render(template, scope, _Budget())


def render_tracked(template: Template, scope: Mapping[str, Any]) -> tuple[Any, frozenset[str]]:
    """Render, and return the roots read: a value that read ``secrets`` must be masked."""
    return _render(template, scope, _Budget()), template.roots


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def lookup(path: str, scope: Mapping[str, Any]) -> Any:
    """The value at variable ``path`` (``order_id``, ``services.user-service.url``,
    ``items[0]``) in ``scope``, or ``MISSING``; the same item lookups as ``${path}``.
    Raises ``TemplateSyntaxError`` when ``path`` is not a plain path."""
    template = parse("${" + path + "}")
    expression = template.parts[0] if template.is_single_expression else None
    if (
        not isinstance(expression, Expression)
        or expression.function is not None
        or expression.filters
    ):
        raise TemplateSyntaxError(f"{path!r} is not a variable path", text=path, offset=0)
    value, failed_at = _walk(expression.path, scope)
    return MISSING if failed_at >= 0 else value


def render_value(node: Any, scope: Mapping[str, Any]) -> Any:
    """Render every string (raw or a parsed ``Template``) in a structure of dicts and lists.

    Keys are rendered too, always to text; two keys rendering alike are an error. Other values
    are returned untouched. The output cap applies to the whole structure.
    """
    return _render_node(node, scope, _Budget(), None)


def render_value_tracked(node: Any, scope: Mapping[str, Any]) -> tuple[Any, frozenset[str]]:
    """``render_value``, and the union of the roots read anywhere in ``node``."""
    roots: set[str] = set()
    return _render_node(node, scope, _Budget(), roots), frozenset(roots)


class _Budget:
    __slots__ = ("left",)

    def __init__(self) -> None:
        self.left = MAX_OUTPUT_CHARS

    def check(self, size: int) -> None:
        if size > self.left:
            raise TemplateError(f"rendered text exceeds the limit of {MAX_OUTPUT_CHARS} characters")

    def spend(self, size: int) -> None:
        self.check(size)
        self.left -= size


def _render_node(
    node: Any, scope: Mapping[str, Any], budget: _Budget, roots: set[str] | None
) -> Any:
    if isinstance(node, str):
        if "${" not in node:
            return node
        node = parse(node)
    if isinstance(node, Template):
        if roots is not None:
            roots |= node.roots
        return _render(node, scope, budget)
    if isinstance(node, Mapping):
        rendered: dict[Any, Any] = {}
        origins: dict[Any, Any] = {}
        for key, value in node.items():
            origin = key.text if isinstance(key, Template) else key
            new_key = key
            if isinstance(key, str | Template):
                new_key = _as_text(_render_node(key, scope, budget, roots), origin)
            if new_key in origins:
                raise TemplateError(f"keys {origins[new_key]!r} and {origin!r} render alike")
            origins[new_key] = origin
            rendered[new_key] = _render_node(value, scope, budget, roots)
        return rendered
    if isinstance(node, list | tuple):
        return type(node)(_render_node(item, scope, budget, roots) for item in node)
    return node


def _render(template: Template, scope: Mapping[str, Any], budget: _Budget) -> Any:
    parts = template.parts
    if len(parts) == 1:
        part = parts[0]
        if isinstance(part, str):
            return part
        value = _evaluate(part, scope, budget)
        if isinstance(value, str) and (part.filters or part.function):
            budget.spend(len(value))
        return value
    pieces = []
    for part in parts:
        piece = (
            part if isinstance(part, str) else _as_text(_evaluate(part, scope, budget), part.head)
        )
        budget.spend(len(piece))
        pieces.append(piece)
    return "".join(pieces)


def _evaluate(expression: Expression, scope: Mapping[str, Any], budget: _Budget) -> Any:
    if expression.function is not None:
        value, failed_at = _FUNCTIONS[expression.function](), -1
    else:
        value, failed_at = _walk(expression.path, scope)
    for f in expression.filters:
        if f.name == "default":
            if failed_at >= 0:
                value, failed_at = json.loads(f.literal or "null"), -1
        elif failed_at < 0:
            value = _apply(f.name, value, expression)
            if isinstance(value, str):
                budget.check(len(value))
    if failed_at >= 0:
        raise TemplateError(_undefined(expression.path, value, failed_at))
    return value


def _walk(path: tuple[Segment, ...], scope: Mapping[str, Any]) -> tuple[Any, int]:
    """The value at ``path`` and -1, or the container where segment ``i`` is missing and ``i``."""
    current: Any = scope
    for i, segment in enumerate(path):
        if isinstance(segment, int):
            if not isinstance(current, list | tuple) or segment >= len(current):
                return current, i
        elif not isinstance(current, Mapping) or segment not in current:
            return current, i
        current = current[segment]
    return current, -1


def _undefined(path: tuple[Segment, ...], container: Any, i: int) -> str:
    segment, parent = path[i], format_path(path[:i])
    if isinstance(segment, int):
        if isinstance(container, list | tuple):
            reason = f"index {segment} is out of range ({parent!r} has length {len(container)})"
        else:
            reason = f"{parent!r} is {_kind(container)}, not a list"
    elif isinstance(container, Mapping):
        keys = sorted(str(k) for k in container)
        known = ", ".join(keys[:_KNOWN_SHOWN]) or "none"
        if len(keys) > _KNOWN_SHOWN:
            known += f", and {len(keys) - _KNOWN_SHOWN} more"
        reason = f"{segment!r} is not defined (known: {known})"
    else:
        reason = f"{parent!r} is {_kind(container)}, not an object"
    return f"undefined variable {format_path(path)!r}: {reason}"


def _apply(name: str, value: Any, expression: Expression) -> Any:
    try:
        return _FILTERS[name](value)
    except (TypeError, ValueError, OverflowError, RecursionError):
        reason = _FAILURES.get(name, "cannot be converted")
        # "from None": Python's own message would quote the value, which may be a secret.
        raise TemplateError(
            f"filter {name!r} failed on {expression.head!r}: {_kind(value)} value {reason}"
        ) from None


def _as_text(value: Any, where: str) -> str:
    try:
        return _text(value)
    except (TypeError, ValueError, RecursionError):
        raise TemplateError(
            f"cannot render {where!r} as text: {_kind(value)} value is not JSON-serializable"
        ) from None


def _kind(value: Any) -> str:
    """JSON's names for types, with an article: what flow authors know them as."""
    return next((k for t, k in _KINDS if isinstance(value, t)), f"a {type(value).__name__}")
