"""Environments: acquired by runs (reused, provisioned once, or waited for), released with a
TTL, and torn down by the sweeper.

Guarantees, enforced in SQL so that several replicas keep them:

- One active environment per (workspace, context): the unique ``active_context``. Runs that
  ask for a new context at once provision it exactly once: the first insert wins, every
  other run finds that row and waits for it (``wait``).
- The provisioning or teardown of an environment has one worker at a time under a lease
  (``worker``, ``worker_until``); a run that finds a provisioning environment whose worker's
  lease ran out takes the work over (``provision``).
- A leased environment is never claimed for teardown; the TTL counts from the last release.
- A workspace's ``budget`` of live environments holds across replicas: on PostgreSQL the
  count and the insert happen under a per-workspace advisory lock (SQLite's writes are
  serial anyway).
- A failed teardown stays ``deleting`` with no worker and is claimed again once its backoff
  (``worker_until``) has passed: an Application is never forgotten.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    and_,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from controller.errors import NotFound, StorageError
from controller.models.environments import (
    ACTIVE_STATES,
    Acquired,
    Environment,
    EnvironmentRequest,
)
from controller.storage.database import Database
from controller.storage.tables import environment_leases, environments, runs
from controller.storage.types import require_aware

_e = environments
_l = environment_leases
ABANDONED_GRACE = timedelta(minutes=5)
"""How long a provisioning left by its run (cancelled, or its replica died) waits for another
run of its context to take it over before it is torn down. Its Application, if Argo CD has
one already, is not known to the environment yet: the orphan sweep deletes it."""


class EnvironmentQueries:
    """The environment part of ``Storage`` (mixed in; needs ``_db``)."""

    _db: Database

    async def acquire_environment(
        self,
        request: EnvironmentRequest,
        *,
        run_id: int,
        worker: str,
        now: datetime,
        lease_until: datetime,
    ) -> Acquired:
        """Lease the environment of ``request``'s (workspace, context) for ``run_id``:

        - none active: a new one is created ``provisioning`` with ``worker`` as its worker
          (``provision``);
        - ``ready`` or ``expiring``: leased, its expiry cleared (``ready``);
        - ``provisioning``: leased and waited for (``wait``), or taken over when its
          worker's lease ran out (``provision``);
        - ``deleting``: not leased; ask again once it is gone (``wait``);
        - none active and the workspace's ``request.budget`` used up: nothing is created
          (``full``); the least recently used idle environment, if any, is expired at once
          to make room.
        """
        require_aware(now, "now")
        async with self._db.write(f"acquiring environment {request.context}") as conn:
            found = await _active(conn, request.workspace, request.context)
            if found is None and request.budget is not None and request.provisioner != "static":
                live = await _live_count(conn, request.workspace)
                if live >= request.budget:
                    await _evict_idle(conn, request.workspace, now)
                    return Acquired(None, "full", live=live)
            if found is None:
                env_id = await _create(conn, request, worker, now, lease_until)
                if env_id is not None:
                    await _lease(conn, env_id, run_id, now)
                    return Acquired(await _load(conn, env_id), "provision")
                # Another replica inserted it first (PostgreSQL waited for its commit).
                found = await _active(conn, request.workspace, request.context)
                if found is None:
                    raise StorageError(f"environment {request.context} vanished while created")
            if found.state == "deleting":
                return Acquired(await _load(conn, found.id), "wait")
            await _lease(conn, found.id, run_id, now)
            if request.pull_request and found.pull_request is None:
                await conn.execute(
                    update(_e).where(_e.c.id == found.id).values(pull_request=request.pull_request)
                )
            if found.state in ("ready", "expiring"):
                await conn.execute(
                    update(_e)
                    .where(_e.c.id == found.id)
                    .values(state="ready", expires_at=None, last_used_at=now, updated_at=now)
                )
                return Acquired(await _load(conn, found.id), "ready")
            if found.worker_until is None or found.worker_until < now:
                await conn.execute(
                    update(_e)
                    .where(_e.c.id == found.id)
                    .values(worker=worker, worker_until=lease_until, updated_at=now)
                )
                return Acquired(await _load(conn, found.id), "provision")
            return Acquired(await _load(conn, found.id), "wait")

    async def environment_ready(
        self,
        env_id: int,
        *,
        worker: str,
        routing: dict[str, str],
        application: str | None,
        now: datetime,
        project: str | None = None,
    ) -> Environment:
        """Provisioned: ``application`` (in Argo CD ``project``) is what its teardown
        deletes; ``None`` when there is nothing meshgate must delete."""
        async with self._db.write(f"marking environment {env_id} ready") as conn:
            await _finish_work(
                conn,
                env_id,
                worker,
                state="ready",
                routing=routing,
                application=application,
                project=project,
                ready_at=now,
                last_used_at=now,
                updated_at=now,
            )
            return await _load(conn, env_id)

    async def environment_failed(
        self, env_id: int, *, worker: str, message: str, now: datetime
    ) -> Environment:
        """Provisioning failed: the slot is freed and the leases dropped (the waiting runs
        read the reason from the environment)."""
        async with self._db.write(f"marking environment {env_id} failed") as conn:
            await _finish_work(
                conn,
                env_id,
                worker,
                state="failed",
                active_context=None,
                message=message,
                updated_at=now,
            )
            await conn.execute(delete(_l).where(_l.c.environment_id == env_id))
            return await _load(conn, env_id)

    async def release_environment(self, env_id: int, *, run_id: int, now: datetime) -> None:
        """Drop ``run_id``'s lease; the last one out starts the TTL (or, once its pull
        request closed, expires it at once)."""
        async with self._db.write(f"releasing environment {env_id}") as conn:
            await conn.execute(
                delete(_l).where(_l.c.environment_id == env_id, _l.c.run_id == run_id)
            )
            await _start_ttl_if_unleased(conn, env_id, now)

    async def abandon_environment_work(self, env_id: int, *, worker: str, now: datetime) -> None:
        """``worker`` stops provisioning ``env_id`` without it failing (its run was
        cancelled): it stays ``provisioning`` with nobody on it, and the next run that
        asks, or one waiting for it, takes the provisioning over at once."""
        async with self._db.write(f"handing over the provisioning of environment {env_id}") as conn:
            await conn.execute(
                update(_e)
                .where(_e.c.id == env_id, _e.c.worker == worker, _e.c.state == "provisioning")
                .values(worker=None, worker_until=None, updated_at=now)
            )

    async def renew_environment_work(
        self, env_id: int, *, worker: str, now: datetime, lease_until: datetime
    ) -> bool:
        """Extend ``worker``'s claim on the provisioning or teardown of ``env_id`` (its
        heartbeat); False once the work is no longer ``worker``'s."""
        async with self._db.write(f"renewing the work on environment {env_id}") as conn:
            renewed = await conn.execute(
                update(_e)
                .where(_e.c.id == env_id, _e.c.worker == worker)
                .values(worker_until=lease_until, updated_at=now)
            )
        return bool(renewed.rowcount)

    async def claim_expired_environment(
        self, *, worker: str, now: datetime, lease_until: datetime
    ) -> Environment | None:
        """Take one environment to tear down: past its expiry and held by no run, a
        provisioning that nobody continues and no run waits for, or a teardown whose worker
        stopped or whose retry is due; it becomes ``deleting`` under ``worker``. Every other
        environment past its expiry is marked ``expiring`` on the way (still revived by a
        run that comes first).

        Leases of runs that have ended are dropped first: a run whose replica died holds
        its leases until then, whatever ended it (superseded meanwhile, or given up)."""
        require_aware(now, "now")
        unleased = _e.c.id.not_in(select(_l.c.environment_id))
        expired = and_(
            _e.c.state.in_(("ready", "expiring")),
            _e.c.expires_at.is_not(None),
            _e.c.expires_at <= now,
            unleased,
        )
        abandoned = and_(
            _e.c.state == "provisioning",
            or_(_e.c.worker_until.is_(None), _e.c.worker_until < now),
            _e.c.updated_at < now - ABANDONED_GRACE,
            unleased,
        )
        stalled = and_(_e.c.state == "deleting", _e.c.worker_until < now)
        async with self._db.write("claiming an environment to tear down") as conn:
            await _release_leases_of_ended_runs(conn, now)
            await conn.execute(
                update(_e)
                .where(expired, _e.c.state == "ready")
                .values(state="expiring", updated_at=now)
            )
            candidate = (
                select(_e.c.id).where(or_(expired, abandoned, stalled)).order_by(_e.c.id).limit(1)
            )
            if conn.dialect.name == "postgresql":
                candidate = candidate.with_for_update(skip_locked=True)
            env_id = (await conn.execute(candidate)).scalar_one_or_none()
            if env_id is None:
                return None
            await conn.execute(
                update(_e)
                .where(_e.c.id == env_id)
                .values(state="deleting", worker=worker, worker_until=lease_until, updated_at=now)
            )
            return await _load(conn, env_id)

    async def environment_deleted(self, env_id: int, *, worker: str, now: datetime) -> None:
        async with self._db.write(f"marking environment {env_id} deleted") as conn:
            await _finish_work(
                conn,
                env_id,
                worker,
                state="deleted",
                active_context=None,
                message="",
                deleted_at=now,
                updated_at=now,
            )

    async def environment_teardown_failed(
        self, env_id: int, *, worker: str, message: str, retry_at: datetime, now: datetime
    ) -> Environment:
        """The teardown did not finish: it stays ``deleting`` (holding its context) and is
        claimed again from ``retry_at``."""
        async with self._db.write(f"recording the failed teardown of environment {env_id}") as conn:
            done = await conn.execute(
                update(_e)
                .where(_e.c.id == env_id, _e.c.worker == worker)
                .values(
                    worker=None,
                    worker_until=retry_at,
                    message=message,
                    teardown_attempts=_e.c.teardown_attempts + 1,
                    updated_at=now,
                )
            )
            if not done.rowcount:
                raise StorageError(f"environment {env_id} is not worked on by {worker}")
            return await _load(conn, env_id)

    async def request_environment_close(
        self,
        *,
        workspace: str,
        contexts: Sequence[str] = (),
        pull_request: str | None = None,
        now: datetime,
    ) -> int:
        """Ask the active environments of ``contexts``, and those serving ``pull_request``,
        to go once no run holds them (the pull request closed); how many were asked.
        Idempotent."""
        async with self._db.write(f"closing environments in {workspace}") as conn:
            return await close_environments(conn, workspace, contexts, pull_request, now)

    async def active_environment_applications(self, *, workspace: str) -> dict[str, str | None]:
        """Context → Application of every active environment of ``workspace`` (``None``
        while provisioning, or when meshgate made none): what the orphan sweep keeps."""
        statement = select(_e.c.context, _e.c.application).where(
            _e.c.workspace == workspace, _e.c.active_context.is_not(None)
        )
        async with self._db.read(f"listing the applications of {workspace}") as conn:
            rows = (await conn.execute(statement)).all()
            return {str(context): app for context, app in rows}

    async def get_environment(self, env_id: int) -> Environment:
        async with self._db.read(f"reading environment {env_id}") as conn:
            return await _load(conn, env_id)

    async def list_environments(
        self,
        *,
        workspace: str,
        active_only: bool = False,
        context: str | None = None,
        limit: int = 200,
    ) -> list[Environment]:
        """Newest first; only those of ``context`` when given."""
        statement = select(_e).where(_e.c.workspace == workspace)
        if context is not None:
            statement = statement.where(_e.c.context == context)
        if active_only:
            statement = statement.where(_e.c.active_context.is_not(None))
        statement = statement.order_by(_e.c.id.desc()).limit(limit)
        async with self._db.read(f"listing the environments of {workspace}") as conn:
            rows = (await conn.execute(statement)).all()
            return [_from_row(row, await _lease_ids(conn, row.id)) for row in rows]


