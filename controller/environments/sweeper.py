"""The sweeper: tears down environments past their TTL, retries failed teardowns, and deletes
Applications that carry meshgate's labels but belong to no environment (orphans).

Every step is idempotent and safe with several replicas: an environment is torn down by the
one worker that claimed it (``claim_expired_environment``), a worker that dies mid-teardown
loses its claim when its lease runs out, and deleting an Application that is already gone
is a success. What is NOT guaranteed: how soon. An expired environment goes within one
sweep interval (at once when a run's release wakes the sweeper); a failed teardown is retried
with a backoff that doubles up to ``max_retry``, forever, its reason shown on the
environment; an orphan goes on the first orphan sweep after it is ``orphan_grace`` old.

An Application a failed provisioning left behind (one that turned Degraded, say) is not
deleted at once: it is an orphan, kept for ``orphan_grace`` so that people can look at why
it failed, then swept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from controller.environments.argocd_provisioner import (
    CONTEXT_LABEL,
    WORKSPACE_LABEL,
    ArgoCDProvisioner,
)
from controller.environments.work import claimed_work
from controller.errors import MeshgateError
from controller.integrations import IntegrationGone
from controller.models.environments import Environment
from controller.models.snapshot import ConfigSnapshot
from controller.storage import Storage

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SweeperSettings:
    worker_lease: timedelta = timedelta(seconds=60)
    """The claim on a teardown, renewed every quarter of it while Argo CD deletes."""
    teardown_timeout: timedelta = timedelta(minutes=10)
    """How long one teardown waits for Argo CD to remove the Application."""
    first_retry: timedelta = timedelta(seconds=30)
    max_retry: timedelta = timedelta(minutes=30)
    orphan_grace: timedelta = timedelta(minutes=10)


class EnvironmentSweeper:
    def __init__(
        self,
        *,
        storage: Storage,
        argocd: ArgoCDProvisioner,
        config: Callable[[], ConfigSnapshot | None],
        worker: str,
        settings: SweeperSettings | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._storage = storage
        self._argocd = argocd
        self._config = config
        self._worker = worker
        self._settings = settings or SweeperSettings()
        self._clock = clock

    async def sweep(self) -> int:
        """Tear down every environment that is due; how many are gone now."""
        deleted = 0
        while True:
            now = self._clock()
            environment = await self._storage.claim_expired_environment(
                worker=self._worker, now=now, lease_until=now + self._settings.worker_lease
            )
            if environment is None:
                return deleted
            deleted += await self._renewed_teardown(environment)

    async def _renewed_teardown(self, environment: Environment) -> int:
        async with claimed_work(
            self._storage,
            environment.id,
            worker=self._worker,
            lease=self._settings.worker_lease,
            clock=self._clock,
            what=f"the teardown of environment {environment.id}",
        ):
            return await self._teardown(environment)

    async def _teardown(self, environment: Environment) -> int:
        try:
            if environment.application is not None:
                await self._argocd.teardown(
                    workspace=environment.workspace,
                    integration=self._integration_of(environment),
                    application=environment.application,
                    project=environment.project or "default",
                    within_seconds=self._settings.teardown_timeout.total_seconds(),
                )
        except MeshgateError as exc:
            attempts = environment.teardown_attempts
            delay = min(self._settings.first_retry * 2**attempts, self._settings.max_retry)
            message = f"teardown failed (attempt {attempts + 1}, next in {delay}): {exc}"
            log.warning("environment %s (%s): %s", environment.id, environment.context, message)
            now = self._clock()
            await self._storage.environment_teardown_failed(
                environment.id,
                worker=self._worker,
                message=message,
                retry_at=now + delay,
                now=now,
            )
            return 0
        await self._storage.environment_deleted(
            environment.id, worker=self._worker, now=self._clock()
        )
        log.info(
            "environment %s (%s/%s) torn down",
            environment.id,
            environment.workspace,
            environment.context,
        )
        return 1

    def _integration_of(self, environment: Environment) -> str:
        """The Argo CD integration recorded on the environment; for one recorded before
        meshgate kept it, the template's in the live config."""
        if environment.integration:
            return environment.integration
        snapshot = self._config()
        template = (
            snapshot.get(environment.workspace, "EnvironmentTemplate", environment.template)
            if snapshot is not None
            else None
        )
        if template is None or not template.spec.get("integration"):
            raise IntegrationGone(
                f"no Argo CD integration is known for template {environment.template!r}"
            )
        return str(template.spec["integration"])

    async def sweep_orphans(self) -> int:
        """Delete, in every Argo CD integration of the live config, the Applications
        labelled as meshgate's for its workspace that no active environment of that
        context owns and that are older than the grace period; how many were asked to go.
        An integration that cannot be listed is skipped (logged) until the next sweep."""
        snapshot = self._config()
        if snapshot is None:
            return 0
        asked = 0
        for integration in snapshot.integrations("argocd"):
            try:
                asked += await self._sweep_integration(integration.workspace, integration.name)
            except MeshgateError as exc:
                log.warning(
                    "orphan sweep of %s/%s: %s", integration.workspace, integration.name, exc
                )
        return asked

    async def _sweep_integration(self, workspace: str, integration: str) -> int:
        apps = await self._argocd.managed_applications(workspace=workspace, integration=integration)
        if not apps:
            return 0
        owned = await self._storage.active_environment_applications(workspace=workspace)
        cutoff = self._clock() - self._settings.orphan_grace
        asked = 0
        for app in apps:
            name = _orphan_name(app, workspace=workspace, owned=owned, cutoff=cutoff)
            if name is None:
                continue
            project = str((app.get("spec") or {}).get("project") or "default")
            log.info("orphan sweep: deleting Application %s (no environment owns it)", name)
            await self._argocd.request_deletion(
                workspace=workspace, integration=integration, application=name, project=project
            )
            asked += 1
        return asked


def _orphan_name(
    app: Mapping[str, Any],
    *,
    workspace: str,
    owned: Mapping[str, str | None],
    cutoff: datetime,
) -> str | None:
    """The name of ``app`` if it is an orphan to delete now, else ``None``.

    Kept: an app already being deleted, one younger than the grace period (or of unknown
    age), and one whose context has an active environment that owns it or has not recorded
    its Application yet (provisioning)."""
    metadata = app.get("metadata") or {}
    labels = metadata.get("labels") or {}
    name = metadata.get("name")
    if not name or labels.get(WORKSPACE_LABEL) != workspace or metadata.get("deletionTimestamp"):
        return None
    created = _timestamp(metadata.get("creationTimestamp"))
    if created is None or created > cutoff:
        return None
    context = str(labels.get(CONTEXT_LABEL, ""))
    if context in owned and owned[context] in (None, name):
        return None
    return str(name)


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
