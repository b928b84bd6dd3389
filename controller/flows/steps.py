"""One step: ``when``, ``vars``, the request (with ``retry`` or ``poll``), ``capture``, ``expect``.

Order per step (flows.md §2.7, §2.8): the condition first (before any request, so only ``var``
checks make sense there), then step variables, then the exchange. A poll re-renders and
re-sends until ``until`` holds (transport errors count as "not yet"), stops at once when
``abort_if`` holds, and gives up with ``PollTimeout`` at its deadline or ``max_attempts``,
reporting the last response and the checks still failing. ``capture`` and then ``expect`` run
once, on the last response; captures reach the flow only if the step passes (the caller
commits them), so a failed step leaves nothing half-written.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from controller.checks import (
    Captured,
    CaptureError,
    CheckResult,
    CheckSpecError,
    Context,
    all_passed,
    capture_all,
    evaluate_all,
)
from controller.clients.services import Exchange, ServiceClient, TransportFailure
from controller.flows.compiled import CompiledFlows
from controller.flows.conditions import render_vars, unmet_condition
from controller.flows.evidence import masked_check, request_record, response_record
from controller.flows.redaction import Redactor
from controller.flows.requests import Prepared, RequestError, prepare
from controller.flows.results import Attempt, Phase, StepResult
from controller.flows.retry import RetryPolicy, Sent, send_with_retry
from controller.flows.routing import RoutingError, RoutingPolicy
from controller.models.durations import parse_duration
from controller.templating import TemplateError, render_value


@dataclass(frozen=True, slots=True)
class StepEnvironment:
    """What every step of a run shares."""

    client: ServiceClient
    routing: RoutingPolicy
    defaults: Mapping[str, Any]
    checks: Context
    redactor: Redactor
    max_body_bytes: int = 4096
    compiled: CompiledFlows = field(default_factory=CompiledFlows)
    """Shared by every run of a runner (see ``flows.compiled``)."""


@dataclass(slots=True)
class StepOutcome:
    result: StepResult
    captured: list[Captured] = field(default_factory=list)


async def run_step(
    step: Mapping[str, Any],
    *,
    phase: Phase,
    scope: Mapping[str, Any],
    env: StepEnvironment,
    deadline: float,
    secret_names: frozenset[str] = frozenset(),
    line: int | None = None,
) -> StepOutcome:
    """Run ``step`` in ``scope`` by ``deadline`` (``time.monotonic()``); ``line`` is where
    the step is written, for its result."""
    run = _StepRun(step, phase, env, deadline, secret_names, line)
    try:
        return await run.run(scope)
    except (TemplateError, RoutingError, RequestError, CheckSpecError) as exc:
        return StepOutcome(run.finish("error", type(exc).__name__, str(exc)))


class _StepRun:
    def __init__(
        self,
        step: Mapping[str, Any],
        phase: Phase,
        env: StepEnvironment,
        deadline: float,
        secret_names: frozenset[str],
        line: int | None,
    ) -> None:
        self.step = step
        self.line = line
        self.phase = phase
        self.env = env
        self.deadline = deadline
        self.secret_names = secret_names
        self.started = time.monotonic()
        self.attempts: list[Attempt] = []
        self.prepared: Prepared | None = None
        self.exchange: Exchange | None = None
        self.checks: tuple[CheckResult, ...] = ()
        self.warnings: tuple[CheckResult, ...] = ()
        self.captured: list[Captured] = []

    async def run(self, scope: Mapping[str, Any]) -> StepOutcome:
        if "when" in self.step:
            reason = unmet_condition(self.step["when"], scope, self.env.checks)
            if reason:
                return StepOutcome(self.finish("skipped", "", f"when is false: {reason}"))
        if "vars" in self.step:
            scope = render_vars(self.step["vars"], scope)
        policy = RetryPolicy.of(self.step.get("retry", self.env.defaults.get("retry")))
        if "poll" in self.step:
            last = await self._poll(self.step["poll"], scope, policy)
            if isinstance(last, StepResult):
                return StepOutcome(last)
        else:
            sent = await self._send(scope, policy, self.deadline)
            self._record(sent, final="answered")
            last = sent.outcome
        if isinstance(last, TransportFailure):
            return StepOutcome(self.finish("error", last.name, str(last)))
        return self._conclude(scope, last)

    async def _send(self, scope: Mapping[str, Any], policy: RetryPolicy, deadline: float) -> Sent:
        self.prepared = prepare(
            self.step["request"],
            defaults=self.env.defaults,
            scope=scope,
            routing=self.env.routing,
            secret_names=self.secret_names,
        )
        return await send_with_retry(self.env.client, self.prepared, policy, deadline=deadline)

    async def _poll(
        self, poll: Mapping[str, Any], scope: Mapping[str, Any], policy: RetryPolicy
    ) -> Exchange | TransportFailure | StepResult:
        until = poll.get("until", self.step.get("expect", ()))
        interval = _seconds(poll["interval"])
        backoff = float(poll.get("backoff", 1.0))
        ceiling = _seconds(poll["max_interval"]) if "max_interval" in poll else None
        limit = int(poll["max_attempts"]) if "max_attempts" in poll else None
        poll_deadline = min(self.deadline, self.started + _seconds(poll["timeout"]))
        attempt = 0
        failing: tuple[CheckResult, ...] = ()
        while True:
            attempt += 1
            sent = await self._send(scope, policy, poll_deadline)
            outcome = sent.outcome
            if isinstance(outcome, Exchange):
                self.exchange = outcome
                aborted = poll.get("abort_if")
                if aborted and all_passed(self._checks(aborted, scope, outcome)):
                    self._record(sent, final="aborted")
                    why = f"poll stopped: abort_if matched after {attempt} attempt(s)"
                    return self.finish("failed", "AssertionFailed", why)
                failing = tuple(c for c in self._checks(until, scope, outcome) if not c.passed)
                if not failing:
                    self._record(sent, final="until satisfied")
                    return outcome
            self._record(sent, final="not yet")
            wait = interval * backoff ** (attempt - 1)
            wait = min(wait, ceiling) if ceiling is not None else wait
            if (limit is not None and attempt >= limit) or time.monotonic() + wait >= poll_deadline:
                return self._poll_timeout(attempt, outcome, failing)
            await asyncio.sleep(wait)

    def _poll_timeout(
        self, attempts: int, outcome: Exchange | TransportFailure, failing: Sequence[CheckResult]
    ) -> StepResult:
        elapsed = time.monotonic() - self.started
        if isinstance(outcome, TransportFailure):
            last = f"the last attempt got no response: {outcome}"
        else:
            last = f"last status {outcome.response.status}"
            if failing:
                last += f"; still failing: {failing[0].message}"
        self.checks = tuple(failing)
        message = f"poll gave up after {attempts} attempt(s) in {elapsed:.1f}s: {last}"
        return self.finish("failed", "PollTimeout", message)

    def _conclude(self, scope: Mapping[str, Any], exchange: Exchange) -> StepOutcome:
        self.exchange = exchange
        capture_error = ""
        try:
            self.captured = capture_all(self.step.get("capture", {}), exchange.response)
        except CaptureError as exc:
            capture_error = str(exc)
        for item in self.captured:
            if item.secret:
                self.env.redactor.add(item.value)
        local = {**scope, **{c.name: c.value for c in self.captured}}
        results = self._checks(self.step.get("expect", ()), local, exchange)
        failed = [c for c in results if not c.passed]
        soft = bool(self.step.get("soft", False))
        if soft:
            self.checks, self.warnings = tuple(c for c in results if c.passed), tuple(failed)
        else:
            self.checks = results
        if capture_error:
            return StepOutcome(self.finish("failed", "CaptureError", capture_error))
        if failed and not soft:
            message = failed[0].message + self._poll_note()
            return StepOutcome(self.finish("failed", "AssertionFailed", message))
        return StepOutcome(self.finish("passed", "", ""), self.captured)

    def _checks(
        self, checks: Sequence[Mapping[str, Any]], scope: Mapping[str, Any], exchange: Exchange
    ) -> tuple[CheckResult, ...]:
        static = self.env.compiled.static_checks(checks)
        specs = static if static is not None else render_value(list(checks), scope)
        return evaluate_all(specs, exchange.response, scope, self.env.checks)

    def _poll_note(self) -> str:
        if "poll" not in self.step:
            return ""
        elapsed = time.monotonic() - self.started
        count = len(self.attempts)
        return f" (poll stopped after {count} attempt{'' if count == 1 else 's'}, {elapsed:.1f}s)"

    def _record(self, sent: Sent, *, final: str) -> None:
        for index, (started, outcome) in enumerate(sent.attempts):
            last = index == len(sent.attempts) - 1
            failure = outcome if isinstance(outcome, TransportFailure) else None
            exchange = outcome if isinstance(outcome, Exchange) else None
            self.attempts.append(
                Attempt(
                    number=len(self.attempts) + 1,
                    at_ms=(started - self.started) * 1000,
                    status=None if exchange is None else exchange.response.status,
                    elapsed_ms=0.0 if exchange is None else exchange.response.elapsed_ms,
                    outcome=final if last else "retried",
                    error="" if failure is None else f"{failure.name}: {failure}",
                )
            )
            if exchange is not None:
                self.exchange = exchange

    def finish(self, status: str, failure_type: str, message: str) -> StepResult:
        redactor = self.env.redactor
        limit = self.env.max_body_bytes
        # First: recording the request registers a Basic credential it sent, which the
        # message and the checks must then be masked for too.
        request = request_record(self.prepared, self.exchange, redactor, limit)
        return StepResult(
            name=str(self.step.get("name", "")),
            phase=self.phase,
            status=status,  # type: ignore[arg-type]
            failure_type=failure_type,
            message=redactor.text(message),
            checks=tuple(masked_check(c, redactor) for c in self.checks),
            warnings=tuple(masked_check(c, redactor) for c in self.warnings),
            request=request,
            response=response_record(self.exchange, redactor, limit),
            attempts=tuple(self.attempts),
            captured=tuple(c.name for c in self.captured) if status == "passed" else (),
            duration_ms=(time.monotonic() - self.started) * 1000,
            line=self.line,
        )


def _seconds(text: Any) -> float:
    return parse_duration(str(text)).total_seconds()
