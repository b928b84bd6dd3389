"""A whole suite run: readiness gates, then the flows, at most ``concurrency`` at once.

- Readiness gates poll ``GET <service><path>`` (all gates at once) until their checks pass
  (``status: 2xx`` by default). One that times out ends the run with ``error`` and every
  flow skipped with its reason: testing a service that is not up says nothing.
- Flows start in the suite's order; ``serial`` flows run alone (after the running ones end,
  before the next start). With ``fail_fast``, a failed flow stops new flows from starting;
  those are reported skipped. Results are in the suite's order, not completion order.
- The suite's ``timeout`` bounds everything; flows still running when it ends get
  ``FlowTimeout`` in their running step and still run their ``finally`` steps.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from controller.flows.conditions import render_vars
from controller.flows.flow_runner import StepListener, not_run, run_flow
from controller.flows.plan import FlowPlan, SuitePlan
from controller.flows.results import FlowResult, StepResult, SuiteResult, suite_status
from controller.flows.steps import StepEnvironment, run_step
from controller.models.durations import parse_duration
from controller.models.timestamps import iso_utc
from controller.templating import TemplateError

log = logging.getLogger(__name__)

DEFAULT_SUITE_TIMEOUT = "1h"
DEFAULT_CONCURRENCY = 4


@dataclass(frozen=True, slots=True)
class Listeners:
    """Progress, for ``meshgate run`` and live run pages; each must return at once."""

    on_step: StepListener = lambda plan, result: None
    on_flow_start: Callable[[FlowPlan], None] = lambda plan: None
    on_flow: Callable[[FlowResult], None] = lambda result: None


async def run_suite(
    plan: SuitePlan,
    *,
    roots: Mapping[str, Any],
    env: StepEnvironment,
    listeners: Listeners = Listeners(),
    overrides: Mapping[str, Any] | None = None,
) -> SuiteResult:
    """Run ``plan``. ``roots`` are the reserved template roots (``run``, ``services``,
    ``secrets``, ``context``, ``event``); the suite's vars are layered on top, then
    ``overrides`` (a manual run's parameters), below flow, row and step vars."""
    spec = plan.spec
    started, started_at = time.monotonic(), iso_utc(datetime.now(UTC))
    deadline = started + parse_duration(spec.get("timeout", DEFAULT_SUITE_TIMEOUT)).total_seconds()

    def finished(
        flows: list[FlowResult],
        readiness: tuple[StepResult, ...],
        message: str,
        status: str | None = None,
    ) -> SuiteResult:
        return SuiteResult(
            suite=plan.suite.name,
            workspace=plan.suite.workspace,
            status=status or suite_status(flows),  # type: ignore[arg-type]
            flows=tuple(flows),
            readiness=readiness,
            started_at=started_at,
            duration_ms=(time.monotonic() - started) * 1000,
            message=env.redactor.text(message),
            routes=env.routing.described(),
        )

    try:
        scope = {**render_vars(spec.get("vars"), roots), **(overrides or {})}
    except TemplateError as exc:
        reason = f"not run: the suite's variables do not render: {exc}"
        return finished([not_run(f, reason) for f in plan.flows], (), reason, "error")

    readiness = await _readiness(spec.get("readiness", []), scope, env, deadline)
    not_ready = [gate for gate in readiness if gate.status != "passed"]
    if not_ready:
        gate = not_ready[0]
        reason = f"not run: readiness gate {gate.name!r} did not pass: {gate.message}"
        return finished([not_run(f, reason) for f in plan.flows], readiness, reason, "error")

    flows = await _Scheduler(plan, scope, env, deadline, listeners).run()
    return finished(flows, readiness, "")


async def _readiness(
    gates: list[Mapping[str, Any]], scope: Mapping[str, Any], env: StepEnvironment, deadline: float
) -> tuple[StepResult, ...]:
    steps = [
        {
            "name": f"{gate['service']} {gate['path']}",
            "request": {"service": gate["service"], "path": gate["path"]},
            "poll": {"interval": gate.get("interval", "5s"), "timeout": gate["timeout"]},
            "expect": gate.get("expect", [{"status": "2xx"}]),
        }
        for gate in gates
    ]
    outcomes = await asyncio.gather(
        *(run_step(step, phase="steps", scope=scope, env=env, deadline=deadline) for step in steps)
    )
    return tuple(outcome.result for outcome in outcomes)


class _Scheduler:
    def __init__(
        self,
        plan: SuitePlan,
        scope: Mapping[str, Any],
        env: StepEnvironment,
        deadline: float,
        listeners: Listeners,
    ) -> None:
        self.plan = plan
        self.scope = scope
        self.env = env
        self.deadline = deadline
        self.listeners = listeners
        self.limit = asyncio.Semaphore(int(plan.spec.get("concurrency", DEFAULT_CONCURRENCY)))
        self.fail_fast = bool(plan.spec.get("fail_fast", False))
        self.results: dict[int, FlowResult] = {}
        self.failed: str = ""

    async def run(self) -> list[FlowResult]:
        running: set[asyncio.Task[None]] = set()
        try:
            for index, flow in enumerate(self.plan.flows):
                serial = bool(flow.spec.get("serial", False))
                if serial and running:
                    await asyncio.wait(running)
                if not serial:
                    await self.limit.acquire()
                if self.failed:
                    if not serial:
                        self.limit.release()
                    self.results[index] = not_run(
                        flow, f"not run: fail_fast after {self.failed} failed"
                    )
                    continue
                task = asyncio.create_task(self._flow(index, flow, release=not serial))
                running.add(task)
                task.add_done_callback(running.discard)
                if serial:
                    await task
            if running:
                await asyncio.wait(running)
        except asyncio.CancelledError:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            raise
        return [self.results[index] for index in range(len(self.plan.flows))]

    async def _flow(self, index: int, flow: FlowPlan, *, release: bool) -> None:
        try:
            self.listeners.on_flow_start(flow)
            try:
                result = await run_flow(
                    flow,
                    scope=self.scope,
                    env=self.env,
                    deadline=self.deadline,
                    on_step=self.listeners.on_step,
                )
            except Exception as exc:  # a defect ends this flow, not the whole run
                log.error("flow %s failed in the engine", flow.label, exc_info=exc)
                reason = f"meshgate failed while running this flow ({type(exc).__name__})"
                result = not_run(flow, reason, "error")
            self.results[index] = result
            if result.status == "failed" and self.fail_fast and not self.failed:
                self.failed = result.label
            self.listeners.on_flow(result)
        finally:
            if release:
                self.limit.release()
