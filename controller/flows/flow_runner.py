"""One flow run (one parameter row): ``requires``, variables, ``when``, steps, ``finally``.

Steps run in order; after one does not pass, the rest are reported skipped with the reason.
The flow's ``timeout`` (capped by the suite's) bounds every step, polls included: the step
running when it ends gets ``FlowTimeout``. ``finally`` steps always run, each of them, with
a budget of their own (``FINALLY_BUDGET``), after a failure, a timeout or a
cancellation (a superseded run): cleanup is what keeps shared environments usable.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from controller.flows.conditions import render_vars, unmet_condition
from controller.flows.plan import FlowPlan
from controller.flows.results import FlowResult, FlowStatus, Phase, StepResult, flow_status
from controller.flows.steps import StepEnvironment, run_step
from controller.models.durations import format_duration, parse_duration
from controller.models.timestamps import iso_utc
from controller.templating import TemplateError

FINALLY_BUDGET = timedelta(seconds=30)
TIMEOUTS = frozenset({"ReadTimeout", "WriteTimeout", "Timeout"})
DEADLINE_SLACK = 0.005

StepListener = Callable[[FlowPlan, StepResult], None]


async def run_flow(
    plan: FlowPlan,
    *,
    scope: Mapping[str, Any],
    env: StepEnvironment,
    deadline: float,
    on_step: StepListener = lambda plan, result: None,
) -> FlowResult:
    """Run ``plan`` in the suite-level ``scope`` by ``deadline``; never raises but
    ``CancelledError`` (after ``finally`` ran)."""
    started, started_at = time.monotonic(), iso_utc(datetime.now(UTC))
    spec = plan.spec
    steps: Sequence[Mapping[str, Any]] = spec.get("steps", [])
    finals: Sequence[Mapping[str, Any]] = spec.get("finally", [])

    def skipped_all(reason: str, status: FlowStatus = "skipped") -> FlowResult:
        return not_run(plan, reason, status, started=started, started_at=started_at)

    unmet = env.routing.unmet(list(spec.get("requires", [])))
    if unmet:
        return skipped_all(f"flow not run: {unmet}")
    try:
        flow_scope = render_vars(plan.row_vars, render_vars(spec.get("vars"), scope))
        reason = unmet_condition(spec["when"], flow_scope, env.checks) if "when" in spec else ""
        if reason:
            return skipped_all(f"flow not run: when is false: {reason}")
    except TemplateError as exc:
        return skipped_all(f"flow not run: its variables do not render: {exc}", "error")

    if "timeout" in spec:
        deadline = min(deadline, started + parse_duration(spec["timeout"]).total_seconds())
    run = _FlowRun(plan, env, on_step, spec.get("timeout"))
    try:
        await run.steps(steps, flow_scope, deadline)
    finally:
        # Shielded from a cancellation that arrives during cleanup; the cancellation that
        # stopped the steps is re-raised once the finally steps are done.
        await asyncio.shield(run.finals(finals, time.monotonic() + FINALLY_BUDGET.total_seconds()))
    return _result(plan, tuple(run.results), started, started_at, "", None)


class _FlowRun:
    def __init__(
        self, plan: FlowPlan, env: StepEnvironment, on_step: StepListener, budget: str | None
    ) -> None:
        self.plan = plan
        self.budget = budget
        """The flow's ``timeout`` as written, for the FlowTimeout message."""
        self.env = env
        self.on_step = on_step
        self.results: list[StepResult] = []
        self.scope: dict[str, Any] = {}
        self.secret_names: frozenset[str] = frozenset()

    async def steps(
        self,
        steps: Sequence[Mapping[str, Any]],
        scope: Mapping[str, Any],
        deadline: float,
    ) -> None:
        self.scope = dict(scope)
        stopped = ""
        index = 0
        try:
            for index, step in enumerate(steps):
                if stopped:
                    self._add(_skipped(self.plan, step, "steps", index, stopped))
                    continue
                result = await self._one(step, "steps", index, deadline)
                if result.status in ("failed", "error"):
                    stopped = f"not run: step {result.name!r} did not pass"
        except asyncio.CancelledError:
            reason = "not run: the run was cancelled"
            self._add(
                _ended(
                    self.plan,
                    steps[index],
                    index,
                    "error",
                    "Cancelled",
                    "the run was cancelled during this step",
                )
            )
            for later, step in enumerate(steps[index + 1 :], start=index + 1):
                self._add(_skipped(self.plan, step, "steps", later, reason))
            raise

    async def finals(self, steps: Sequence[Mapping[str, Any]], deadline: float) -> None:
        for index, step in enumerate(steps):
            await self._one(step, "finally", index, deadline)

    async def _one(
        self,
        step: Mapping[str, Any],
        phase: Phase,
        index: int,
        deadline: float,
    ) -> StepResult:
        left = deadline - time.monotonic()
        try:
            async with asyncio.timeout(max(left, 0.0)):
                outcome = await run_step(
                    step,
                    phase=phase,
                    scope=self.scope,
                    env=self.env,
                    deadline=deadline,
                    secret_names=self.secret_names,
                    line=self.plan.line_of(phase, index),
                )
        except TimeoutError:
            result = self._timed_out(step, phase, index, "")
            self._add(result)
            return result
        result = outcome.result
        if result.failure_type in TIMEOUTS and time.monotonic() >= deadline - DEADLINE_SLACK:
            # The request ran into the flow's deadline, not into its own timeout.
            detail = f" ({result.failure_type}: {result.message})"
            timed_out = self._timed_out(step, phase, index, detail)
            result = replace(timed_out, request=result.request, attempts=result.attempts)
        if result.status == "passed":
            for captured in outcome.captured:
                self.scope[captured.name] = captured.value
                if captured.secret:
                    self.secret_names |= {captured.name}
        self._add(result)
        return result

    def _timed_out(
        self, step: Mapping[str, Any], phase: Phase, index: int, detail: str
    ) -> StepResult:
        what = f"the flow's timeout ({self.budget})" if self.budget else "the run's time left"
        if phase == "finally":
            what = f"the finally budget ({format_duration(FINALLY_BUDGET)})"
        message = f"{what} ran out during this step{detail}"
        return _ended(self.plan, step, index, "error", "FlowTimeout", message, phase)

    def _add(self, result: StepResult) -> None:
        self.results.append(result)
        self.on_step(self.plan, result)


