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
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, delete, insert, or_, select, update
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
from controller.storage.tables import environment_leases, environments
from controller.storage.types import require_aware

_e = environments
_l = environment_leases


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
        - ``deleting``: not leased; ask again once it is gone (``wait``).
        """
        require_aware(now, "now")
        async with self._db.write(f"acquiring environment {request.context}") as conn:
            found = await _active(conn, request.workspace, request.context)
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
            if found.state in ("ready", "expiring"):
                await conn.execute(
                    update(_e)
                    .where(_e.c.id == found.id)
                    .values(state="ready", expires_at=None, updated_at=now)
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
    ) -> Environment:
        async with self._db.write(f"marking environment {env_id} ready") as conn:
            await _finish_work(
                conn,
                env_id,
                worker,
                state="ready",
                routing=routing,
                application=application,
                ready_at=now,
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
        """Drop ``run_id``'s lease; the last one out starts the TTL."""
        async with self._db.write(f"releasing environment {env_id}") as conn:
            await conn.execute(
                delete(_l).where(_l.c.environment_id == env_id, _l.c.run_id == run_id)
            )
            row = (await conn.execute(select(_e).where(_e.c.id == env_id))).one_or_none()
            if row is None or row.state != "ready":
                return
            left = await _lease_ids(conn, env_id)
            if not left:
                await conn.execute(
                    update(_e)
                    .where(_e.c.id == env_id)
                    .values(
                        last_used_at=now,
                        expires_at=now + timedelta(seconds=row.ttl_seconds),
                        updated_at=now,
                    )
                )

    async def claim_expired_environment(
        self, *, worker: str, now: datetime, lease_until: datetime
    ) -> Environment | None:
        """Take one environment to tear down: ready, past its expiry and held by no run, or
        a teardown whose worker stopped; it becomes ``deleting`` under ``worker``."""
        held = select(_l.c.environment_id)
        expired = and_(
            _e.c.state.in_(("ready", "expiring")),
            _e.c.expires_at.is_not(None),
            _e.c.expires_at <= now,
            _e.c.id.not_in(held),
        )
        stalled = and_(_e.c.state == "deleting", _e.c.worker_until < now)
        async with self._db.write("claiming an environment to tear down") as conn:
            candidate = select(_e.c.id).where(or_(expired, stalled)).order_by(_e.c.id).limit(1)
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
                deleted_at=now,
                updated_at=now,
            )

    async def get_environment(self, env_id: int) -> Environment:
        async with self._db.read(f"reading environment {env_id}") as conn:
            return await _load(conn, env_id)

    async def list_environments(
        self, *, workspace: str, active_only: bool = False, limit: int = 200
    ) -> list[Environment]:
        statement = select(_e).where(_e.c.workspace == workspace)
        if active_only:
            statement = statement.where(_e.c.active_context.is_not(None))
        statement = statement.order_by(_e.c.id.desc()).limit(limit)
        async with self._db.read(f"listing the environments of {workspace}") as conn:
            rows = (await conn.execute(statement)).all()
            return [_from_row(row, await _lease_ids(conn, row.id)) for row in rows]


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
        message=row.message,
        created_at=row.created_at,
        ready_at=row.ready_at,
        last_used_at=row.last_used_at,
        expires_at=row.expires_at,
        deleted_at=row.deleted_at,
        leases=leases,
    )
