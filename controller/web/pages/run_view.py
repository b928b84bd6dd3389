"""What the run page shows, gathered from storage and the live config: the run, what
triggered it (with links into Gitea), its environment, its commit statuses, the delivery's
decision for its rule, and its flows (the result once it ended, the progress while it runs).

Everything here is read-only and already redacted: secrets were masked before the evidence
was stored, and the live config is asked only for the public base URLs of integrations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from controller.errors import NotFound
from controller.models.runs import ENDED_STATES, Run
from controller.models.snapshot import ConfigSnapshot
from controller.storage import Storage

Config = Callable[[], ConfigSnapshot | None]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunView:
    run: dict[str, Any]
    live: bool
    """Still queued or running: the page keeps its flows up to date."""
    flows: list[dict[str, Any]]
    result: dict[str, Any] | None
    statuses: list[dict[str, Any]]
    attempts: list[dict[str, Any]] = field(default_factory=list)
    """Every claim of the run (a second one means its replica died or stopped)."""
    environment: dict[str, Any] | None = None
    decision: dict[str, Any] | None = None
    delivery_summary: str = ""
    links: dict[str, str] = field(default_factory=dict)
    """``commit``, ``pull_request``, ``junit``, ``delivery``, ``evidence`` where they exist."""


async def run_view(run_id: int, *, storage: Storage, config: Config) -> RunView:
    run = await storage.get_run(run_id)
    live = run.state not in ENDED_STATES
    result, junit, flows = await _evidence(run, storage)
    statuses = [s.to_dict() for s in await storage.list_statuses(run_id=run.id)]
    decision, summary = await _decision(run, storage)
    return RunView(
        run=run.to_dict(),
        live=live,
        flows=flows,
        result=result,
        statuses=statuses,
        attempts=[a.to_dict() for a in await storage.run_attempts(run.id)],
        environment=await _environment(run, storage),
        decision=decision,
        delivery_summary=summary,
        links=_links(run, config(), has_junit=bool(junit)),
    )


async def flows_view(run_id: int, *, storage: Storage) -> tuple[Run, list[dict[str, Any]]]:
    """The run and its flows so far: the live part of the page."""
    run = await storage.get_run(run_id)
    return run, (await _evidence(run, storage))[2]


async def _evidence(
    run: Run, storage: Storage
) -> tuple[dict[str, Any] | None, bytes, list[dict[str, Any]]]:
    """An ended run's result, JUnit report and flows; a live run's flows so far."""
    if run.state not in ENDED_STATES:
        return None, b"", await storage.run_progress(run.id)
    try:
        result, junit = await storage.run_result(run.id)
    except NotFound:
        return None, b"", []
    return result, junit, list(result.get("flows", []))


async def _decision(run: Run, storage: Storage) -> tuple[dict[str, Any] | None, str]:
    if run.delivery is None:
        return None, ""
    try:
        delivery = await storage.get_delivery(run.delivery)
    except NotFound:
        return None, ""
    if delivery.match is None:
        return None, ""
    for decision in delivery.match.decisions:
        if decision.rule == run.request.rule:
            return decision.to_dict(), delivery.match.summary
    return None, delivery.match.summary


async def _environment(run: Run, storage: Storage) -> dict[str, Any] | None:
    """The environment the run held: the one of its context (``run-<id>`` without one)
    that it leased, else the newest of that context."""
    request = run.request
    context = request.context or f"run-{run.id}"
    found = await storage.list_environments(workspace=request.workspace, context=context, limit=20)
    if not found:
        return None
    held = [env for env in found if run.id in env.leases]
    return (held or found)[0].to_dict()


def _links(run: Run, snapshot: ConfigSnapshot | None, *, has_junit: bool) -> dict[str, str]:
    links = {"evidence": f"/api/v1/runs/{run.id}"}
    if has_junit:
        links["junit"] = f"/api/v1/runs/{run.id}/junit.xml"
    if run.delivery is not None:
        links["delivery"] = f"/deliveries/{run.delivery}"
    request = run.request
    target = request.status_target
    gitea = _gitea_url(snapshot, request.workspace, target.integration if target else "")
    if gitea is None and request.trigger_type == "webhook":
        gitea = _gitea_url(snapshot, request.workspace, request.integration)
    repository = target.repository if target else request.repository
    if gitea and repository and "/" in repository:
        if request.trigger_ref:
            links["commit"] = f"{gitea}/{repository}/commit/{request.trigger_ref}"
        if request.pr_number is not None:
            links["pull_request"] = f"{gitea}/{repository}/pulls/{request.pr_number}"
    return links


def _gitea_url(snapshot: ConfigSnapshot | None, workspace: str, integration: str) -> str | None:
    if snapshot is None or not integration:
        return None
    doc = snapshot.get(workspace, "Integration", integration)
    if doc is None or doc.spec.get("provider") != "gitea":
        return None
    url = str(doc.spec.get("config", {}).get("url", "")).rstrip("/")
    return url or None