async def close_environments(
    conn: AsyncConnection,
    workspace: str,
    contexts: Sequence[str],
    pull_request: str | None,
    now: datetime,
) -> int:
    """``request_environment_close`` inside a caller's transaction (intake records a closed
    pull request and its close in one commit). An idle environment expires now; a held
    one when its last run releases it."""
    which: list[ColumnElement[bool]] = []
    if contexts:
        which.append(_e.c.active_context.in_(list(contexts)))
    if pull_request:
        which.append(_e.c.pull_request == pull_request)
    if not which:
        return 0
    chosen = and_(
        _e.c.workspace == workspace,
        _e.c.active_context.is_not(None),
        or_(*which),
        _e.c.close_requested_at.is_(None),
    )
    idle = and_(_e.c.state == "ready", _e.c.id.not_in(select(_l.c.environment_id)))
    done = await conn.execute(
        update(_e)
        .where(chosen)
        .values(
            close_requested_at=now,
            expires_at=case((idle, now), else_=_e.c.expires_at),
            updated_at=now,
        )
    )
    return int(done.rowcount or 0)


async def release_leases_of_runs(
    conn: AsyncConnection, run_ids: Sequence[int], now: datetime
) -> None:
    """Drop every environment lease of ``run_ids`` (runs that ended without their runner:
    interrupted too often), as each run's own release would have."""
    if not run_ids:
        return
    held = await conn.execute(
        select(_l.c.environment_id).where(_l.c.run_id.in_(run_ids)).distinct()
    )
    env_ids = sorted(held.scalars())
    await conn.execute(delete(_l).where(_l.c.run_id.in_(run_ids)))
    for env_id in env_ids:
        await _start_ttl_if_unleased(conn, env_id, now)


