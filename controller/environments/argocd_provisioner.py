"""The ``argocd`` provisioner: an Application per context, created from the template, waited
for until Synced and Healthy, and deleted when the environment expires (argocd.md §2).

- **Rendering**: every string of the template's ``application`` is rendered with
  ``${context}``; meshgate's labels are added (managed-by, workspace, context, template) so
  the orphan sweep can find what meshgate made; ``apiVersion`` and ``kind`` are dropped (the
  REST API's Application has neither). Apps are created without ``upsert``.
- **An Application of that name already exists** (the create answers "spec is different"):
  it is adopted (re-created with ``upsert``) when its labels say meshgate made it for this
  workspace and context, the leftover of an earlier environment or a crashed provisioning.
  Any other Application is someone else's (an ApplicationSet's pull request preview, say):
  it is never changed and never deleted, only waited for until it is ready and then used
  (``Provisioned.managed`` is false).
- **Ready** when there is no operation in progress, ``sync.status`` is Synced, health is the
  template's ``wait.health`` (Healthy by default) and the app manages at least one resource
  (an app with none reports Healthy); for a ``targetRevision`` that is a commit, the synced
  revision must be it. **Failed** when the health turns Degraded, the operation ends Failed or
  Error, or ``wait.timeout`` (10 m by default) passes; the reason names the app and its last
  sync and health.
- **Teardown**: ``DELETE ?cascade=true``, then wait until the Application is gone (Argo CD
  keeps it while its finalizer removes the resources).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from controller.clients.argocd import ApplicationConflict, ArgoCDClient
from controller.errors import PermanentError
from controller.models.documents import ConfigDocument
from controller.models.durations import parse_duration
from controller.models.statuses import is_commit_sha
from controller.settings import Secret
from controller.templating import TemplateError, render_value

MANAGED_BY = "app.kubernetes.io/managed-by"
WORKSPACE_LABEL = "meshgate.dev/workspace"
CONTEXT_LABEL = "meshgate.dev/context"
TEMPLATE_LABEL = "meshgate.dev/template"
DEFAULT_TIMEOUT = "10m"
FIRST_POLL_SECONDS = 0.25
MAX_POLL_SECONDS = 5.0

ClientFor = Callable[[str, str], tuple[ArgoCDClient, Secret]]


class ProvisionFailed(PermanentError):
    """The environment cannot be provisioned (the run ends ``error`` with this reason)."""


@dataclass(frozen=True, slots=True)
class Provisioned:
    application: str
    project: str
    managed: bool = True
    """False for an Application meshgate found and uses but did not make (not torn down)."""


def render_application(template: ConfigDocument, *, context: str) -> dict[str, Any]:
    """The Application for ``context``: the template's manifest rendered, labels added."""
    try:
        app = render_value(template.spec["application"], {"context": context})
    except TemplateError as exc:
        raise ProvisionFailed(f"the application of template {template.name!r}: {exc}") from exc
    if not isinstance(app, dict):
        raise ProvisionFailed(f"the application of template {template.name!r} is not a mapping")
    # The REST API's Application (swagger.json v1alpha1Application) has no apiVersion and
    # kind: those belong to the Kubernetes manifest the template is written as.
    app = {key: value for key, value in app.items() if key not in ("apiVersion", "kind")}
    metadata = dict(app.get("metadata") or {})
    metadata["labels"] = {
        **(metadata.get("labels") or {}),
        MANAGED_BY: "meshgate",
        WORKSPACE_LABEL: template.workspace,
        CONTEXT_LABEL: context,
        TEMPLATE_LABEL: template.name,
    }
    app["metadata"] = metadata
    return app


