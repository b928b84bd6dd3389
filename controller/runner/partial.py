"""What a run got through, kept while it runs: a run stopped half-way (superseded, or a
defect) is still recorded with the evidence of its finished flows and of the steps of the
flows it was in."""

from __future__ import annotations

from typing import Any

from controller.flows import FlowPlan, FlowResult, StepResult
from controller.models.runs import Run


class Progress:
    """Steps and flows as they finish (the listeners of ``run_suite``)."""

    def __init__(self) -> None:
        self.finished: list[FlowResult] = []
        self.steps: dict[str, list[StepResult]] = {}

    def step(self, plan: FlowPlan, result: StepResult) -> None:
        self.steps.setdefault(plan.label, []).append(result)

    def flow(self, result: FlowResult) -> None:
        self.finished.append(result)
        self.steps.pop(result.label, None)

    def partial(self) -> list[dict[str, Any]]:
        unfinished = [
            {"label": label, "status": "error", "steps": [s.to_dict() for s in steps]}
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