def not_run(
    plan: FlowPlan,
    reason: str,
    status: FlowStatus = "skipped",
    *,
    started: float | None = None,
    started_at: str = "",
) -> FlowResult:
    """``plan`` reported with every step (``finally`` too) skipped for ``reason``."""
    phases: tuple[Phase, ...] = ("steps", "finally")
    results = tuple(
        _skipped(plan, step, phase, index, reason)
        for phase in phases
        for index, step in enumerate(plan.spec.get(phase, []))
    )
    return _result(
        plan, results, time.monotonic() if started is None else started, started_at, reason, status
    )


def _skipped(
    plan: FlowPlan, step: Mapping[str, Any], phase: Phase, index: int, reason: str
) -> StepResult:
    return StepResult(
        name=str(step.get("name", "")),
        phase=phase,
        status="skipped",
        message=reason,
        line=plan.line_of(phase, index),
    )


def _ended(
    plan: FlowPlan,
    step: Mapping[str, Any],
    index: int,
    status: str,
    failure_type: str,
    message: str,
    phase: Phase = "steps",
) -> StepResult:
    return StepResult(
        name=str(step.get("name", "")),
        phase=phase,
        status=status,  # type: ignore[arg-type]
        failure_type=failure_type,
        message=message,
        line=plan.line_of(phase, index),
    )


def _result(
    plan: FlowPlan,
    steps: tuple[StepResult, ...],
    started: float,
    started_at: str,
    message: str,
    status: str | None,
) -> FlowResult:
    return FlowResult(
        flow=plan.name,
        row=plan.row,
        file=plan.file,
        status=status or flow_status(steps),  # type: ignore[arg-type]
        steps=steps,
        started_at=started_at,
        duration_ms=(time.monotonic() - started) * 1000,
        message=message,
    )
