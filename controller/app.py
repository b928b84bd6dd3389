"""Composition root of the server: builds every collaborator once and owns the lifespan.

Nothing else in meshgate constructs long-lived services; they receive what they need as
keyword-only arguments from here. ``build_controller`` is async because opening storage
runs migrations.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from controller.clients.argocd import ArgoCDClient
from controller.clients.gitea import GiteaClient
from controller.concurrency import BackgroundTasks, WakeableJob
from controller.configsync.push import ConfigPushTrigger
from controller.configsync.review import ConfigReview
from controller.configsync.service import ConfigAttempt, ConfigSync
from controller.configsync.sources import ConfigSource, FolderSource, GitSource
from controller.configsync.validation import ConfigValidator
from controller.environments.argocd_provisioner import ArgoCDProvisioner
from controller.environments.service import Environments, EnvironmentSettings
from controller.environments.sweeper import EnvironmentSweeper, SweeperSettings
from controller.errors import MeshgateError, StorageUnavailable
from controller.filewatch import watch_folder
from controller.gitrepo import GitMirror
from controller.intake.manual_runs import ManualRuns
from controller.intake.service import Intake
from controller.integrations import IntegrationClients
from controller.loader import ConfigLoader
from controller.matcher.service import Matcher
from controller.metrics import Metrics
from controller.models.deliveries import RecordedDelivery
from controller.models.snapshot import ConfigSnapshot
from controller.runner.service import Runner, RunnerSettings
from controller.scheduler import Scheduler
from controller.secretrefs import SecretResolver
from controller.settings import Settings
from controller.statuses.access import GiteaAccess
from controller.statuses.config_statuses import ConfigStatuses
from controller.statuses.poster import StatusPoster
from controller.statuses.retry_policy import PosterSettings
from controller.statuses.watchdog import StatusWatchdog
from controller.storage import Storage
from controller.web.config_status import config_status_routes
from controller.web.config_views import config_view_routes
from controller.web.deliveries import delivery_routes
from controller.web.environments import environment_routes
from controller.web.errors import EXCEPTION_HANDLERS
from controller.web.explain import explain_routes
from controller.web.health import health_routes
from controller.web.metrics_route import metrics_routes
from controller.web.openapi import openapi_routes
from controller.web.pages.history import history_routes
from controller.web.pages.operations import operations_routes
from controller.web.pages.rendering import Pages
from controller.web.pages.run_page import run_page_routes
from controller.web.read_access import ReadAccess, login_routes
from controller.web.request_ids import RequestIds
from controller.web.runs import run_routes
from controller.web.statuses import status_routes
from controller.web.webhooks import webhook_routes

log = logging.getLogger(__name__)


def build_source(settings: Settings) -> ConfigSource:
    if settings.config_source_kind == "git":
        mirror = GitMirror(
            url=settings.config_repo,
            branch=settings.config_branch,
            workdir=settings.data_dir / "config-repo",
        )
        return GitSource(
            mirror=mirror,
            url=settings.config_repo,
            branch=settings.config_branch,
            subpath=settings.config_path,
        )
    return FolderSource(root=Path(settings.config_repo), subpath=settings.config_path)


class Controller:
    """The running server's collaborators and its ASGI app."""

    def __init__(
        self,
        *,
        settings: Settings,
        storage: Storage,
        sync: ConfigSync,
        intake: Intake,
        matcher: Matcher,
        manual_runs: ManualRuns,
        background: BackgroundTasks,
        runner: Runner | None,
        poster: StatusPoster | None,
        watchdog: StatusWatchdog,
        sweeper: EnvironmentSweeper,
        sweep: WakeableJob,
        metrics: Metrics,
        owner: str,
        closers: Sequence[Callable[[], Awaitable[None]]] = (),
    ) -> None:
        """``sweep`` runs ``sweeper.sweep`` (woken by releases too); ``closers`` release
        what the collaborators share (API client pools) after the background tasks have
        stopped. ``owner`` names this process in the database (leases, job ticks)."""
        self.settings = settings
        self.owner = owner
        self._draining = False
        self.storage = storage
        self.sync = sync
        self.runner = runner
        self.poster = poster
        self._watchdog = watchdog
        self._sweeper = sweeper
        self._sweep = sweep
        self._closers = tuple(closers)
        self._scheduler = Scheduler()
        self._background = background
        self._closed = False
        pages = Pages(banner=lambda: config_banner(sync))
        # Read tokens turn read access control on; API tokens then read too.
        readers = (*settings.read_tokens, *settings.api_tokens) if settings.read_tokens else ()
        self.app = Starlette(
            routes=[
                *health_routes(
                    readiness=[self._not_draining, self._storage_ready, self._config_ready]
                ),
                *config_status_routes(
                    sync=sync, poll_interval_seconds=settings.poll_interval.total_seconds()
                ),
                *webhook_routes(intake=intake, metrics=metrics),
                *metrics_routes(storage=storage, metrics=metrics),
                *delivery_routes(storage=storage),
                *run_routes(
                    storage=storage,
                    manual_runs=manual_runs,
                    api_tokens=settings.api_tokens,
                    on_queued=runner.wake if runner is not None else lambda: None,
                ),
                *status_routes(storage=storage),
                *environment_routes(storage=storage),
                *run_page_routes(
                    storage=storage,
                    pages=pages,
                    config=lambda: sync.live,
                    manual_runs=manual_runs,
                    api_tokens=settings.api_tokens,
                    on_queued=runner.wake if runner is not None else lambda: None,
                ),
                *openapi_routes(),
                *login_routes(tokens=readers, pages=pages),
                *history_routes(storage=storage, pages=pages),
                *operations_routes(
                    storage=storage,
                    pages=pages,
                    sync=sync,
                    poll_interval_seconds=settings.poll_interval.total_seconds(),
                ),
                Mount("/static", StaticFiles(directory=STATIC), name="static"),
                *explain_routes(config=lambda: sync.live, matcher=matcher),
                *config_view_routes(config=lambda: sync.live),
            ],
            exception_handlers=dict(EXCEPTION_HANDLERS),
            middleware=[
                Middleware(RequestIds),
                Middleware(ReadAccess, tokens=readers),
            ],
            lifespan=self._lifespan,
        )

    async def close(self) -> None:
        """Release storage; idempotent, and a no-op (no await) once closed.

        The lifespan closes on shutdown. Callers also close after the server stops, for the
        case where it never started; by then uvicorn may be re-raising the signal that
        stopped it, so a second close must not await anything.
        """
        if not self._closed:
            self._closed = True
            await self.storage.close()

    async def drain(self) -> None:
        """The first step of a graceful stop (SIGTERM), while HTTP still answers: readiness
        turns false (the Service stops sending traffic), no new run is claimed, and the runs
        in progress get up to ``shutdown_grace`` to finish. What is still running after
        that is handed back to the queue by the lifespan's shutdown, for another replica
        or the next start. Webhooks arriving meanwhile are still accepted."""
        self._draining = True
        log.info(
            "draining: not ready, claiming no runs, up to %ss for runs in progress",
            self.settings.shutdown_grace.total_seconds(),
        )
        if self.runner is not None:
            await self.runner.drain(grace=self.settings.shutdown_grace)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self._scheduler.every(
            self.settings.poll_interval, self._poll, name="config-poll", start_now=True
        )
        self._scheduler.start()
        source = self.sync.source
        if isinstance(source, FolderSource):
            self._background.spawn(self._watch(source.root), name="config-folder-watch")
        if self.runner is not None:
            self._background.spawn(self.runner.run_forever(), name="runner")
        self._scheduler.every(
            WATCHDOG_INTERVAL,
            self._once_per_tick("status-watchdog", WATCHDOG_INTERVAL, self._watchdog.tick),
            name="status-watchdog",
        )
        if self.poster is not None:
            self._background.spawn(self.poster.run_forever(), name="status-poster")
            self._scheduler.every(
                POSTER_INTERVAL,
                self._once_per_tick("status-poster", POSTER_INTERVAL, self._wake_poster),
                name="status-poster",
            )
        sweep_every = self.settings.environment_sweep_interval
        self._scheduler.every(
            sweep_every,
            self._once_per_tick("environment-sweep", sweep_every, self._wake_sweep),
            name="environment-sweep",
        )
        orphans_every = self.settings.orphan_sweep_interval
        self._scheduler.every(
            orphans_every,
            self._once_per_tick("orphan-sweep", orphans_every, self._sweeper.sweep_orphans),
            name="orphan-sweep",
        )
        try:
            yield
        finally:
            self._scheduler.shutdown()
            if self.runner is not None:
                await self.runner.aclose()
            # The poster's loop is cancelled with the other background tasks before its
            # clients close; a post cut short keeps its lease and is posted after a restart.
            await self._background.aclose()
            if self.poster is not None:
                await self.poster.aclose()
            for closer in self._closers:
                await closer()
            await self.close()

    async def _poll(self) -> None:
        await self.sync.refresh(reason="poll")

    async def _wake_poster(self) -> None:
        if self.poster is not None:
            self.poster.wake()

    async def _wake_sweep(self) -> None:
        self._sweep.wake()

    def _once_per_tick(
        self, name: str, every: timedelta, work: Callable[[], Awaitable[object]]
    ) -> Callable[[], Awaitable[None]]:
        """``work`` done by whichever replica claims the tick (``Storage.claim_tick``).

        The config poll is not wrapped (each replica keeps its own config). What a replica
        wakes itself for (its poster after a run ends, its sweep after a release) is not a
        tick either: each post and each teardown is claimed on its own."""

        async def tick() -> None:
            try:
                mine = await self.storage.claim_tick(
                    name, owner=self.owner, now=datetime.now(UTC), every=every
                )
            except StorageUnavailable as exc:
                log.warning("%s: cannot claim this tick: %s", name, exc)
                return
            if mine:
                await work()

        return tick

    async def _watch(self, root: Path) -> None:
        """Reload as soon as files change in a local config folder (development mode)."""
        async with contextlib.aclosing(watch_folder(root)) as batches:
            async for changed in batches:
                log.info("config folder changed (%d paths); reloading", len(changed))
                await self.sync.refresh(reason="file change")

    async def _not_draining(self) -> str | None:
        return "shutting down" if self._draining else None

    async def _storage_ready(self) -> str | None:
        try:
            await self.storage.ping()
        except StorageUnavailable as exc:
            return f"database unavailable: {exc}"
        return None

    async def _config_ready(self) -> str | None:
        if self.sync.live is not None:
            return None
        status = self.sync.status()
        if status.source_failure is not None:
            return f"no valid config loaded yet: {status.source_failure.message}"
        if status.last_attempt is not None:
            attempt = status.last_attempt
            return (
                f"no valid config loaded yet: revision {attempt.revision} "
                f"has {len(attempt.problems)} problems"
            )
        return "config not loaded yet"