async def _release_leases_of_ended_runs(conn: AsyncConnection, now: datetime) -> None:
    ended = await conn.execute(
        select(_l.c.run_id)
        .join(runs, runs.c.id == _l.c.run_id)
        .where(runs.c.state.not_in(("queued", "running")))
        .distinct()
    )
    await release_leases_of_runs(conn, list(ended.scalars()), now)


async def _start_ttl_if_unleased(conn: AsyncConnection, env_id: int, now: datetime) -> None:
    """The last lease out starts the TTL (at once for a closed pull request's)."""
    row = (await conn.execute(select(_e).where(_e.c.id == env_id))).one_or_none()
    if row is None or row.state != "ready" or await _lease_ids(conn, env_id):
        return
    ttl = timedelta(seconds=0 if row.close_requested_at else row.ttl_seconds)
    await conn.execute(
        update(_e)
        .where(_e.c.id == env_id)
        .values(last_used_at=now, expires_at=now + ttl, updated_at=now)
    )


async def _live_count(conn: AsyncConnection, workspace: str) -> int:
    if conn.dialect.name == "postgresql":
        # Serializes the budget check of one workspace across replicas until commit.
        await conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
            {"key": f"meshgate-environments:{workspace}"},
        )
    counted = await conn.execute(
        select(func.count())
        .select_from(_e)
        .where(
            _e.c.workspace == workspace,
            _e.c.active_context.is_not(None),
            _e.c.provisioner != "static",
        )
    )
    return int(counted.scalar_one())


