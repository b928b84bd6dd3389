"""What the two outboxes (``commit_statuses``, ``pr_comments``) share: claiming due entries
under a lease, and recording a failed attempt.

Both tables have ``id``, ``version``, ``due``, ``next_attempt_at``, ``attempts``,
``last_error``, ``first_failed_at``, ``dead_at``, ``lease_owner``, ``lease_expires_at`` and
``updated_at`` with the same meaning; see ``controller.storage.statuses`` for the guarantees.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Row, Table, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from controller.storage.tables import ERROR_MAX


@lru_cache(maxsize=8)
def desire_statement(
    dialect_name: str, table: Table, key: Sequence[str], changed: Sequence[str]
) -> Any:
    """Insert an entry, or replace its desired content (the ``changed`` columns) when the
    new one outranks it: a new version, due at once with a fresh budget, revived if dead.
    Built once per table and dialect; executed with one row of parameters per entry."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    insert = dialect.insert(table)
    c = table.c
    return insert.on_conflict_do_update(
        index_elements=[c[name] for name in key],
        set_={
            **{name: insert.excluded[name] for name in changed},
            "version": c.version + 1,
            "due": True,
            "attempts": 0,
            "last_error": "",
            "first_failed_at": None,
            "dead_at": None,
            "next_attempt_at": insert.excluded.next_attempt_at,
        },
        where=c.rank < insert.excluded.rank,
    )


async def claim_due(
    conn: AsyncConnection,
    table: Table,
    *,
    owner: str,
    now: datetime,
    lease_until: datetime,
    limit: int,
) -> list[Row[Any]]:
    """Lease up to ``limit`` due entries of ``table`` whose time has come and that nobody
    holds, earliest first (``FOR UPDATE SKIP LOCKED`` on PostgreSQL: replicas take
    different entries without waiting on each other)."""
    c = table.c
    candidates = (
        select(c.id)
        .where(
            c.due.is_(True),
            c.next_attempt_at <= now,
            or_(c.lease_expires_at.is_(None), c.lease_expires_at < now),
        )
        .order_by(c.next_attempt_at, c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    ids = list((await conn.execute(candidates)).scalars())
    if not ids:
        return []
    await conn.execute(
        update(table).where(c.id.in_(ids)).values(lease_owner=owner, lease_expires_at=lease_until)
    )
    rows = (await conn.execute(select(table).where(c.id.in_(ids)))).all()
    return sorted(rows, key=lambda row: (row.next_attempt_at, row.id))


def failure_statements(
    table: Table,
    *,
    entry: int,
    version: int,
    owner: str,
    now: datetime,
    error: str,
    retry_at: datetime | None,
) -> list[Any]:
    """Record a failed attempt at ``version`` of ``entry`` by ``owner``: try again at
    ``retry_at``, or give up (``None``: dead-lettered). When a newer version arrived while
    the attempt ran, it is tried at once instead, with a fresh budget."""
    c = table.c
    mine = and_(c.id == entry, c.lease_owner == owner)
    released = {"lease_owner": None, "lease_expires_at": None, "updated_at": now}
    error = error[:ERROR_MAX]
    return [
        update(table)
        .where(mine, c.version == version)
        .values(
            attempts=c.attempts + 1,
            last_error=error,
            first_failed_at=func.coalesce(c.first_failed_at, now),
            next_attempt_at=retry_at or now,
            dead_at=now if retry_at is None else None,
            due=retry_at is not None,
            **released,
        ),
        update(table)
        .where(mine, c.version != version)
        .values(last_error=error, next_attempt_at=now, **released),
    ]
