"""Parts of a flow worked out once and reused by every run of the same config: the checks
that hold no template, parsed into ``CheckSpec``s.

A suite runs again and again on one config revision (every deployment tests the same
steps), so the runner keeps one ``CompiledFlows`` for all its runs. Entries are keyed by
the identity of the config's own lists, which a config snapshot keeps alive and never
changes; an entry keeps its list, so an identity reused by a new object after the old one
was freed is recognised and recomputed. The cache is bounded: old configs fall out of it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from controller.checks import CheckSpec, parse_check

MAX_ENTRIES = 20_000


class CompiledFlows:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._max = max_entries
        self._checks: OrderedDict[int, tuple[Any, tuple[CheckSpec, ...] | None]] = OrderedDict()

    def static_checks(self, checks: Sequence[Mapping[str, Any]]) -> tuple[CheckSpec, ...] | None:
        """``checks`` parsed, when they hold no template (most do); ``None`` when they must
        be rendered at each use. Raises ``CheckSpecError`` for a malformed check."""
        key = id(checks)
        known = self._checks.get(key)
        if known is not None and known[0] is checks:
            self._checks.move_to_end(key)
            return known[1]
        specs = None if _has_template(checks) else tuple(parse_check(c) for c in checks)
        self._checks[key] = (checks, specs)
        if len(self._checks) > self._max:
            self._checks.popitem(last=False)
        return specs


def _has_template(node: Any) -> bool:
    if isinstance(node, str):
        return "${" in node
    if isinstance(node, Mapping):
        return any(_has_template(k) or _has_template(v) for k, v in node.items())
    if isinstance(node, list | tuple):
        return any(_has_template(item) for item in node)
    return False