async def _evict_idle(conn: AsyncConnection, workspace: str, now: datetime) -> None:
    """Expire the least recently used environment of ``workspace`` that no run holds, so
    that a run waiting for room gets it soon; nothing while one is already on its way out
    (a waiting run asks again every second, and must not empty the workspace)."""
    workspace_live = and_(
        _e.c.workspace == workspace,
        _e.c.active_context.is_not(None),
        _e.c.provisioner != "static",
    )
    idle = _e.c.id.not_in(select(_l.c.environment_id))
    going = select(_e.c.id).where(
        workspace_live,
        or_(
            _e.c.state.in_(("expiring", "deleting")),
            and_(_e.c.state == "ready", _e.c.expires_at <= now, idle),
        ),
    )
    if (await conn.execute(going.limit(1))).first() is not None:
        return
    candidate = (
        select(_e.c.id)
        .where(workspace_live, _e.c.state == "ready", idle)
        .order_by(_e.c.last_used_at, _e.c.id)
        .limit(1)
    )
    env_id = (await conn.execute(candidate)).scalar_one_or_none()
    if env_id is not None:
        await conn.execute(
            update(_e)
            .where(_e.c.id == env_id)
            .values(expires_at=now, message="expired early to make room", updated_at=now)
        )


async def _active(conn: AsyncConnection, workspace: str, context: str) -> Row[Any] | None:
    statement = select(_e).where(_e.c.workspace == workspace, _e.c.active_context == context)
    if conn.dialect.name == "postgresql":
        statement = statement.with_for_update()
    row = (await conn.execute(statement)).one_or_none()
    if row is not None and row.state not in ACTIVE_STATES:
        raise StorageError(f"environment {row.id} holds its slot in state {row.state}")
    return row


