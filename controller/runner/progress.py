"""Live progress of ``meshgate run`` on a terminal: one line per step and flow as they
finish, and on a TTY a progress bar redrawn below them. Flows run concurrently, so every
step line names its flow."""

from __future__ import annotations

from typing import TextIO

from controller.flows import FlowPlan, FlowResult, Listeners, StepResult, SuitePlan, SuiteResult

BAR_WIDTH = 30
_MARKS = {"passed": "ok   ", "failed": "FAIL ", "error": "ERROR", "skipped": "skip "}


class ConsoleProgress:
    def __init__(self, out: TextIO, *, tty: bool) -> None:
        self._out = out
        self._tty = tty
        self._total = 0
        self._done = 0

    def start(self, plan: SuitePlan, header: str, notes: list[str]) -> None:
        self._total = sum(
            len(flow.spec.get("steps", [])) + len(flow.spec.get("finally", []))
            for flow in plan.flows
        )
        self._print(header)
        for note in notes:
            self._print(f"  {note}")

    def listeners(self) -> Listeners:
        return Listeners(on_step=self.step, on_flow_start=self.flow_started, on_flow=self.flow_done)

    def flow_started(self, plan: FlowPlan) -> None:
        self._print(f"---- {plan.label}")

    def step(self, plan: FlowPlan, result: StepResult) -> None:
        self._done += 1
        name = result.name if result.phase == "steps" else f"(finally) {result.name}"
        detail = ""
        if result.status == "passed":
            parts = []
            if result.response is not None:
                parts.append(str(result.response.status))
            parts.append(f"{result.duration_ms:.0f} ms")
            if len(result.attempts) > 1:
                parts.append(f"{len(result.attempts)} attempts")
            detail = f" ({', '.join(parts)})"
        elif result.message:
            detail = f": {result.message}"
        self._print(f"  {_MARKS[result.status]} [{plan.label}] {name}{detail}")

    def flow_done(self, result: FlowResult) -> None:
        note = f": {result.message}" if result.message else ""
        took = f"{result.duration_ms / 1000:.1f}s"
        self._print(
            f"  {_MARKS[result.status]} flow {result.label} {result.status} in {took}{note}"
        )

    def summary(self, result: SuiteResult) -> None:
        counts = result.counts()
        text = ", ".join(f"{counts[key]} {key}" for key in ("passed", "failed", "error", "skipped"))
        reason = f"\n  {result.message}" if result.message else ""
        self._print(
            f"suite {result.suite}: {result.status} ({text}; {len(result.flows)} flow runs) "
            f"in {result.duration_ms / 1000:.1f}s{reason}"
        )
        if self._tty:
            self._out.write("\x1b[2K\r")
            self._out.flush()

    def _print(self, line: str) -> None:
        if self._tty:
            self._out.write("\x1b[2K\r")
        self._out.write(line + "\n")
        if self._tty and self._total:
            filled = round(BAR_WIDTH * self._done / self._total)
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            self._out.write(f"[{bar}] {self._done}/{self._total} steps")
        self._out.flush()
