"""The defaults of a TriggerRule's optional fields, in one place (``schemas/trigger-rule.json``
declares them; validation, matching and the config views all apply them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DEFAULT_BRANCH_FILTER = "*"


def branch_filter_of(spec: Mapping[str, Any]) -> str:
    value = spec.get("branch_filter")
    return value if isinstance(value, str) and value else DEFAULT_BRANCH_FILTER


def status_context_of(spec: Mapping[str, Any]) -> str:
    """The commit-status context: the rule's own, else ``meshgate/<suite>``."""
    value = spec.get("status_context")
    return value if isinstance(value, str) and value else f"meshgate/{spec['suite']}"


def enabled_of(spec: Mapping[str, Any]) -> bool:
    return bool(spec.get("enabled", True))
