"""``meshgate run``: one suite from a config folder, against services given on the command
line, with the engine and evidence of the server, and nothing stored.

The routing is the workspace's default EnvironmentTemplate (or ``--template``), with
``--route SERVICE=URL`` replacing single services: a developer points the service they work
on at ``localhost`` and keeps the rest where the template sends it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from controller.clients.services import ServiceClient
from controller.configsync.folder import folder_snapshot
from controller.errors import NotFound
from controller.flows import Listeners, SuitePlan, SuiteResult, plan_suite, run_suite
from controller.flows.junit import RunInfo
from controller.models.runs import RunRequest
from controller.models.snapshot import ConfigSnapshot
from controller.runner.config_files import ConfigFiles
from controller.runner.preparation import (
    routing_for,
    run_root,
    short_secrets,
    step_environment,
    suite_secrets,
    template_roots,
)
from controller.secretrefs import SecretResolver


@dataclass(frozen=True, slots=True)
class LocalRun:
    config: Path
    suite: str
    config_path: str = ""
    workspace: str | None = None
    template: str | None = None
    context: str | None = None
    routes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PreparedRun:
    plan: SuitePlan
    info: RunInfo
    warnings: tuple[str, ...]


async def run_locally(
    request: LocalRun,
    *,
    environ: Mapping[str, str],
    listeners: Listeners,
    on_prepared: Callable[[PreparedRun], None] = lambda prepared: None,
) -> tuple[PreparedRun, SuiteResult]:
    """Load, plan and run; raises ``MeshgateError`` subclasses for anything that stops the
    run from starting (the caller prints them)."""
    snapshot, root = folder_snapshot(request.config, request.config_path)
    workspace = request.workspace or _workspace_of(snapshot, request.suite)
    plan = plan_suite(snapshot, workspace, request.suite)
    routing = routing_for(
        snapshot,
        workspace,
        template=request.template,
        context=request.context,
        routes=request.routes,
    )
    secrets = suite_secrets(plan, SecretResolver(environ=environ))
    warnings = tuple(
        f"secret {name!r} is shorter than 8 characters: masking it may hide ordinary text"
        for name in short_secrets(secrets)
    )
    run_id = f"local-{uuid.uuid4().hex[:8]}"
    environment = request.template or snapshot.default_template(workspace) or "local"
    info = RunInfo(run_id=run_id, environment=environment, config_revision=snapshot.revision)
    prepared = PreparedRun(plan, info, warnings)
    on_prepared(prepared)
    request_of_run = RunRequest(
        workspace=workspace,
        suite=request.suite,
        config_revision=snapshot.revision,
        trigger_type="manual",
        context=request.context,
        template=request.template,
        routes=dict(request.routes),
    )
    run = run_root(
        run_id=run_id,
        request=request_of_run,
        environment=environment,
        config_revision=snapshot.revision,
        started_at=datetime.now(UTC),
    )
    async with ServiceClient() as client:
        env = step_environment(
            plan,
            client=client,
            routing=routing,
            secrets=secrets,
            load_schema=ConfigFiles(root).load_json,
        )
        roots = template_roots(run=run, routing=routing, secrets=secrets, context=request.context)
        result = await run_suite(plan, roots=roots, env=env, listeners=listeners)
    return prepared, result


def _workspace_of(snapshot: ConfigSnapshot, suite: str) -> str:
    having = [ws for ws in snapshot.workspaces() if snapshot.get(ws, "Suite", suite) is not None]
    if len(having) == 1:
        return having[0]
    if not having:
        raise NotFound(f"no workspace has a suite {suite!r}")
    raise NotFound(
        f"suite {suite!r} is in several workspaces ({', '.join(having)}): give --workspace"
    )
