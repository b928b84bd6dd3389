"""JSONPath (RFC 9535) for ``json:`` checks and captures; the one user of ``jsonpath_rfc9535``.

The result shape follows flows.md §2.6, decided by the query, never by the data: a *singular*
query (names and indexes only, ``$.a.b[0]``) gives the value or ``ABSENT``; any other query
(wildcards, slices, filters, ``..``) gives a list, possibly empty. So ``$.items[*].id`` is a
list even when one item matches, and a check on it does not change meaning with the data.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jsonpath_rfc9535
from jsonpath_rfc9535 import JSONPathError, JSONPathQuery
from jsonpath_rfc9535.selectors import IndexSelector, NameSelector

from controller.checks.values import ABSENT
from controller.errors import PermanentError


class JsonPathError(PermanentError):
    """The query does not parse, or cannot be applied (nested too deeply)."""


@lru_cache(maxsize=1024)
def compile_path(text: str) -> tuple[JSONPathQuery, bool]:
    """The compiled query and whether it is singular; raises ``JsonPathError``."""
    try:
        query = jsonpath_rfc9535.compile(text)
    except JSONPathError as exc:
        raise JsonPathError(f"invalid JSONPath {text!r}: {exc}") from exc
    return query, bool(query.singular_query())


@lru_cache(maxsize=1024)
def _singular_steps(text: str) -> tuple[str | int, ...] | None:
    """The names and indexes of a singular query, for a direct walk (``None``: use the
    library). A singular query's segments each hold one name or index selector."""
    query, singular = compile_path(text)
    if not singular:
        return None
    steps: list[str | int] = []
    for segment in query.segments:
        (selector,) = segment.selectors
        if isinstance(selector, NameSelector):
            steps.append(selector.name)
        elif isinstance(selector, IndexSelector):
            steps.append(selector.index)
        else:
            return None
    return tuple(steps)


def select(text: str, document: Any) -> Any:
    """The value (singular query) or list of values at ``text`` in ``document``.

    Singular queries, the common case (``$.status``, ``$.items[0].id``), are walked
    directly: the same answer as the library's, without building its node list."""
    steps = _singular_steps(text)
    if steps is not None:
        return _walk(document, steps)
    query, singular = compile_path(text)
    try:
        values = query.find(document).values()
    except (JSONPathError, RecursionError) as exc:
        raise JsonPathError(f"JSONPath {text!r} could not be applied: {exc}") from exc
    if singular:
        return values[0] if values else ABSENT
    return values


def _walk(document: Any, steps: tuple[str | int, ...]) -> Any:
    current = document
    for step in steps:
        if isinstance(step, str):
            if not isinstance(current, dict) or step not in current:
                return ABSENT
            current = current[step]
        else:
            if not isinstance(current, list):
                return ABSENT
            index = step + len(current) if step < 0 else step
            if not 0 <= index < len(current):
                return ABSENT
            current = current[index]
    return current
