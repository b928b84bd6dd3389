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
from functools import lru_cache
from typing import Any

from sqlalchemy import Row, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from controller.models.runs import Run
from controller.models.statuses import DesiredStatus, PostOutcome, StatusPost, StatusTarget
from controller.storage.database import Database
from controller.storage.runs import run_from_row
from controller.storage.tables import ERROR_MAX, commit_statuses, runs
from controller.storage.types import UTCDateTime, require_aware

_s = commit_statuses
_r = runs
KEY = ("workspace", "integration", "repository", "sha", "context")


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
                await conn.execute(
                    _upsert_statement(conn.dialect.name), [_row(s, now) for s in statuses]
                )
            if runs_seen:
                await conn.execute(
                    _SEEN, [{"run_id": run.id, "seen": run.updated_at} for run in runs_seen]
                )

    async def claim_status_posts(
        self,
        *,
        owner: str,
        now: datetime,
        lease_until: datetime,
        limit: int,
        recording: Sequence[PostOutcome] = (),
    ) -> list[StatusPost]:
        """Lease up to ``limit`` due entries whose time has come, earliest first; first, in
        the same transaction, record ``recording`` (see ``record_status_outcomes``)."""
        require_aware(now, "now")
        async with self._db.write("claiming commit statuses to post") as conn:
            await _record_outcomes(conn, recording, owner, now)
            candidates = (
                select(_s.c.id)
                .where(
                    _s.c.due.is_(True),
                    _s.c.next_attempt_at <= now,
                    or_(_s.c.lease_expires_at.is_(None), _s.c.lease_expires_at < now),
                )
                .order_by(_s.c.next_attempt_at, _s.c.id)
                .limit(limit)
            )
            if conn.dialect.name == "postgresql":
                candidates = candidates.with_for_update(skip_locked=True)
            ids = list((await conn.execute(candidates)).scalars())
            if not ids:
                return []
            await conn.execute(
                update(_s)
                .where(_s.c.id.in_(ids))
                .values(lease_owner=owner, lease_expires_at=lease_until)
            )
            rows = (await conn.execute(select(_s).where(_s.c.id.in_(ids)))).all()
        return sorted((post_from_row(row) for row in rows), key=lambda p: p.next_attempt_at)

    async def record_status_posted(
        self, post: StatusPost, *, owner: str, now: datetime, sent: bool
    ) -> None:
        """``post`` reached Gitea (``sent``), or needed no request (Gitea already shows it)."""
        await self.record_status_outcomes([PostOutcome(post, sent=sent)], owner=owner, now=now)

    async def record_status_failure(
        self,
        post: StatusPost,
        *,
        owner: str,
        now: datetime,
        error: str,
        retry_at: datetime | None,
    ) -> None:
        """A failed post: try again at ``retry_at``, or give up (``None``: dead-lettered). A
        desired change that arrived meanwhile is tried at once instead, with a fresh budget."""
        outcome = PostOutcome(post, error=error, retry_at=retry_at)
        await self.record_status_outcomes([outcome], owner=owner, now=now)

    async def record_status_outcomes(
        self, outcomes: Sequence[PostOutcome], *, owner: str, now: datetime
    ) -> None:
        """Record how several posts went, in one transaction (see ``PostOutcome``). An
        outcome of an entry no longer leased by ``owner`` changes nothing."""
        if not outcomes:
            return
        async with self._db.write(f"recording {len(outcomes)} status post(s)") as conn:
            await _record_outcomes(conn, outcomes, owner, now)

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

    async def next_status_attempt(self, *, now: datetime) -> datetime | None:
        """When the earliest due entry that nobody holds may be tried (``None``: none)."""
        async with self._db.read("finding the next status to post") as conn:
            earliest = select(func.min(_s.c.next_attempt_at)).where(
                _s.c.due.is_(True),
                or_(_s.c.lease_expires_at.is_(None), _s.c.lease_expires_at < now),
            )
            return (await conn.execute(earliest)).scalar_one_or_none()  # type: ignore[no-any-return]

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


async def _record_outcomes(
    conn: AsyncConnection, outcomes: Sequence[PostOutcome], owner: str, now: datetime
) -> None:
    posted = [o for o in outcomes if not o.error]
    if posted:
        await conn.execute(_POSTED, [_posted_row(o, owner, now) for o in posted])
    for outcome in outcomes:
        if outcome.error:
            for statement in _failure_statements(outcome, owner, now):
                await conn.execute(statement)


def _posted_statement() -> Any:
    """Mark one entry posted (executemany: one row of parameters per outcome)."""
    version: Any = bindparam("posted")
    return (
        update(_s)
        .where(_s.c.id == bindparam("post_id"), _s.c.lease_owner == bindparam("owner"))
        .values(
            posted_version=version,
            posted_state=bindparam("posted_state"),
            posted_description=bindparam("posted_description"),
            posted_target_url=bindparam("posted_target_url"),
            posted_at=func.coalesce(bindparam("sent_at", type_=UTCDateTime()), _s.c.posted_at),
            due=_s.c.version > version,
            attempts=0,
            last_error="",
            first_failed_at=None,
            lease_owner=None,
            lease_expires_at=None,
            updated_at=bindparam("now", type_=UTCDateTime()),
        )
    )


_POSTED = _posted_statement()
_SEEN = (
    update(_r)
    .where(
        _r.c.id == bindparam("run_id"), _r.c.updated_at == bindparam("seen", type_=UTCDateTime())
    )
    .values(status_dirty=False)
)


def _posted_row(outcome: PostOutcome, owner: str, now: datetime) -> dict[str, Any]:
    post = outcome.post
    state, description, target_url = post.content
    return {
        "post_id": post.id,
        "owner": owner,
        "posted": post.version,
        "posted_state": state,
        "posted_description": description,
        "posted_target_url": target_url,
        "sent_at": now if outcome.sent else None,
        "now": now,
    }


def _failure_statements(outcome: PostOutcome, owner: str, now: datetime) -> list[Any]:
    post = outcome.post
    mine = and_(_s.c.id == post.id, _s.c.lease_owner == owner)
    released = {"lease_owner": None, "lease_expires_at": None, "updated_at": now}
    error = outcome.error[:ERROR_MAX]
    retry_at = outcome.retry_at
    return [
        update(_s)
        .where(mine, _s.c.version == post.version)
        .values(
            attempts=_s.c.attempts + 1,
            last_error=error,
            first_failed_at=func.coalesce(_s.c.first_failed_at, now),
            next_attempt_at=retry_at or now,
            dead_at=now if retry_at is None else None,
            due=retry_at is not None,
            **released,
        ),
        # A newer desired status arrived while this one was being posted: try it at once.
        update(_s)
        .where(mine, _s.c.version != post.version)
        .values(last_error=error, next_attempt_at=now, **released),
    ]


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


@lru_cache(maxsize=2)
def _upsert_statement(dialect_name: str) -> Any:
    """Insert an entry, or replace its desired status when the new one outranks it (built
    once per dialect; executed with one row of parameters per status)."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    insert = dialect.insert(_s)
    changed = ("run_id", "rank", "state", "description", "target_url", "updated_at")
    return insert.on_conflict_do_update(
        index_elements=[_s.c[name] for name in KEY],
        set_={
            **{name: insert.excluded[name] for name in changed},
            "version": _s.c.version + 1,
            "due": True,
            "attempts": 0,
            "last_error": "",
            "first_failed_at": None,
            "dead_at": None,
            "next_attempt_at": insert.excluded.next_attempt_at,
        },
        where=_s.c.rank < insert.excluded.rank,
    )


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
