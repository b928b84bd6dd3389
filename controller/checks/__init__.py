"""Checks and captures of the flow language (flows.md §2.6, §2.7): pure, no I/O.

Checks look at a ``models.http.HttpResponse``: ``evaluate``/``evaluate_all`` turn checks
(already rendered) into ``CheckResult`` values; ``capture`` takes values out of a response.
JSONPath is RFC 9535 (``checks.jsonpath`` owns ``jsonpath_rfc9535``).
"""

from __future__ import annotations

from controller.checks.captures import (
    CAPTURE_SELECTORS,
    Captured,
    CaptureError,
    capture,
    capture_all,
)
from controller.checks.evaluate import (
    CheckResult,
    CheckSpec,
    CheckSpecError,
    all_passed,
    evaluate,
    evaluate_all,
    parse_check,
)
from controller.checks.jsonpath import JsonPathError, compile_path
from controller.checks.observed import SELECTORS, SelectorError
from controller.checks.operators import OPERATORS, Context
from controller.checks.values import ABSENT, show, strict_equal

__all__ = [
    "ABSENT",
    "CAPTURE_SELECTORS",
    "OPERATORS",
    "SELECTORS",
    "CaptureError",
    "Captured",
    "CheckResult",
    "CheckSpec",
    "CheckSpecError",
    "Context",
    "JsonPathError",
    "SelectorError",
    "all_passed",
    "capture",
    "capture_all",
    "compile_path",
    "evaluate",
    "evaluate_all",
    "parse_check",
    "show",
    "strict_equal",
]
