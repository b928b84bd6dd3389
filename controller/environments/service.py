"""Leasing environments to runs: reuse within the TTL, provision once, wait for the run that
provisions, release at the end.

Which runs use the store: a run whose template is ``argocd`` (with no context, it gets an
environment of its own, ``run-<id>``, torn down once the run ends), or any run with a
context (a ``static`` template then only records the rendered routing, so the environment
and the runs holding it are visible). A static template without a context needs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from controller.environments.argocd_provisioner import ArgoCDProvisioner, ProvisionFailed
from controller.environments.work import claimed_work
from controller.models.documents import ConfigDocument
from controller.models.durations import parse_duration
from controller.models.environments import Environment, EnvironmentRequest
from controller.storage import Storage
from controller.templating import TemplateError, render_value

DEFAULT_TTL_MINUTES = 60
WAIT_MARGIN = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class EnvironmentSettings:
    wait_poll_seconds: float = 1.0
    worker_lease: timedelta = timedelta(seconds=60)
    """The claim on a provisioning, renewed every quarter of it while Argo CD works."""
    budget: int = 0
    """Live environments per workspace (``0``: no limit); a run past it waits for room."""


def needs_environment(template: ConfigDocument | None, context: str | None) -> bool:
    if template is None:
        return False
    return template.spec.get("provisioner") == "argocd" or bool(context)


class Environments:
    def __init__(
        self,
        *,
        storage: Storage,
        argocd: ArgoCDProvisioner | None,
        worker: str,
        settings: EnvironmentSettings | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        wake_sweeper: Callable[[], None] = lambda: None,
    ) -> None:
        """``wake_sweeper`` is called when a teardown may be due now: a run let go of its
        environments (an ephemeral one, or a closed pull request's, goes at once), or a run
        waits for room in a full workspace (an idle environment was expired for it)."""
        self._wake_sweeper = wake_sweeper
        self._storage = storage
        self._argocd = argocd
        self._worker = worker
        self._settings = settings or EnvironmentSettings()
        self._clock = clock
        self._sleep = sleep

    @contextlib.asynccontextmanager
    async def held(
        self,
        *,
        run_id: int,
        template: ConfigDocument,
        context: str | None,
        pull_request: str | None = None,
    ) -> AsyncIterator[Environment]:
        """The ready environment of ``template`` for ``context``, leased to ``run_id``
        until the block ends; raises ``ProvisionFailed`` with the reason. ``pull_request``
        (``pull_request_key``) is the PR the run serves: its close tears the environment
        down."""
        ephemeral = not context
        provisioner = str(template.spec.get("provisioner", "static"))
        request = EnvironmentRequest(
            workspace=template.workspace,
            context=context or f"run-{run_id}",
            template=template.name,
            provisioner=provisioner,
            ttl_seconds=0
            if ephemeral
            else int(template.spec.get("ttl_minutes", DEFAULT_TTL_MINUTES)) * 60,
            integration=template.spec.get("integration") if provisioner == "argocd" else None,
            budget=self._settings.budget or None,
            pull_request=pull_request,
        )
        leased: list[int] = []
        try:
            environment = await self._ready(request, template, run_id, leased)
            yield environment
        finally:
            # Also when provisioning failed, the wait timed out or the run was cancelled
            # meanwhile: a lease left behind would keep the environment from expiring.
            for env_id in leased:
                await self._storage.release_environment(env_id, run_id=run_id, now=self._clock())
            if leased:
                self._wake_sweeper()

    async def _ready(
        self,
        request: EnvironmentRequest,
        template: ConfigDocument,
        run_id: int,
        leased: list[int],
    ) -> Environment:
        wait = template.spec.get("wait") or {}
        patience = parse_duration(str(wait.get("timeout", "10m"))) + WAIT_MARGIN
        deadline = self._clock() + patience
        noted = ""
        while True:
            now = self._clock()
            acquired = await self._storage.acquire_environment(
                request,
                run_id=run_id,
                worker=self._worker,
                now=now,
                lease_until=now + self._settings.worker_lease,
            )
            environment = acquired.environment
            if environment is None:
                noted = await self._wait_for_room(request, acquired.live, run_id, deadline, noted)
                continue
            if run_id in environment.leases and environment.id not in leased:
                leased.append(environment.id)
            if acquired.role == "ready":
                return environment
            if acquired.role == "provision":
                return await self._provision(environment, template)
            found = await self._wait(environment, deadline)
            if found is not None:
                return found

    async def _wait_for_room(
        self,
        request: EnvironmentRequest,
        live: int,
        run_id: int,
        deadline: datetime,
        noted: str,
    ) -> str:
        """The workspace is at its budget: say so on the run (once per change of the count:
        ``noted`` is what the run already says), then wait a while (an idle environment was
        expired to make room, or a run will release one); what the run says now."""
        reason = (
            f"waiting for room for environment {request.context!r}: workspace "
            f"{request.workspace!r} has {live} of {request.budget} live environments"
        )
        if self._clock() >= deadline:
            raise ProvisionFailed(f"{reason}, and the wait ran out")
        if reason != noted:
            await self._storage.note_running_run(run_id, message=reason, now=self._clock())
        self._wake_sweeper()
        await self._sleep(self._settings.wait_poll_seconds)
        return reason

    async def _provision(self, environment: Environment, template: ConfigDocument) -> Environment:
        async with claimed_work(
            self._storage,
            environment.id,
            worker=self._worker,
            lease=self._settings.worker_lease,
            clock=self._clock,
            what=f"the provisioning of environment {environment.id}",
        ):
            return await self._provision_now(environment, template)

    async def _provision_now(
        self, environment: Environment, template: ConfigDocument
    ) -> Environment:
        try:
            routing = _routing(template, environment.context)
            application = project = None
            if environment.provisioner == "argocd":
                if self._argocd is None:
                    raise ProvisionFailed("the argocd provisioner is not available here")
                done = await self._argocd.provision(template, context=environment.context)
                if done.managed:
                    application, project = done.application, done.project
        except asyncio.CancelledError:
            # The run was superseded or its replica is stopping: nothing failed, so the
            # runs waiting for this environment take the provisioning over instead of
            # failing with it.
            with contextlib.suppress(Exception):
                await self._storage.abandon_environment_work(
                    environment.id, worker=self._worker, now=self._clock()
                )
            raise
        except BaseException as exc:
            # Failed for good, or Argo CD unreachable (the run is queued again): either way
            # the slot is freed, so the next attempt provisions anew instead of waiting for
            # a provisioning nobody continues.
            reason = str(exc) or type(exc).__name__
            with contextlib.suppress(Exception):
                await self._storage.environment_failed(
                    environment.id, worker=self._worker, message=reason, now=self._clock()
                )
            raise
        return await self._storage.environment_ready(
            environment.id,
            worker=self._worker,
            routing=routing,
            application=application,
            project=project,
            now=self._clock(),
        )

    async def _wait(self, environment: Environment, deadline: datetime) -> Environment | None:
        """Wait for another run's provisioning (the ready environment), or for a teardown
        to finish or the provisioning to be left (``None``: acquire again); raises
        ``ProvisionFailed``."""
        while True:
            if self._clock() >= deadline:
                raise ProvisionFailed(
                    f"environment {environment.context!r} was not ready in time "
                    f"(still {environment.state})"
                )
            await self._sleep(self._settings.wait_poll_seconds)
            environment = await self._storage.get_environment(environment.id)
            if environment.state == "ready":
                return environment
            if environment.state == "provisioning" and (
                environment.worker_until is None or environment.worker_until < self._clock()
            ):
                return None  # its worker stopped or died: acquiring again takes it over
            if environment.state == "failed":
                raise ProvisionFailed(environment.message or "provisioning failed")
            if environment.state == "deleted":
                return None


def _routing(template: ConfigDocument, context: str) -> dict[str, str]:
    try:
        urls = render_value(template.spec["routing_policy"], {"context": context})
    except TemplateError as exc:
        raise ProvisionFailed(
            f"the routing policy of {template.name!r} does not render: {exc}"
        ) from exc
    return {str(name): str(url) for name, url in dict(urls).items()}
