"""The status outbox: desired commit statuses per (target, context), claimed and posted.

Guarantees, all enforced here in SQL so that several replicas keep them:

- ``desire_statuses`` replaces an entry's desired status only with one of higher rank (see
  ``models.statuses``): a late pending never covers a final state, and the newest run wins.
  Each accepted change bumps ``version`` and makes the entry due again with a fresh budget.
- One post per entry at a time: ``claim_status_posts`` leases due entries (``FOR UPDATE SKIP
  LOCKED`` on PostgreSQL), so successive states of one commit and context reach Gitea in
  order. A poster that dies leaves a lease that runs out; the entry is claimed again.
- Recording an outcome names the version that was posted: a desired change that arrived
  meanwhile keeps the entry due, so it is posted next.

Runs feed the outbox through ``status_dirty``: every change of a run's state that alters
its status sets it, in the same statement, and ``run_status_changes`` /
``desire_statuses(..., runs_seen=...)`` turn those runs into desired statuses and clear the
flag only for runs unchanged since they were read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, select, update

from controller.models.runs import Run
from controller.models.statuses import DesiredStatus, StatusPost, StatusTarget
from controller.storage.database import Database
from controller.storage.outbox import desire_statement
from controller.storage.runs import run_from_row
from controller.storage.tables import commit_statuses, runs
from controller.storage.types import UTCDateTime, require_aware

_s = commit_statuses
_r = runs
KEY = ("workspace", "integration", "repository", "sha", "context")
DESIRED = ("run_id", "rank", "state", "description", "target_url", "updated_at")


@dataclass(frozen=True, slots=True)
class RunStatusChange:
    """A run whose status the outbox has not seen yet, and the revision of the run that
    superseded it (``""`` unless it was superseded)."""

    run: Run
    superseded_by_ref: str


class StatusQueries:
    """The outbox part of ``Storage`` (mixed in; needs ``_db``)."""

    _db: Database

    async def run_status_changes(self, *, limit: int = 500) -> list[RunStatusChange]:
        """Runs whose state changed since the outbox last saw them, oldest first."""
        newer = _r.alias("newer")
        statement = (
            select(_r, newer.c.trigger_ref.label("superseding_ref"))
            .outerjoin(newer, newer.c.id == _r.c.superseded_by)
            .where(_r.c.status_dirty.is_(True))
            .order_by(_r.c.id)
            .limit(limit)
        )
        async with self._db.read("reading runs with a new status") as conn:
            rows = (await conn.execute(statement)).all()
        return [RunStatusChange(run_from_row(row), row.superseding_ref or "") for row in rows]

    async def desire_statuses(
        self,
        statuses: Sequence[DesiredStatus],
        *,
        now: datetime,
        runs_seen: Sequence[Run] = (),
    ) -> None:
        """Record ``statuses`` (each kept only if it outranks its entry's current one) and
        mark ``runs_seen`` as seen by the outbox, unless they changed since they were read."""
        require_aware(now, "now")
        async with self._db.write("recording desired commit statuses") as conn:
            if statuses:
                statement = desire_statement(conn.dialect.name, _s, KEY, DESIRED)
                await conn.execute(statement, [_row(s, now) for s in statuses])
            if runs_seen:
                await conn.execute(
                    _SEEN, [{"run_id": run.id, "seen": run.updated_at} for run in runs_seen]
                )

    async def fail_stale_runs(
        self,
        *,
        now: datetime,
        queued_before: datetime,
        lease_expired_before: datetime,
        queued_message: str,
        lease_message: str,
    ) -> int:
        """The watchdog's repair, for runs that post a status: end as ``error`` every run
        queued before ``queued_before`` and every running run whose lease ran out before
        ``lease_expired_before`` (no runner is left to take it over), and mark for the
        outbox again every run that ended while its entry still says pending; an entry still
        pending for a run that no longer exists turns ``error``. The number of runs and
        entries changed."""
        has_target = _r.c.status_sha.is_not(None)
        ended = {
            "state": "error",
            "finished_at": now,
            "updated_at": now,
            "status_dirty": True,
            "lease_owner": None,
            "lease_expires_at": None,
        }
        pending_of_ended = select(_s.c.run_id).where(
            _s.c.state == "pending", _s.c.run_id.is_not(None)
        )
        async with self._db.write("ending runs nobody runs") as conn:
            queued = await conn.execute(
                update(_r)
                .where(has_target, _r.c.state == "queued", _r.c.created_at < queued_before)
                .values(**ended, message=queued_message)
            )
            stranded = await conn.execute(
                update(_r)
                .where(
                    has_target,
                    _r.c.state == "running",
                    _r.c.lease_expires_at < lease_expired_before,
                )
                .values(**ended, message=lease_message)
            )
            lost = await conn.execute(
                update(_r)
                .where(
                    has_target,
                    _r.c.status_dirty.is_(False),
                    _r.c.state.not_in(("queued", "running")),
                    _r.c.id.in_(pending_of_ended),
                )
                .values(status_dirty=True)
            )
            gone = await conn.execute(
                update(_s)
                .where(
                    _s.c.state == "pending",
                    _s.c.run_id.is_not(None),
                    _s.c.run_id.not_in(select(_r.c.id)),
                )
                .values(
                    state="error",
                    description="the run no longer exists",
                    rank=_s.c.rank + 1,
                    version=_s.c.version + 1,
                    due=True,
                    attempts=0,
                    last_error="",
                    first_failed_at=None,
                    dead_at=None,
                    next_attempt_at=now,
                    updated_at=now,
                )
            )
        return int(queued.rowcount + stranded.rowcount + lost.rowcount + gone.rowcount)

    async def list_statuses(
        self,
        *,
        run_id: int | None = None,
        delivery: str | None = None,
        target: StatusTarget | None = None,
        limit: int = 100,
    ) -> list[StatusPost]:
        """Outbox entries, newest change first; ``delivery`` is ``dead``, ``pending`` (due)
        or ``posted``."""
        statement = select(_s).order_by(_s.c.updated_at.desc(), _s.c.id.desc()).limit(limit)
        if run_id is not None:
            statement = statement.where(_s.c.run_id == run_id)
        if target is not None:
            statement = statement.where(
                _s.c.workspace == target.workspace,
                _s.c.integration == target.integration,
                _s.c.repository == target.repository,
                _s.c.sha == target.sha,
            )
        if delivery == "dead":
            statement = statement.where(_s.c.dead_at.is_not(None))
        elif delivery == "pending":
            statement = statement.where(_s.c.due.is_(True))
        elif delivery == "posted":
            statement = statement.where(_s.c.due.is_(False), _s.c.dead_at.is_(None))
        async with self._db.read("listing commit statuses") as conn:
            rows = (await conn.execute(statement)).all()
        return [post_from_row(row) for row in rows]


_SEEN = (
    update(_r)
    .where(
        _r.c.id == bindparam("run_id"), _r.c.updated_at == bindparam("seen", type_=UTCDateTime())
    )
    .values(status_dirty=False)
)


def _row(status: DesiredStatus, now: datetime) -> dict[str, Any]:
    target = status.target
    return {
        "workspace": target.workspace,
        "integration": target.integration,
        "repository": target.repository,
        "sha": target.sha,
        "context": status.context,
        "run_id": status.run_id,
        "rank": status.rank,
        "state": status.state,
        "description": status.description,
        "target_url": status.target_url,
        "version": 1,
        "posted_version": 0,
        "due": True,
        "attempts": 0,
        "last_error": "",
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
    }


def post_from_row(row: Row[Any]) -> StatusPost:
    posted = None
    if row.posted_state is not None:
        posted = (row.posted_state, row.posted_description or "", row.posted_target_url or "")
    return StatusPost(
        id=row.id,
        desired=DesiredStatus(
            target=StatusTarget(row.workspace, row.integration, row.repository, row.sha),
            context=row.context,
            state=row.state,
            description=row.description,
            target_url=row.target_url,
            rank=row.rank,
            run_id=row.run_id,
        ),
        version=row.version,
        posted_version=row.posted_version,
        posted=posted,
        posted_at=row.posted_at,
        attempts=row.attempts,
        last_error=row.last_error,
        next_attempt_at=row.next_attempt_at,
        first_failed_at=row.first_failed_at,
        dead_at=row.dead_at,
        updated_at=row.updated_at,
    )
