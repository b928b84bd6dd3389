"""Variables and ``when`` conditions, the same for suites, flows and steps."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controller.checks import Context, evaluate_all
from controller.templating import render_value


def render_vars(variables: Mapping[str, Any] | None, scope: Mapping[str, Any]) -> dict[str, Any]:
    """``scope`` with ``variables`` added, each rendered in order (a variable may use the
    ones before it and every lower level); raises ``TemplateError``."""
    layered = dict(scope)
    for name, value in (variables or {}).items():
        layered[name] = render_value(value, layered)
    return layered


def unmet_condition(when: Any, scope: Mapping[str, Any], ctx: Context) -> str:
    """Why ``when`` is false (the first failing check's message); empty when it holds.
    Evaluated before any request, so only ``var`` checks can pass here."""
    for result in evaluate_all(render_value(when, scope), None, scope, ctx):
        if not result.passed:
            return result.message
    return ""