class ArgoCDProvisioner:
    def __init__(
        self,
        *,
        client_for: ClientFor,
        poll_seconds: float = FIRST_POLL_SECONDS,
        max_poll_seconds: float = MAX_POLL_SECONDS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """``client_for(workspace, integration)`` gives the client and token of an Argo CD
        integration of the live config. Polls start every ``poll_seconds`` and slow down
        (doubling) to ``max_poll_seconds``: a quick app is seen quickly, a slow one is not
        asked about every moment."""
        self._client_for = client_for
        self._poll = poll_seconds
        self._max_poll = max(max_poll_seconds, poll_seconds)
        self._sleep = sleep

    async def provision(self, template: ConfigDocument, *, context: str) -> Provisioned:
        app = render_application(template, context=context)
        name = str(app["metadata"]["name"])
        project = str(app.get("spec", {}).get("project") or "default")
        client, token = self._client_for(template.workspace, template.spec["integration"])
        managed = True
        try:
            await client.create_application(app, token=token)
        except ApplicationConflict:
            existing = await client.get_application(name, project=project, token=token)
            if existing is None:
                raise ProvisionFailed(
                    f"Application {name!r} exists with another spec but cannot be read in "
                    f"project {project!r}"
                ) from None
            if _ours(existing, template.workspace, context):
                await client.create_application(app, token=token, upsert=True)
            else:
                managed = False  # someone else's: used as it is, never changed or deleted
        wait = template.spec.get("wait") or {}
        timeout = parse_duration(str(wait.get("timeout", DEFAULT_TIMEOUT))).total_seconds()
        health = str(wait.get("health", "Healthy"))
        revision = str(app.get("spec", {}).get("source", {}).get("targetRevision", ""))
        await self._wait_ready(
            client, token, name, project, health=health, revision=revision, within=timeout
        )
        return Provisioned(application=name, project=project, managed=managed)

    async def teardown(
        self,
        *,
        workspace: str,
        integration: str,
        application: str,
        project: str,
        within_seconds: float,
    ) -> None:
        """Delete ``application`` with its resources and wait until it is gone; an
        Application already gone is fine. Raises ``ProvisionFailed`` past
        ``within_seconds``."""
        if not await self.request_deletion(
            workspace=workspace, integration=integration, application=application, project=project
        ):
            return
        client, token = self._client_for(workspace, integration)
        deadline = time.monotonic() + within_seconds
        while await client.get_application(application, project=project, token=token):
            if time.monotonic() >= deadline:
                raise ProvisionFailed(
                    f"Application {application!r} still exists after {within_seconds:.0f}s"
                )
            await self._sleep(self._poll)

    async def managed_applications(
        self, *, workspace: str, integration: str
    ) -> list[dict[str, Any]]:
        """The Applications of ``integration`` whose labels say meshgate made them for
        ``workspace`` (what the orphan sweep looks through)."""
        client, token = self._client_for(workspace, integration)
        selector = f"{MANAGED_BY}=meshgate,{WORKSPACE_LABEL}={workspace}"
        return await client.list_applications(selector=selector, token=token)

    async def request_deletion(
        self, *, workspace: str, integration: str, application: str, project: str
    ) -> bool:
        """Ask Argo CD to delete ``application`` with its resources, without waiting;
        ``False`` when it was already gone."""
        client, token = self._client_for(workspace, integration)
        return await client.delete_application(application, project=project, token=token)

    async def _wait_ready(
        self,
        client: ArgoCDClient,
        token: Secret,
        name: str,
        project: str,
        *,
        health: str,
        revision: str,
        within: float,
    ) -> None:
        deadline = time.monotonic() + within
        last = "not seen yet"
        pause = self._poll
        while True:
            app = await client.get_application(name, project=project, token=token)
            if app is None:
                raise ProvisionFailed(f"Application {name!r} disappeared while provisioning")
            verdict, last = _readiness(app, health=health, revision=revision)
            if verdict == "ready":
                return
            if verdict == "failed":
                raise ProvisionFailed(f"Application {name!r} {last}")
            if time.monotonic() >= deadline:
                raise ProvisionFailed(
                    f"Application {name!r} was not Synced and {health} within {within:.0f}s "
                    f"({last})"
                )
            await self._sleep(pause)
            pause = min(pause * 2, self._max_poll)


def _readiness(app: Mapping[str, Any], *, health: str, revision: str) -> tuple[str, str]:
    """``ready`` / ``failed`` / ``waiting``, with what was seen."""
    status = app.get("status") or {}
    sync = status.get("sync") or {}
    seen_health = (status.get("health") or {}).get("status") or "unknown"
    seen_sync = sync.get("status") or "unknown"
    phase = (status.get("operationState") or {}).get("phase", "")
    seen = f"sync {seen_sync}, health {seen_health}"
    if seen_health == "Degraded":
        message = (status.get("health") or {}).get("message", "")
        return "failed", "turned Degraded" + (f": {message}" if message else "")
    if phase in ("Failed", "Error"):
        message = (status.get("operationState") or {}).get("message", "")
        return "failed", f"sync operation {phase}: {message}".rstrip(": ")
    synced_revision = str(sync.get("revision", ""))
    if is_commit_sha(revision) and synced_revision and synced_revision != revision:
        return "waiting", f"{seen}, at {synced_revision[:8]} not {revision[:8]}"
    ready = (
        "operation" not in app
        and seen_sync == "Synced"
        and seen_health == health
        and bool(status.get("resources"))
    )
    return ("ready" if ready else "waiting"), seen


def _ours(app: Mapping[str, Any], workspace: str, context: str) -> bool:
    labels = (app.get("metadata") or {}).get("labels") or {}
    return (
        labels.get(MANAGED_BY) == "meshgate"
        and labels.get(WORKSPACE_LABEL) == workspace
        and labels.get(CONTEXT_LABEL) == context
    )
