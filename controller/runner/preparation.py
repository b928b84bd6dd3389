"""Everything a run needs before its first request, the same for ``meshgate run`` and the
server's runner: the routing policy, the suite's secrets, the template roots, the step
environment.

Routing: the run's EnvironmentTemplate (the rule's, the manual run's, or the workspace
default) gives ``routing_policy``, rendered with ``${context}``; explicit routes (``--route``,
a manual run's ``routes``) replace single services on top. Provisioned environments route
their services under test to the review namespace and the rest to shared ones; a static
template's services are all under test.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from controller.checks import Context
from controller.clients.services import ServiceClient
from controller.errors import PermanentError
from controller.flows import Redactor, RoutingPolicy, StepEnvironment, SuitePlan
from controller.flows.compiled import CompiledFlows
from controller.models.runs import RunRequest
from controller.models.snapshot import ConfigSnapshot
from controller.models.timestamps import iso_utc
from controller.secretrefs import SecretResolver, SecretUnavailable, describe_ref
from controller.templating import TemplateError, render_value

DEFAULT_MAX_BODY_BYTES = 4096
SHORT_SECRET_CHARS = 8


class RunSetupError(PermanentError):
    """The run cannot start: no routing for it, a secret that cannot be read, ..."""


def routing_for(
    snapshot: ConfigSnapshot,
    workspace: str,
    *,
    template: str | None,
    context: str | None,
    routes: Mapping[str, str],
) -> RoutingPolicy:
    """The run's routing policy; raises ``RunSetupError``."""
    name = template or snapshot.default_template(workspace)
    urls: dict[str, str] = {}
    if name is not None:
        doc = snapshot.get(workspace, "EnvironmentTemplate", name)
        if doc is None:
            raise RunSetupError(
                f"EnvironmentTemplate {name!r} not found in workspace {workspace!r}"
            )
        try:
            urls = dict(render_value(doc.spec["routing_policy"], {"context": context or ""}))
        except TemplateError as exc:
            raise RunSetupError(f"the routing policy of {name!r} does not render: {exc}") from exc
    urls.update(routes)
    if not urls:
        raise RunSetupError(
            f"workspace {workspace!r} has no default EnvironmentTemplate and the run names no "
            "template or routes: give --route SERVICE=URL"
        )
    try:
        return RoutingPolicy.of(urls)
    except PermanentError as exc:
        raise RunSetupError(str(exc)) from exc


def suite_secrets(plan: SuitePlan, resolver: SecretResolver) -> dict[str, str]:
    """The suite's ``secrets``, resolved; raises ``RunSetupError`` naming the reference."""
    values: dict[str, str] = {}
    for name, ref in (plan.spec.get("secrets") or {}).items():
        try:
            values[name] = resolver.resolve(ref).reveal()
        except SecretUnavailable as exc:
            raise RunSetupError(f"secret {name!r} ({describe_ref(ref)}): {exc}") from exc
    return values


def short_secrets(secrets: Mapping[str, str]) -> list[str]:
    """Names of secrets short enough that masking them would hide ordinary text too."""
    return [name for name, value in secrets.items() if len(value) < SHORT_SECRET_CHARS]


def step_environment(
    plan: SuitePlan,
    *,
    client: ServiceClient,
    routing: RoutingPolicy,
    secrets: Mapping[str, str],
    load_schema: Any,
    compiled: CompiledFlows | None = None,
) -> StepEnvironment:
    """``compiled`` is the runner's cache of work done once per config (a fresh one when
    omitted)."""
    report = plan.spec.get("report") or {}
    return StepEnvironment(
        client=client,
        routing=routing,
        defaults=plan.spec.get("defaults") or {},
        checks=Context(load_schema=load_schema),
        redactor=Redactor(secrets.values()),
        max_body_bytes=int(report.get("max_body_bytes", DEFAULT_MAX_BODY_BYTES)),
        compiled=compiled or CompiledFlows(),
    )


def run_root(
    *,
    run_id: int | str,
    request: RunRequest,
    environment: str,
    config_revision: str,
    started_at: datetime,
    attempt: int = 1,
) -> dict[str, Any]:
    """``run.*`` of the templates: which run, what it tests, where and with which config."""
    return {
        "id": run_id,
        "suite": request.suite,
        "workspace": request.workspace,
        "trigger_type": request.trigger_type,
        "revision": request.trigger_ref,
        "repository": request.repository,
        "branch": request.branch,
        "pr_number": request.pr_number,
        "context": request.context,
        "environment": environment,
        "config_revision": config_revision,
        "attempt": attempt,
        "started_at": iso_utc(started_at),
    }


def template_roots(
    *,
    run: Mapping[str, Any],
    routing: RoutingPolicy,
    secrets: Mapping[str, str],
    context: str | None,
    event: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The reserved roots flows read: ``run``, ``services``, ``secrets``, ``context``,
    ``event`` (the normalized trigger event; empty for manual runs)."""
    return {
        "run": dict(run),
        "services": routing.scope(),
        "secrets": dict(secrets),
        "context": context,
        "event": dict(event or {}),
    }