STATIC = Path(__file__).parent / "web" / "static"


def config_banner(sync: ConfigSync) -> str | None:
    """What every page says at its top when the config repo's latest revision is not the
    one in force (invalid, or the source cannot be read)."""
    status = sync.status()
    serving = f"serving {status.live.revision[:12]}" if status.live else "serving nothing yet"
    if status.source_failure is not None:
        return f"The config source cannot be read ({status.source_failure.message}); {serving}."
    attempt = status.last_attempt
    if attempt is not None and not attempt.valid:
        count = len(attempt.problems)
        return (
            f"The latest config revision {attempt.revision[:12]} is invalid "
            f"({count} problem{'s' if count != 1 else ''}); {serving}."
        )
    return None


POSTER_INTERVAL = timedelta(seconds=5)
# A claimed status post waits for a free slot, then for Gitea (10 s timeout), then for its
# outcome to be recorded with the next claim: a lease shorter than that lets another replica
# post the same status again while the first post is still on its way.
MIN_STATUS_LEASE = timedelta(seconds=30)
WATCHDOG_INTERVAL = timedelta(seconds=30)

# Below this, full collections are short enough not to matter, and a collection per applied
# config would cost more than it saves (a test process applies hundreds of small configs).
SETTLE_HEAP_DOCUMENTS = 1000


