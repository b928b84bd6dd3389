"""The evidence of a suite run: what every step sent, got and concluded, as plain values.

Results are the source of truth (flows.md §3): the API returns their ``to_dict()`` and JUnit is
rendered from them. They hold what was sent and received after redaction; bodies are
excerpts (``report.max_body_bytes``) with the full size beside them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from controller.checks import CheckResult

StepStatus = Literal["passed", "failed", "error", "skipped"]
FlowStatus = Literal["passed", "failed", "error", "skipped"]
Phase = Literal["steps", "finally"]

FAILURES = ("AssertionFailed", "PollTimeout", "CaptureError")
"""Failure types that mean the service answered wrongly (JUnit ``<failure>``); every other
type (``ConnectError``, ``ReadTimeout``, ``FlowTimeout``, ``TemplateError``...) is an
``<error>``: the test could not reach a verdict."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestRecord:
    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: str
    body_size: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "url": self.url,
            "headers": [list(pair) for pair in self.headers],
            "body": self.body,
            "body_size": self.body_size,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseRecord:
    status: int
    url: str
    headers: tuple[tuple[str, str], ...]
    body: str
    body_size: int | None
    """Bytes received; ``None`` when the service sent more than meshgate reads."""
    truncated: bool
    elapsed_ms: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "url": self.url,
            "headers": [list(pair) for pair in self.headers],
            "body": self.body,
            "body_size": self.body_size,
            "truncated": self.truncated,
            "elapsed_ms": round(self.elapsed_ms, 3),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    """One send of a step (a retry or a poll attempt): when, what came back, what it meant."""

    number: int
    at_ms: float
    """Milliseconds after the step started."""
    status: int | None
    elapsed_ms: float
    outcome: str
    """``answered``, ``retried``, ``not yet``, ``until satisfied``, ``aborted``, ``failed``."""
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "at_ms": round(self.at_ms, 3),
            "status": self.status,
            "elapsed_ms": round(self.elapsed_ms, 3),
            "outcome": self.outcome,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class StepResult:
    name: str
    phase: Phase
    status: StepStatus
    failure_type: str = ""
    message: str = ""
    """Why the step did not pass (or why it was skipped); empty when it passed."""
    checks: tuple[CheckResult, ...] = ()
    warnings: tuple[CheckResult, ...] = ()
    """Failed checks of a ``soft`` step: reported, not failing."""
    request: RequestRecord | None = None
    response: ResponseRecord | None = None
    attempts: tuple[Attempt, ...] = ()
    captured: tuple[str, ...] = ()
    """Names of the variables the step captured (values are in no report)."""
    duration_ms: float = 0.0
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "phase": self.phase,
            "status": self.status,
            "failure_type": self.failure_type or None,
            "message": self.message,
            "checks": [c.to_dict() for c in self.checks],
            "warnings": [c.to_dict() for c in self.warnings],
            "request": None if self.request is None else self.request.to_dict(),
            "response": None if self.response is None else self.response.to_dict(),
            "attempts": [a.to_dict() for a in self.attempts],
            "captured": list(self.captured),
            "duration_ms": round(self.duration_ms, 3),
            "line": self.line,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowResult:
    flow: str
    row: str | None
    file: str
    status: FlowStatus
    steps: tuple[StepResult, ...]
    started_at: str
    duration_ms: float
    message: str = ""
    role: str = ""

    @property
    def label(self) -> str:
        """``place-order`` or ``user-validation[missing-email]``."""
        return self.flow if self.row is None else f"{self.flow}[{self.row}]"

    def to_dict(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "row": self.row,
            "label": self.label,
            "file": self.file,
            "status": self.status,
            "message": self.message,
            "started_at": self.started_at,
            "duration_ms": round(self.duration_ms, 3),
            "steps": [s.to_dict() for s in self.steps],
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class SuiteResult:
    suite: str
    workspace: str
    status: FlowStatus
    flows: tuple[FlowResult, ...]
    readiness: tuple[StepResult, ...]
    started_at: str
    duration_ms: float
    message: str = ""
    routes: tuple[tuple[str, str], ...] = ()

    def counts(self) -> dict[str, int]:
        counted = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
        for flow in self.flows:
            counted[flow.status] += 1
        return counted

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "workspace": self.workspace,
            "status": self.status,
            "message": self.message,
            "started_at": self.started_at,
            "duration_ms": round(self.duration_ms, 3),
            "counts": self.counts(),
            "routes": dict(self.routes),
            "readiness": [r.to_dict() for r in self.readiness],
            "flows": [f.to_dict() for f in self.flows],
        }


def flow_status(steps: Sequence[StepResult]) -> FlowStatus:
    """Failed if any step failed, else error if any erred, else passed (all skipped:
    skipped). ``finally`` steps count: a cleanup that fails is a failure of the flow."""
    statuses = {s.status for s in steps}
    if "failed" in statuses:
        return "failed"
    if "error" in statuses:
        return "error"
    if statuses <= {"skipped"}:
        return "skipped" if steps else "passed"
    return "passed"


def suite_status(flows: Sequence[FlowResult]) -> FlowStatus:
    statuses = {f.status for f in flows}
    if "failed" in statuses:
        return "failed"
    if "error" in statuses:
        return "error"
    return "passed"
