"""What a run's commit status says, from the run alone.

One pending while the run is queued or running (the same text for both, so a run that starts
does not cost a second post), then exactly one final state: ``success`` for passed,
``failure`` for failed, ``error`` for everything else, superseded and cancelled included
(Gitea has no cancelled state). The description is the run's own summary line
(``runner.summary``), cut to what Gitea shows in its list.
"""

from __future__ import annotations

from controller.models.runs import Run
from controller.models.statuses import CommitState, DesiredStatus, run_rank, short_text

FINAL_STATES: dict[str, CommitState] = {
    "passed": "success",
    "failed": "failure",
    "error": "error",
    "superseded": "error",
    "cancelled": "error",
}
SHORT_SHA = 8


def status_context(run: Run) -> str:
    return run.request.status_context or f"meshgate/{run.request.suite}"


def run_page(public_url: str, run_id: int) -> str:
    return f"{public_url.rstrip('/')}/runs/{run_id}"


def desired_for_run(
    run: Run, *, public_url: str, superseded_by_ref: str = ""
) -> DesiredStatus | None:
    """The status ``run`` should show now; ``None`` for a run that posts none (manual runs,
    events that named no commit)."""
    target = run.request.status_target
    if target is None:
        return None
    final = FINAL_STATES.get(run.state)
    if final is None:
        state: CommitState = "pending"
        description = f"Testing {run.request.suite} (run #{run.id})"
    else:
        state = final
        description = _final_description(run, superseded_by_ref)
    return DesiredStatus(
        target=target,
        context=status_context(run),
        state=state,
        description=short_text(description),
        target_url=run_page(public_url, run.id),
        rank=run_rank(run.id, final=final is not None),
        run_id=run.id,
    )


def _final_description(run: Run, superseded_by_ref: str) -> str:
    if run.state == "superseded":
        if superseded_by_ref:
            return f"superseded by {superseded_by_ref[:SHORT_SHA]}"
        return f"superseded by run #{run.superseded_by}"
    if run.state == "cancelled":
        return run.message or "cancelled"
    return run.message or f"the run ended {run.state}"
