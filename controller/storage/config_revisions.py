"""Config revisions: record every revision seen, and which one is live.

``record_config_revision`` is an upsert on (source, revision) with ``INSERT … ON CONFLICT DO
UPDATE``, one statement, so replicas recording the same revision at once end with one row and
no error. First/last sighting times only ever widen (``first_seen_at`` keeps the earliest,
``last_seen_at`` the latest), whatever order the writers commit in.

Problems are stored as JSON (``Problem.to_dict``), at most ``MAX_STORED_PROBLEMS`` of them with
messages cut at ``MAX_MESSAGE_CHARS``; ``problem_count`` keeps the real number, so one broken
revision cannot bloat the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, case, select, update

from controller.errors import NotFound, StorageError
from controller.models.problems import Problem
from controller.models.revisions import ConfigRevision
from controller.storage.database import Database
from controller.storage.tables import REVISION_MAX, SOURCE_MAX, config_revisions
from controller.storage.types import require_aware

MAX_STORED_PROBLEMS = 500
MAX_MESSAGE_CHARS = 2000
MAX_LIST_LIMIT = 1000

_t = config_revisions


class ConfigRevisionQueries:
    """The config-revision part of ``Storage`` (mixed in; needs ``_db``)."""

    _db: Database

    async def record_config_revision(
        self,
        *,
        source: str,
        revision: str,
        valid: bool,
        problems: Sequence[Problem],
        document_count: int,
        seen_at: datetime,
    ) -> ConfigRevision:
        """Record a sighting of ``revision``: inserted the first time, refreshed after.

        Raises ``StorageError`` for an empty or over-long ``source``/``revision`` and
        ``ValueError`` for a naive ``seen_at`` or a negative ``document_count``.
        """
        _check_identity(source, revision)
        require_aware(seen_at, "seen_at")
        if document_count < 0:
            raise ValueError(f"document_count must be >= 0, got {document_count}")
        insert = self._db.upsert(_t).values(
            source=source,
            revision=revision,
            valid=valid,
            problems=[_stored(p) for p in problems[:MAX_STORED_PROBLEMS]],
            problem_count=len(problems),
            document_count=document_count,
            first_seen_at=seen_at,
            last_seen_at=seen_at,
        )
        new = insert.excluded
        statement = insert.on_conflict_do_update(
            index_elements=[_t.c.source, _t.c.revision],
            set_={
                "valid": new.valid,
                "problems": new.problems,
                "problem_count": new.problem_count,
                "document_count": new.document_count,
                "first_seen_at": case(
                    (new.first_seen_at < _t.c.first_seen_at, new.first_seen_at),
                    else_=_t.c.first_seen_at,
                ),
                "last_seen_at": case(
                    (new.last_seen_at > _t.c.last_seen_at, new.last_seen_at),
                    else_=_t.c.last_seen_at,
                ),
            },
        ).returning(*_t.c)
        async with self._db.write(f"recording config revision {revision} of {source}") as conn:
            row = (await conn.execute(statement)).one()
        return _revision(row)

    async def mark_config_applied(
        self, *, source: str, revision: str, applied_at: datetime
    ) -> ConfigRevision:
        """Note that ``revision`` became the live config at ``applied_at``.

        Raises ``NotFound`` if the revision was never recorded and ``StorageError`` if it was
        recorded as invalid (an invalid revision never becomes live).
        """
        require_aware(applied_at, "applied_at")
        statement = (
            update(_t)
            .where(_t.c.source == source, _t.c.revision == revision, _t.c.valid.is_(True))
            .values(applied_at=applied_at)
            .returning(*_t.c)
        )
        doing = f"marking config revision {revision} of {source} applied"
        async with self._db.write(doing) as conn:
            row = (await conn.execute(statement)).one_or_none()
            if row is None:
                known = select(_t.c.id).where(_t.c.source == source, _t.c.revision == revision)
                if (await conn.execute(known)).first() is None:
                    raise NotFound(f"config revision {revision} of {source} was never recorded")
                raise StorageError(f"config revision {revision} of {source} is invalid")
        return _revision(row)

    async def latest_config_revision(self, source: str) -> ConfigRevision | None:
        """The revision of ``source`` seen most recently, valid or not."""
        found = await self.config_revisions(source, limit=1)
        return found[0] if found else None

    async def last_applied_config_revision(self, source: str) -> ConfigRevision | None:
        """The revision of ``source`` that most recently became the live config."""
        statement = (
            select(_t)
            .where(_t.c.source == source, _t.c.applied_at.is_not(None))
            .order_by(_t.c.applied_at.desc(), _t.c.id.desc())
            .limit(1)
        )
        async with self._db.read(f"reading the applied config revision of {source}") as conn:
            row = (await conn.execute(statement)).one_or_none()
        return None if row is None else _revision(row)

    async def config_revisions(self, source: str, *, limit: int = 20) -> list[ConfigRevision]:
        """Revisions of ``source``, most recently seen first (ties: most recently recorded)."""
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIST_LIMIT}, got {limit}")
        statement = (
            select(_t)
            .where(_t.c.source == source)
            .order_by(_t.c.last_seen_at.desc(), _t.c.id.desc())
            .limit(limit)
        )
        async with self._db.read(f"listing config revisions of {source}") as conn:
            rows = (await conn.execute(statement)).all()
        return [_revision(row) for row in rows]


def _check_identity(source: str, revision: str) -> None:
    # StorageError, not ValueError: a long source comes from settings (the repo URL), and
    # callers already handle storage refusing a write. Checked here so both backends agree.
    if not 0 < len(source) <= SOURCE_MAX:
        raise StorageError(f"source must be 1 to {SOURCE_MAX} characters, got {len(source)}")
    if not 0 < len(revision) <= REVISION_MAX:
        raise StorageError(f"revision must be 1 to {REVISION_MAX} characters, got {len(revision)}")


def _stored(problem: Problem) -> dict[str, Any]:
    data = problem.to_dict()
    if len(problem.message) > MAX_MESSAGE_CHARS:
        data["message"] = problem.message[: MAX_MESSAGE_CHARS - 1] + "…"
    return data


def _revision(row: Row[Any]) -> ConfigRevision:
    return ConfigRevision(
        id=row.id,
        source=row.source,
        revision=row.revision,
        valid=row.valid,
        problems=tuple(Problem.from_dict(item) for item in row.problems),
        problem_count=row.problem_count,
        document_count=row.document_count,
        first_seen_at=row.first_seen_at,
        last_seen_at=row.last_seen_at,
        applied_at=row.applied_at,
    )
