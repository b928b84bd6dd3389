"""What a run got through, kept while it runs: a run stopped half-way (superseded, or a
defect) is still recorded with the evidence of its finished flows and of the steps of the
flows it was in."""

from __future__ import annotations

import asyncio
from typing import Any

from controller.flows import FlowPlan, FlowResult, StepResult
from controller.models.runs import Run


class Progress:
    """Steps and flows as they finish (the listeners of ``run_suite``)."""

    def __init__(self) -> None:
        self.finished: list[FlowResult] = []
        self.steps: dict[str, list[StepResult]] = {}
        self.changed = asyncio.Event()
        """Set on every finished step or flow (the live run page's publisher clears it)."""

    def step(self, plan: FlowPlan, result: StepResult) -> None:
        self.steps.setdefault(plan.label, []).append(result)
        self.changed.set()

    def flow(self, result: FlowResult) -> None:
        self.finished.append(result)
        self.steps.pop(result.label, None)
        self.changed.set()

    def partial(self, *, unfinished_status: str = "error") -> list[dict[str, Any]]:
        """Finished flows, then the flows in progress with their finished steps (marked
        ``unfinished_status``: ``running`` while the run goes on, ``error`` once it was
        stopped half-way)."""
        unfinished = [
            {"label": label, "status": unfinished_status, "steps": [s.to_dict() for s in steps]}
            for label, steps in self.steps.items()
        ]
        return [flow.to_dict() for flow in self.finished] + unfinished


def partial_result(run: Run, flows: Progress, message: str) -> dict[str, Any]:
    return {
        "suite": run.request.suite,
        "workspace": run.request.workspace,
        "status": "error",
        "message": message,
        "flows": flows.partial(),
    }
