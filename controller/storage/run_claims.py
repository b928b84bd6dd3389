"""Claiming runs: who runs what, until when, and how a run ends.

A runner *claims* a run for a lease (``lease_owner``, ``lease_expires_at``) and renews it with
``heartbeat_run`` while the run goes on. A run whose lease ran out (its runner crashed) is
claimable again, up to ``max_attempts`` claims in all; past that it ends ``error``. Every
change names its owner, so a runner that lost its claim changes nothing: ``heartbeat_run``
then answers the run's current state (``superseded`` by a newer run of its lane, or taken
over), and the runner stops.

On PostgreSQL the candidate row is locked with ``FOR UPDATE SKIP LOCKED``, so replicas claim
different runs without waiting on each other; on SQLite the write transaction already holds
the database's one write lock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from controller.errors import NotFound, StorageError
from controller.models.runs import ENDED_STATES, Run, RunAttempt, RunState
from controller.storage.database import Database
from controller.storage.environments import release_leases_of_runs
from controller.storage.runs import run_from_row
from controller.storage.tables import (
    LEASE_OWNER_MAX,
    run_attempts,
    run_progress,
    run_results,
    runs,
)
from controller.storage.types import require_aware

FINAL_STATES = ("passed", "failed", "error")
_t = runs


class RunClaimQueries:
    """The claim part of ``Storage`` (mixed in; needs ``_db``)."""

    _db: Database

    async def claim_run(
        self, *, owner: str, now: datetime, lease_until: datetime, max_attempts: int
    ) -> Run | None:
        """Claim the oldest claimable run for ``owner`` until ``lease_until``, or ``None``.

        Running runs whose lease expired and that were claimed ``max_attempts`` times end
        ``error`` first, in the same transaction: their environment leases are dropped
        (so the TTL runs) and their status is marked for posting (the ``pending`` posted
        for them is resolved as ``error``)."""
        _check_owner(owner)
        require_aware(now, "now")
        require_aware(lease_until, "lease_until")
        async with self._db.write("claiming a run") as conn:
            abandoned = await conn.execute(
                update(_t)
                .where(_expired(now), _t.c.attempt >= max_attempts)
                .values(
                    state="error",
                    lease_owner=None,
                    lease_expires_at=None,
                    finished_at=now,
                    updated_at=now,
                    message=f"interrupted {max_attempts} times (its runner stopped); not retried",
                    status_dirty=_t.c.status_sha.is_not(None),
                )
                .returning(_t.c.id)
            )
            abandoned_ids = list(abandoned.scalars())
            if abandoned_ids:
                await conn.execute(
                    run_progress.delete().where(run_progress.c.run_id.in_(abandoned_ids))
                )
                await release_leases_of_runs(conn, abandoned_ids, now)
                await _end_attempts(conn, abandoned_ids, now=now, **INTERRUPTED)
            run_id = await _next_claimable(conn, now)
            if run_id is None:
                return None
            await _end_attempts(conn, [run_id], now=now, **INTERRUPTED)
            row = (
                await conn.execute(
                    update(_t)
                    .where(_t.c.id == run_id)
                    .values(
                        state="running",
                        lease_owner=owner,
                        lease_expires_at=lease_until,
                        attempt=_t.c.attempt + 1,
                        started_at=now,
                        updated_at=now,
                    )
                    .returning(*_t.c)
                )
            ).one()
            await conn.execute(
                insert(run_attempts).values(
                    run_id=run_id, attempt=row.attempt, owner=owner, started_at=now
                )
            )
        return run_from_row(row)

    async def heartbeat_run(
        self, run_id: int, *, owner: str, now: datetime, lease_until: datetime
    ) -> RunState:
        """Extend ``owner``'s lease; the run's state (``running`` while the claim holds)."""
        async with self._db.write(f"renewing the claim of run {run_id}") as conn:
            renewed = await conn.execute(
                update(_t)
                .where(_t.c.id == run_id, _t.c.lease_owner == owner, _t.c.state == "running")
                .values(lease_expires_at=lease_until, updated_at=now)
            )
            if renewed.rowcount:
                return "running"
            state = await _state(conn, run_id)
        return "cancelled" if state == "running" else state

    async def note_running_run(self, run_id: int, *, message: str, now: datetime) -> None:
        """Say what a running run is waiting for (an environment of a full workspace):
        shown on the run until it moves on."""
        async with self._db.write(f"noting why run {run_id} waits") as conn:
            await conn.execute(
                update(_t)
                .where(_t.c.id == run_id, _t.c.state == "running")
                .values(message=message, updated_at=now)
            )

    async def record_progress(
        self, run_id: int, *, owner: str, flows: list[dict[str, Any]], now: datetime
    ) -> bool:
        """Store what ``owner``'s running run has finished so far (replacing the previous
        snapshot); False, storing nothing, once the run is no longer its running run."""
        async with self._db.write(f"recording the progress of run {run_id}") as conn:
            mine = await conn.execute(
                select(_t.c.id).where(
                    _t.c.id == run_id, _t.c.lease_owner == owner, _t.c.state == "running"
                )
            )
            if mine.first() is None:
                return False
            done = await conn.execute(
                update(run_progress)
                .where(run_progress.c.run_id == run_id)
                .values(flows=flows, updated_at=now)
            )
            if not done.rowcount:
                await conn.execute(
                    insert(run_progress).values(run_id=run_id, flows=flows, updated_at=now)
                )
            return True

    async def run_progress(self, run_id: int) -> list[dict[str, Any]]:
        """The flows a running run has finished so far (``[]`` before the first, and once
        the run ended: its result holds them then)."""
        async with self._db.read(f"reading the progress of run {run_id}") as conn:
            flows = (
                await conn.execute(
                    select(run_progress.c.flows).where(run_progress.c.run_id == run_id)
                )
            ).scalar_one_or_none()
        return list(flows or [])

    async def finish_run(
        self,
        run_id: int,
        *,
        owner: str,
        state: RunState,
        message: str,
        result: dict[str, Any],
        junit: bytes,
        now: datetime,
    ) -> Run:
        """End ``owner``'s run as ``state`` with its evidence. A run superseded meanwhile
        keeps that state, with the evidence of how far it got; a run claimed by another
        owner is left alone (``StorageError``)."""
        if state not in FINAL_STATES:
            raise StorageError(f"a run ends passed, failed or error, not {state!r}")
        async with self._db.write(f"finishing run {run_id}") as conn:
            row = (
                await conn.execute(select(_t).where(_t.c.id == run_id).with_for_update())
            ).one_or_none()
            if row is None:
                raise NotFound(f"run {run_id} does not exist")
            if row.lease_owner != owner:
                raise StorageError(f"run {run_id} is not claimed by {owner}")
            final = state if row.state == "running" else row.state
            await conn.execute(
                update(_t)
                .where(_t.c.id == run_id)
                .values(
                    state=final,
                    lease_owner=None,
                    lease_expires_at=None,
                    finished_at=now,
                    updated_at=now,
                    message=message if final == state else row.message or message,
                    status_dirty=row.status_sha is not None,
                )
            )
            await _end_attempts(
                conn, [run_id], now=now, outcome="finished", note=final, owner=owner
            )
            await conn.execute(run_results.delete().where(run_results.c.run_id == run_id))
            await conn.execute(run_progress.delete().where(run_progress.c.run_id == run_id))
            await conn.execute(
                insert(run_results).values(
                    run_id=run_id, result=result, junit=junit, recorded_at=now
                )
            )
            updated = (await conn.execute(select(_t).where(_t.c.id == run_id))).one()
        return run_from_row(updated)

    async def release_run(
        self,
        run_id: int,
        *,
        owner: str,
        now: datetime,
        reason: str,
        not_before: datetime | None = None,
    ) -> bool:
        """Give ``owner``'s running run back to the queue (a shutdown interrupted it, or it
        could not start yet: then it is not claimed again before ``not_before``); the
        attempt it used still counts. False if the claim was already gone."""
        async with self._db.write(f"releasing run {run_id}") as conn:
            await conn.execute(run_progress.delete().where(run_progress.c.run_id == run_id))
            released = await conn.execute(
                update(_t)
                .where(_t.c.id == run_id, _t.c.lease_owner == owner, _t.c.state == "running")
                .values(
                    state="queued",
                    lease_owner=None,
                    lease_expires_at=None,
                    updated_at=now,
                    message=reason,
                    not_before=not_before,
                )
            )
            if released.rowcount:
                await _end_attempts(
                    conn, [run_id], now=now, outcome="released", note=reason, owner=owner
                )
        return bool(released.rowcount)

    async def run_attempts(self, run_id: int) -> list[RunAttempt]:
        """Every claim of the run, first first. An attempt still open on a run that has
        ended (its replica died, then the run was superseded) shows as interrupted."""
        async with self._db.read(f"reading the attempts of run {run_id}") as conn:
            state = await _state(conn, run_id)
            rows = (
                await conn.execute(
                    select(run_attempts)
                    .where(run_attempts.c.run_id == run_id)
                    .order_by(run_attempts.c.attempt)
                )
            ).all()
        ended = state in ENDED_STATES
        return [
            RunAttempt(
                attempt=row.attempt,
                owner=row.owner,
                started_at=row.started_at,
                ended_at=row.ended_at,
                outcome=row.outcome or ("interrupted" if ended else None),
                note=row.note or (INTERRUPTED["note"] if ended and row.outcome is None else ""),
            )
            for row in rows
        ]

    async def run_result(self, run_id: int) -> tuple[dict[str, Any], bytes]:
        """The evidence and JUnit report of a finished run; ``NotFound`` before it ends."""
        async with self._db.read(f"reading the result of run {run_id}") as conn:
            row = (
                await conn.execute(select(run_results).where(run_results.c.run_id == run_id))
            ).one_or_none()
        if row is None:
            raise NotFound(f"run {run_id} has no result (yet)")
        return dict(row.result), bytes(row.junit)


async def _next_claimable(conn: AsyncConnection, now: datetime) -> int | None:
    """The oldest run that is due (queued, or its runner's lease ran out), locked; a
    candidate that a newer run of its lane already follows is superseded on the way.

    Queuing supersedes the older runs of a lane, but two replicas queuing runs of one lane
    at the same instant (PostgreSQL, read committed) each miss the other's: the older run
    stays queued. It is settled here, so it never runs after (and never reports over) the
    newer commit's run."""
    due = or_(_t.c.not_before.is_(None), _t.c.not_before <= now)
    candidate = (
        select(_t.c.id, _t.c.workspace, _t.c.rule, _t.c.lane)
        .where(or_(and_(_t.c.state == "queued", due), _expired(now)))
        .order_by(_t.c.id)
        .limit(1)
    )
    if conn.dialect.name == "postgresql":
        candidate = candidate.with_for_update(skip_locked=True)
    while True:
        row = (await conn.execute(candidate)).first()
        if row is None:
            return None
        newest = None
        if row.lane is not None:
            newest = (
                await conn.execute(
                    select(func.max(_t.c.id)).where(
                        _t.c.workspace == row.workspace,
                        _t.c.rule == row.rule,
                        _t.c.lane == row.lane,
                        _t.c.id > row.id,
                        _t.c.state != "superseded",
                    )
                )
            ).scalar_one_or_none()
        if newest is None:
            return int(row.id)
        await conn.execute(
            update(_t)
            .where(_t.c.id == row.id)
            .values(
                state="superseded",
                superseded_by=newest,
                lease_owner=None,
                lease_expires_at=None,
                updated_at=now,
                status_dirty=_t.c.status_sha.is_not(None),
            )
        )


INTERRUPTED = {"outcome": "interrupted", "note": "its runner stopped renewing the lease"}


async def _end_attempts(
    conn: AsyncConnection,
    run_ids: list[int],
    *,
    now: datetime,
    outcome: str,
    note: str,
    owner: str | None = None,
) -> None:
    """End the open attempt of each of ``run_ids`` (``owner``'s only, when given)."""
    if not run_ids:
        return
    open_ones: list[ColumnElement[bool]] = [
        run_attempts.c.run_id.in_(run_ids),
        run_attempts.c.ended_at.is_(None),
    ]
    if owner is not None:
        open_ones.append(run_attempts.c.owner == owner)
    await conn.execute(
        update(run_attempts).where(*open_ones).values(ended_at=now, outcome=outcome, note=note)
    )


def _expired(now: datetime) -> Any:
    return and_(_t.c.state == "running", _t.c.lease_expires_at < now)


async def _state(conn: AsyncConnection, run_id: int) -> RunState:
    state = (await conn.execute(select(_t.c.state).where(_t.c.id == run_id))).scalar_one_or_none()
    if state is None:
        raise NotFound(f"run {run_id} does not exist")
    return state  # type: ignore[no-any-return]


def _check_owner(owner: str) -> None:
    if not 0 < len(owner) <= LEASE_OWNER_MAX:
        raise StorageError(f"a lease owner is 1 to {LEASE_OWNER_MAX} characters")
