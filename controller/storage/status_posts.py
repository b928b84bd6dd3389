"""Posting from the status outbox: claiming due entries under a lease, recording outcomes.

See ``controller.storage.statuses`` for the guarantees; this module holds the poster's side:
``claim_status_posts`` (which also records the outcomes of the previous batch, in the same
transaction), the outcome records, and when the next entry comes due.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from controller.models.statuses import PostOutcome, StatusPost
from controller.storage.database import Database
from controller.storage.outbox import claim_due, failure_statements
from controller.storage.statuses import post_from_row
from controller.storage.tables import commit_statuses
from controller.storage.types import UTCDateTime, require_aware

_s = commit_statuses


class StatusPostQueries:
    """The poster part of ``Storage`` (mixed in; needs ``_db``)."""

    _db: Database

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
            rows = await claim_due(
                conn, _s, owner=owner, now=now, lease_until=lease_until, limit=limit
            )
        return [post_from_row(row) for row in rows]

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

    async def next_status_attempt(self, *, now: datetime) -> datetime | None:
        """When the earliest due entry that nobody holds may be tried (``None``: none)."""
        async with self._db.read("finding the next status to post") as conn:
            earliest = select(func.min(_s.c.next_attempt_at)).where(
                _s.c.due.is_(True),
                or_(_s.c.lease_expires_at.is_(None), _s.c.lease_expires_at < now),
            )
            return (await conn.execute(earliest)).scalar_one_or_none()  # type: ignore[no-any-return]


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
    return failure_statements(
        _s,
        entry=post.id,
        version=post.version,
        owner=owner,
        now=now,
        error=outcome.error,
        retry_at=outcome.retry_at,
    )