async def _create(
    conn: AsyncConnection,
    request: EnvironmentRequest,
    worker: str,
    now: datetime,
    lease_until: datetime,
) -> int | None:
    """The new environment's id, or ``None`` when the slot is taken."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    created = await conn.execute(
        dialect.insert(_e)
        .values(
            workspace=request.workspace,
            context=request.context,
            active_context=request.context,
            template=request.template,
            provisioner=request.provisioner,
            integration=request.integration,
            pull_request=request.pull_request,
            state="provisioning",
            ttl_seconds=request.ttl_seconds,
            routing={},
            message="",
            worker=worker,
            worker_until=lease_until,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=[_e.c.workspace, _e.c.active_context])
        .returning(_e.c.id)
    )
    env_id: int | None = created.scalar_one_or_none()
    return env_id


async def _lease(conn: AsyncConnection, env_id: int, run_id: int, now: datetime) -> None:
    exists = await conn.execute(
        select(_l.c.run_id).where(_l.c.environment_id == env_id, _l.c.run_id == run_id)
    )
    if exists.first() is None:
        await conn.execute(insert(_l).values(environment_id=env_id, run_id=run_id, acquired_at=now))


async def _finish_work(conn: AsyncConnection, env_id: int, worker: str, **values: Any) -> None:
    done = await conn.execute(
        update(_e)
        .where(_e.c.id == env_id, _e.c.worker == worker)
        .values(worker=None, worker_until=None, **values)
    )
    if not done.rowcount:
        raise StorageError(f"environment {env_id} is not worked on by {worker}")


async def _lease_ids(conn: AsyncConnection, env_id: int) -> tuple[int, ...]:
    rows = await conn.execute(
        select(_l.c.run_id).where(_l.c.environment_id == env_id).order_by(_l.c.run_id)
    )
    return tuple(rows.scalars())


async def _load(conn: AsyncConnection, env_id: int) -> Environment:
    row = (await conn.execute(select(_e).where(_e.c.id == env_id))).one_or_none()
    if row is None:
        raise NotFound(f"environment {env_id} does not exist")
    return _from_row(row, await _lease_ids(conn, env_id))


def _from_row(row: Row[Any], leases: tuple[int, ...]) -> Environment:
    return Environment(
        id=row.id,
        workspace=row.workspace,
        context=row.context,
        template=row.template,
        provisioner=row.provisioner,
        state=row.state,
        ttl_seconds=row.ttl_seconds,
        routing=dict(row.routing),
        application=row.application,
        integration=row.integration,
        project=row.project,
        message=row.message,
        created_at=row.created_at,
        ready_at=row.ready_at,
        last_used_at=row.last_used_at,
        expires_at=row.expires_at,
        deleted_at=row.deleted_at,
        pull_request=row.pull_request,
        close_requested_at=row.close_requested_at,
        teardown_attempts=row.teardown_attempts,
        worker_until=row.worker_until,
        leases=leases,
    )