def settle_heap() -> None:
    """Collect what the previous config left behind, then exclude everything alive now (the
    new config, its indexes) from future garbage collections.

    A large config is hundreds of thousands of long-lived objects; left in the collector's
    oldest generation, every full collection walks them all, and those pauses (about 300 ms
    with 10,000 rules) land on whichever webhook requests are in flight. Frozen objects are
    still freed by reference counting; ``unfreeze`` first lets the collection reclaim the
    previous config's cycles.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def _status_poster(
    settings: Settings, *, storage: Storage, access: GiteaAccess, owner: str, metrics: Metrics
) -> StatusPoster | None:
    if settings.status_concurrency == 0:
        return None
    return StatusPoster(
        storage=storage,
        access=access,
        public_url=settings.effective_public_url,
        owner=owner,
        settings=PosterSettings(
            concurrency=settings.status_concurrency,
            max_delay=settings.status_max_backoff,
            retry_for=settings.status_retry_for,
            lease=max(settings.lease, MIN_STATUS_LEASE),
        ),
        metrics=metrics,
    )


async def build_controller(
    settings: Settings,
    *,
    environ: Mapping[str, str],
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Controller:
    """Open storage (running migrations) and wire the server; raise ``MeshgateError``.

    ``environ`` is where ``{env: NAME}`` secret references are read (the process environment,
    passed in by the CLI). ``clock`` is what environments' TTLs are measured with (tests
    move it on by hours).

    A data directory meshgate creates is private (0700): the Git clone inside keeps the
    repository URL, credentials included, in its ``.git/config``. An existing directory is
    left as the operator made it.
    """
    if not settings.data_dir.exists():
        settings.data_dir.mkdir(parents=True, mode=0o700)
    storage = await Storage.open(settings.effective_database_url, exclusive=True)
    try:
        matcher = Matcher()

        def config_applied(snapshot: ConfigSnapshot) -> None:
            matcher.prepare(snapshot)
            if len(snapshot.documents) >= SETTLE_HEAP_DOCUMENTS:
                settle_heap()

        background = BackgroundTasks()
        secrets = SecretResolver(environ=environ)
        owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        git_repo_url = settings.config_repo if settings.config_source_kind == "git" else ""
        access = GiteaAccess(
            config=lambda: sync.live,
            secrets=secrets,
            client_factory=lambda url: GiteaClient(
                base_url=url, max_connections=max(settings.status_concurrency, 1)
            ),
        )
        metrics = Metrics()
        poster = _status_poster(
            settings, storage=storage, access=access, owner=owner, metrics=metrics
        )
        wake_poster = poster.wake if poster is not None else lambda: None
        config_statuses = ConfigStatuses(
            storage=storage,
            config=lambda: sync.live,
            repo_url=git_repo_url,
            public_url=settings.effective_public_url,
            on_desired=wake_poster,
        )

        async def config_checked(attempt: ConfigAttempt) -> None:
            await config_statuses.revision_checked(
                revision=attempt.revision,
                problems=attempt.problems,
                document_count=attempt.document_count,
            )

        loader, validator = ConfigLoader(), ConfigValidator()
        sync = ConfigSync(
            source=build_source(settings),
            loader=loader,
            validator=validator,
            storage=storage,
            on_applied=config_applied,
            on_checked=config_checked if poster is not None else None,
        )
        runner = None
        argocd = IntegrationClients[ArgoCDClient](
            provider="argocd",
            config=lambda: sync.live,
            secrets=secrets,
            client_factory=lambda url: ArgoCDClient(base_url=url),
        )
        closers: list[Callable[[], Awaitable[None]]] = [argocd.aclose]
        provisioner = ArgoCDProvisioner(client_for=argocd.client_for)
        sweeper = EnvironmentSweeper(
            storage=storage,
            argocd=provisioner,
            config=lambda: sync.live,
            worker=owner,
            settings=SweeperSettings(
                orphan_grace=settings.orphan_grace, worker_lease=settings.lease
            ),
            clock=clock,
        )
        sweep = WakeableJob(sweeper.sweep, name="environment-sweep", background=background)
        if settings.runner_concurrency > 0:
            runner = Runner(
                storage=storage,
                config=lambda: sync.live,
                config_root=lambda: sync.live_root,
                secrets=secrets,
                owner=owner,
                settings=RunnerSettings(
                    concurrency=settings.runner_concurrency,
                    lease=settings.lease,
                    heartbeat=settings.lease / 4,
                    max_attempts=settings.run_attempts,
                ),
                on_finished=wake_poster,
                pinned_config=sync.snapshot_at,
                metrics=metrics,
                environments=Environments(
                    storage=storage,
                    argocd=provisioner,
                    worker=owner,
                    settings=EnvironmentSettings(
                        budget=settings.environment_budget, worker_lease=settings.lease
                    ),
                    clock=clock,
                    wake_sweeper=sweep.wake,
                ),
            )
        push_trigger = ConfigPushTrigger(
            sync=sync,
            repo_url=git_repo_url,
            branch=settings.config_branch,
            spawn=lambda refresh: background.spawn(refresh, name="config-push-refresh"),
        )
        review = ConfigReview(
            sync=sync,
            loader=loader,
            validator=validator,
            statuses=config_statuses,
            storage=storage,
            repo_url=git_repo_url if poster is not None else "",
            branch=settings.config_branch,
            spawn=lambda job: background.spawn(job, name="config-review"),
            on_desired=wake_poster,
        )

        def recorded(delivery: RecordedDelivery) -> None:
            push_trigger(delivery)
            review(delivery)
            if delivery.delivery.match is not None and delivery.delivery.match.closes_pull_request:
                sweep.wake()
            if delivery.runs:
                wake_poster()
                if runner is not None:
                    runner.wake()

        intake = Intake(
            storage=storage,
            config=lambda: sync.live,
            secrets=secrets,
            matcher=matcher,
            on_recorded=recorded,
        )
        return Controller(
            settings=settings,
            storage=storage,
            sync=sync,
            intake=intake,
            matcher=matcher,
            manual_runs=ManualRuns(storage=storage, config=lambda: sync.live),
            background=background,
            runner=runner,
            poster=poster,
            watchdog=StatusWatchdog(
                storage=storage, queue_timeout=settings.run_queue_timeout, on_change=wake_poster
            ),
            sweeper=sweeper,
            sweep=sweep,
            metrics=metrics,
            owner=owner,
            closers=closers,
        )
    except MeshgateError:
        await storage.close()
        raise
