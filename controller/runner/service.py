"""The runner: claims queued runs, executes them with the flow engine, records how they end.

- At most ``concurrency`` runs at once in this process; each run has its own
  ``ServiceClient`` (connection pool), so one run's slow service never holds another's.
- A claimed run is leased (``lease``) and heartbeated (every ``heartbeat``). When the
  heartbeat says the run is no longer ours (``superseded`` by a newer revision of its lane,
  or taken over after a lost lease), the run is cancelled: the running step stops,
  ``finally`` steps still run, the evidence gathered so far is kept.
- Shutting down (``aclose``) cancels the runs in progress the same way and puts them back
  in the queue, so the next start runs them again; a crash leaves their lease to expire,
  after which any runner claims them again (``max_attempts`` claims in all).
- A run that cannot start (its suite was removed, a secret is missing, no routing for a
  service) ends ``error`` with the reason; nothing is retried that would fail the same way.

Runs use the live config (the revision is recorded in their evidence); ``wake()`` makes the
runner look for work at once instead of at its next idle poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from controller import logs
from controller.clients.services import ServiceClient
from controller.environments.service import Environments, needs_environment
from controller.errors import MeshgateError, PermanentError, StorageUnavailable, TemporaryError
from controller.flows import (
    FlowPlan,
    Listeners,
    RoutingPolicy,
    StepResult,
    SuitePlan,
    SuiteResult,
    plan_suite,
    run_suite,
)
from controller.flows.compiled import CompiledFlows
from controller.flows.junit import RunInfo, render_junit
from controller.metrics import Metrics
from controller.models.runs import Run
from controller.models.snapshot import ConfigSnapshot, require_loaded
from controller.runner.config_files import ConfigFiles, no_config_files
from controller.runner.partial import Progress, partial_result
from controller.runner.preparation import (
    RunSetupError,
    routing_for,
    run_root,
    step_environment,
    suite_secrets,
    template_roots,
)
from controller.runner.summary import summarize
from controller.secretrefs import SecretResolver
from controller.storage import Storage

log = logging.getLogger(__name__)


PinnedConfig = Callable[[str], Awaitable[tuple[ConfigSnapshot, Path | None] | None]]


@dataclass(frozen=True, slots=True)
class RunnerSettings:
    concurrency: int = 4
    lease: timedelta = timedelta(seconds=60)
    heartbeat: timedelta = timedelta(seconds=15)
    idle_poll: timedelta = timedelta(seconds=2)
    max_attempts: int = 3
    progress_interval: timedelta = timedelta(milliseconds=500)
    retry_first: timedelta = timedelta(seconds=5)
    """A run that could not start (Argo CD or the database unavailable, no config yet) is
    tried again after this, doubling per attempt up to ``retry_max``; the queue watchdog
    ends a run that posts a status once it has waited ``MESHGATE_RUN_QUEUE_TIMEOUT``."""
    retry_max: timedelta = timedelta(minutes=5)


class Runner:
    def __init__(
        self,
        *,
        storage: Storage,
        config: Callable[[], ConfigSnapshot | None],
        config_root: Callable[[], Path | None],
        secrets: SecretResolver,
        owner: str,
        settings: RunnerSettings = RunnerSettings(),
        client_factory: Callable[[], ServiceClient] = ServiceClient,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_finished: Callable[[], None] = lambda: None,
        environments: Environments | None = None,
        pinned_config: PinnedConfig | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        """``on_finished`` is called after each run's end is recorded (the status poster
        wakes up to post it). ``environments`` leases the runs' environments; without it,
        routing comes straight from the template. ``pinned_config(revision)`` gives the
        config of a revision other than the live one, for runs pinned to it (re-runs)."""
        self._pinned_config = pinned_config
        self._metrics = metrics or Metrics()
        self._storage = storage
        self._on_finished = on_finished
        self._environments = environments
        self._config = config
        self._config_root = config_root
        self._secrets = secrets
        self._owner = owner
        self._settings = settings
        self._client_factory = client_factory
        self._clock = clock
        self._wake = asyncio.Event()
        self._active: dict[int, asyncio.Task[None]] = {}
        self._stop_reasons: dict[int, str] = {}
        self._closing = False
        self._compiled = CompiledFlows()

    def wake(self) -> None:
        self._wake.set()

    async def run_forever(self) -> None:
        """Claim and start runs until cancelled (``aclose``)."""
        idle = self._settings.idle_poll.total_seconds()
        while not self._closing:
            # Cleared before claiming: a wake-up during the claims is not lost.
            self._wake.clear()
            try:
                while self._can_claim():
                    run = await self._claim()
                    if run is None:
                        break
                    self._start(run)
            except StorageUnavailable as exc:
                log.warning("runner: cannot claim runs: %s", exc)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(idle):
                    await self._wake.wait()

    def _can_claim(self) -> bool:
        """Room for a run, not stopping, and a config to run it with (right after a start,
        the first config may still be loading: queued runs wait for it)."""
        room = len(self._active) < self._settings.concurrency
        return room and not self._closing and self._config() is not None

    async def drain(self, *, grace: timedelta) -> None:
        """Stop claiming; wait up to ``grace`` for the runs in progress to end by themselves
        (``aclose`` then hands back the rest)."""
        self._closing = True
        self.wake()
        active = list(self._active.values())
        if active and grace > timedelta(0):
            await asyncio.wait(active, timeout=grace.total_seconds())

    async def aclose(self) -> None:
        """Stop claiming; cancel the runs in progress, which go back to the queue."""
        self._closing = True
        for run_id, task in list(self._active.items()):
            self._stop_reasons[run_id] = "shutdown"
            task.cancel()
        await asyncio.gather(*self._active.values(), return_exceptions=True)

    async def _claim(self) -> Run | None:
        now = self._clock()
        return await self._storage.claim_run(
            owner=self._owner,
            now=now,
            lease_until=now + self._settings.lease,
            max_attempts=self._settings.max_attempts,
        )

    def _start(self, run: Run) -> None:
        task = asyncio.get_running_loop().create_task(self._execute(run), name=f"run-{run.id}")
        self._active[run.id] = task

        def done(task: asyncio.Task[None]) -> None:
            self._active.pop(run.id, None)
            self._stop_reasons.pop(run.id, None)
            self.wake()
            if not task.cancelled() and task.exception() is not None:
                log.error("run %s failed in the runner", run.id, exc_info=task.exception())

        task.add_done_callback(done)

    async def _execute(self, run: Run) -> None:
        logs.run_id.set(run.id)  # this task's context: every line about the run names it
        flows = Progress()
        heartbeat = asyncio.create_task(self._heartbeat(run.id, asyncio.current_task()))
        publisher = asyncio.create_task(self._publish(run.id, flows))
        try:
            result, info, plan = await self._perform(run, flows)
        except asyncio.CancelledError:
            reason = self._stop_reasons.get(run.id, "cancelled")
            if reason == "shutdown":
                await self._release(run, "meshgate stopped during the run; queued again")
                raise
            message = f"stopped: the run was {reason} while it ran"
            await self._finish(run, "error", message, partial_result(run, flows, message), b"")
            return
        except TemporaryError as exc:
            log.warning("run %s could not start now, queued again: %s", run.id, exc)
            delay = min(
                self._settings.retry_first * 2 ** max(run.attempt - 1, 0),
                self._settings.retry_max,
            )
            await self._release(
                run,
                f"could not start yet ({exc}); queued again, next try in {delay}",
                not_before=self._clock() + delay,
            )
            return
        except MeshgateError as exc:
            message = f"could not start: {exc}"
            await self._finish(run, "error", message, {"status": "error", "message": message}, b"")
            return
        except Exception as exc:  # a defect must end the run, not leave it running
            log.error("run %s failed in the engine", run.id, exc_info=exc)
            message = f"internal error in meshgate: {type(exc).__name__}"
            await self._finish(run, "error", message, partial_result(run, flows, message), b"")
            return
        finally:
            for helper in (heartbeat, publisher):
                helper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await helper
        junit = render_junit(result, info, granularity=plan.junit_granularity)
        await self._finish(run, result.status, summarize(result), result.to_dict(), junit)

    async def _perform(self, run: Run, flows: Progress) -> tuple[SuiteResult, RunInfo, SuitePlan]:
        async with contextlib.AsyncExitStack() as stack:
            return await self._perform_in(run, flows, stack)

    async def _routing(
        self, run: Run, snapshot: ConfigSnapshot, stack: contextlib.AsyncExitStack
    ) -> RoutingPolicy:
        """The routing of the run's environment, leased for the rest of the run (``stack``)
        when the template needs one (``environments.service``); else straight from the
        template and the run's explicit routes."""
        request = run.request
        name = request.template or snapshot.default_template(request.workspace)
        template = snapshot.get(request.workspace, "EnvironmentTemplate", name) if name else None
        if self._environments is None or not needs_environment(template, request.context):
            return routing_for(
                snapshot,
                request.workspace,
                template=request.template,
                context=request.context,
                routes=request.routes,
            )
        assert template is not None
        held = await stack.enter_async_context(
            self._environments.held(
                run_id=run.id,
                template=template,
                context=request.context,
                pull_request=request.pull_request,
            )
        )
        try:
            return RoutingPolicy.of({**held.routing, **request.routes})
        except PermanentError as exc:
            raise RunSetupError(str(exc)) from exc

    async def _perform_in(
        self, run: Run, flows: Progress, stack: contextlib.AsyncExitStack
    ) -> tuple[SuiteResult, RunInfo, SuitePlan]:
        request = run.request
        snapshot, root = await self._config_of(run)
        plan = plan_suite(snapshot, request.workspace, request.suite)
        secrets = suite_secrets(plan, self._secrets)
        routing = await self._routing(run, snapshot, stack)
        event = await self._event(run)
        environment = request.template or snapshot.default_template(request.workspace) or ""
        info = RunInfo(
            run_id=str(run.id),
            environment=request.context or environment,
            application=request.repository if request.trigger_type == "argocd" else "",
            revision=request.trigger_ref,
            config_revision=snapshot.revision,
        )
        load = ConfigFiles(root).load_json if root is not None else no_config_files
        run_scope = run_root(
            run_id=run.id,
            request=request,
            environment=environment,
            config_revision=snapshot.revision,
            started_at=self._clock(),
            attempt=run.attempt,
        )
        async with self._client_factory() as client:
            env = step_environment(
                plan,
                client=client,
                routing=routing,
                secrets=secrets,
                load_schema=load,
                compiled=self._compiled,
            )
            roots = template_roots(
                run=run_scope,
                routing=routing,
                secrets=secrets,
                context=request.context,
                event=event,
            )
            result = await run_suite(
                plan,
                roots=roots,
                env=env,
                listeners=Listeners(on_step=self._step_done(flows), on_flow=flows.flow),
                overrides=dict(request.parameters),
            )
        return result, info, plan

    def _step_done(self, flows: Progress) -> Callable[[FlowPlan, StepResult], None]:
        def done(plan: FlowPlan, result: StepResult) -> None:
            flows.step(plan, result)
            self._metrics.step_finished(status=result.status, seconds=result.duration_ms / 1000)

        return done

    async def _config_of(self, run: Run) -> tuple[ConfigSnapshot, Path | None]:
        """The live config, or for a pinned run the config of its revision."""
        live = require_loaded(self._config(), "runs cannot start")
        revision = run.request.config_revision
        if not run.request.config_pinned or revision == live.revision:
            return live, self._config_root()
        found = await self._pinned_config(revision) if self._pinned_config else None
        if found is None:
            raise RunSetupError(
                f"config revision {revision} cannot be loaded any more (a folder source keeps "
                "no history, or the revision does not validate); re-run with the latest config"
            )
        return found

    async def _event(self, run: Run) -> dict[str, Any]:
        if run.delivery is None:
            return {}
        delivery = await self._storage.get_delivery(run.delivery)
        return delivery.event.to_dict()

    async def _publish(self, run_id: int, flows: Progress) -> None:
        """Store the run's progress as steps finish, at most every ``progress_interval``
        (the live run page reads it). Losing a snapshot loses nothing: the next one, and
        the result at the end, hold everything."""
        interval = self._settings.progress_interval.total_seconds()
        while True:
            await flows.changed.wait()
            flows.changed.clear()
            try:
                await self._storage.record_progress(
                    run_id,
                    owner=self._owner,
                    flows=flows.partial(unfinished_status="running"),
                    now=self._clock(),
                )
            except StorageUnavailable as exc:
                log.warning("run %s: cannot record its progress: %s", run_id, exc)
            await asyncio.sleep(interval)

    async def _heartbeat(self, run_id: int, task: asyncio.Task[Any] | None) -> None:
        interval = self._settings.heartbeat.total_seconds()
        while True:
            await asyncio.sleep(interval)
            now = self._clock()
            try:
                state = await self._storage.heartbeat_run(
                    run_id, owner=self._owner, now=now, lease_until=now + self._settings.lease
                )
            except StorageUnavailable as exc:
                log.warning("run %s: cannot renew its claim: %s", run_id, exc)
                continue
            if state != "running" and task is not None:
                log.info("run %s is %s: stopping it", run_id, state)
                self._stop_reasons[run_id] = state
                task.cancel()
                return

    async def _finish(
        self, run: Run, state: str, message: str, result: dict[str, Any], junit: bytes
    ) -> None:
        """Record the run's end. A database that is briefly unavailable (SQLite locked by a
        burst of writers, PostgreSQL failing over) is waited for, 0.5 s doubling up to the
        claim's lease; past that the claim lapses and the run is taken again, which repeats
        the work but loses nothing."""
        pause = 0.5
        deadline = asyncio.get_running_loop().time() + self._settings.lease.total_seconds()
        while True:
            try:
                finished = await self._storage.finish_run(
                    run.id,
                    owner=self._owner,
                    state=state,  # type: ignore[arg-type]
                    message=message,
                    result=result,
                    junit=junit,
                    now=self._clock(),
                )
                break
            except PermanentError as exc:
                log.warning("run %s: its end was not recorded: %s", run.id, exc)
                return
            except StorageUnavailable as exc:
                if asyncio.get_running_loop().time() + pause > deadline:
                    log.error("run %s: its end could not be recorded: %s", run.id, exc)
                    return
                log.warning("run %s: recording its end again in %.1fs: %s", run.id, pause, exc)
                await asyncio.sleep(pause)
                pause *= 2
        took = None
        if finished.started_at is not None and finished.finished_at is not None:
            took = (finished.finished_at - finished.started_at).total_seconds()
        self._metrics.run_finished(result=finished.state, seconds=took)
        self._on_finished()

    async def _release(self, run: Run, reason: str, *, not_before: datetime | None = None) -> None:
        with contextlib.suppress(MeshgateError):
            await self._storage.release_run(
                run.id,
                owner=self._owner,
                now=self._clock(),
                reason=reason,
                not_before=not_before,
            )
