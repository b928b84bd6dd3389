"""Evaluating checks: every check of a list, every operator of a check, nothing skipped.

A check is one selector plus operators (flows.md §2.6). The short forms are expanded first:
``status: 201`` is ``eq``, ``status: [200, 201]`` is ``in``, ``status: 2xx`` is a class;
``duration``, ``body`` and ``url`` take a scalar as ``eq`` or a map of operators; selectors
with an argument (``json: $.id``) take their operators as sibling keys, and none means
``exists: true``. The result lists one ``CheckResult`` per operator, so a report shows each
failure with the expected and the actual value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from controller.checks.observed import (
    SELECTORS,
    SELECTORS_WITH_ARGUMENT,
    SelectorError,
    select,
)
from controller.checks.operators import Context, OperandError, apply
from controller.checks.values import ABSENT, preview, show
from controller.errors import PermanentError
from controller.models.durations import parse_duration
from controller.models.http import HttpResponse

_STATUS_CLASS = re.compile(r"^[1-5]xx$")


class CheckSpecError(PermanentError):
    """A check that is not one selector with operators."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One operator of one check. ``actual`` is a preview (small values as they are, large
    ones cut to text); ``message`` is empty when the check passed."""

    selector: str
    operator: str
    expected: Any
    actual: Any
    passed: bool
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "selector": self.selector,
            "operator": self.operator,
            "expected": self.expected,
            "actual": self.actual,
            "passed": self.passed,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """A check in its long form: ``selector`` (with ``argument``) and ordered operators."""

    selector: str
    argument: Any
    operators: tuple[tuple[str, Any], ...]

    @property
    def label(self) -> str:
        """``json $.status``, ``header etag``, ``status``: how messages name the value."""
        return self.selector if self.argument is None else f"{self.selector} {self.argument}"


def parse_check(check: Mapping[str, Any]) -> CheckSpec:
    """The long form of ``check``; raises ``CheckSpecError`` unless it has one selector."""
    selectors = [key for key in check if key in SELECTORS]
    if len(selectors) != 1:
        found = ", ".join(selectors) or "none"
        raise CheckSpecError(
            f"a check needs exactly one selector ({', '.join(SELECTORS)}); found {found}"
        )
    selector = selectors[0]
    value = check[selector]
    if selector in SELECTORS_WITH_ARGUMENT:
        operators = tuple((k, v) for k, v in check.items() if k != selector)
        return CheckSpec(selector, value, operators or (("exists", True),))
    if len(check) > 1:
        extra = ", ".join(k for k in check if k != selector)
        raise CheckSpecError(
            f"{selector} takes its operators as its value, not beside it ({extra})"
        )
    if isinstance(value, Mapping):
        return CheckSpec(selector, None, tuple(value.items()))
    if selector == "status" and isinstance(value, list):
        return CheckSpec(selector, None, (("in", value),))
    if selector == "status" and isinstance(value, str) and _STATUS_CLASS.match(value):
        return CheckSpec(selector, None, (("class", value),))
    return CheckSpec(selector, None, (("eq", value),))


def evaluate(
    check: Mapping[str, Any] | CheckSpec,
    observed: HttpResponse | None,
    scope: Mapping[str, Any],
    ctx: Context,
) -> list[CheckResult]:
    """The results of every operator of ``check`` (rendered: no templates left)."""
    spec = check if isinstance(check, CheckSpec) else parse_check(check)
    try:
        actual = select(spec.selector, spec.argument, observed, scope)
    except (SelectorError, PermanentError) as exc:
        return [
            CheckResult(spec.label, op, expected, None, False, f"{spec.label}: {exc}")
            for op, expected in spec.operators
        ]
    results = []
    for operator, expected in spec.operators:
        results.append(_one(spec, operator, expected, actual, ctx))
    return results


def evaluate_all(
    checks: Sequence[Mapping[str, Any] | CheckSpec],
    observed: HttpResponse | None,
    scope: Mapping[str, Any],
    ctx: Context,
) -> tuple[CheckResult, ...]:
    return tuple(r for check in checks for r in evaluate(check, observed, scope, ctx))


def all_passed(results: Sequence[CheckResult]) -> bool:
    return all(r.passed for r in results)


def _one(spec: CheckSpec, operator: str, expected: Any, actual: Any, ctx: Context) -> CheckResult:
    label = spec.label
    shown = preview(actual)
    try:
        if spec.selector == "duration" and operator not in ("exists", "type"):
            expected_ms = _milliseconds(expected)
            detail = apply(operator, actual, expected_ms, ctx)
            if detail is not None and actual is not ABSENT:
                detail = f"got {actual:.0f}ms"
        elif operator == "class":
            detail = _status_class(actual, str(expected))
        else:
            detail = apply(operator, actual, expected, ctx)
    except OperandError as exc:
        message = f"{label}: the check is invalid: {operator} {exc}"
        return CheckResult(label, operator, expected, shown, False, message)
    if detail is None:
        return CheckResult(label, operator, expected, shown, True)
    message = f"{label}: expected {_describe(spec.selector, operator, expected)}, {detail}"
    return CheckResult(label, operator, expected, shown, False, message)


def _describe(selector: str, operator: str, expected: Any) -> str:
    if operator == "schema":
        return "to match the schema"
    if operator in ("class", "type") or selector == "duration":
        return f"{operator} {expected}"
    return f"{operator} {show(expected)}"


def _status_class(actual: Any, expected: str) -> str | None:
    if isinstance(actual, int) and str(actual)[0] == expected[0] and len(str(actual)) == 3:
        return None
    return f"got {show(actual)}"


def _milliseconds(expected: Any) -> float:
    if isinstance(expected, str):
        try:
            return parse_duration(expected).total_seconds() * 1000
        except ValueError as exc:
            raise OperandError(str(exc)) from None
    raise OperandError("needs a duration with a unit, e.g. 800ms")
