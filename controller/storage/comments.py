"""The comment outbox: the desired body of each pull-request comment, claimed and written.

The same guarantees as the status outbox (``controller.storage.statuses``): a body is
replaced only by one of higher rank, one write per comment at a time under a lease, and an
outcome names the version it wrote, so a body that changed meanwhile is written next.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, update

from controller.models.comments import CommentPost, DesiredComment
from controller.storage.database import Database
from controller.storage.outbox import claim_due, desire_statement, failure_statements
from controller.storage.tables import pr_comments
from controller.storage.types import require_aware

_c = pr_comments
KEY = ("workspace", "integration", "repository", "number")
DESIRED = ("rank", "body", "updated_at")


class CommentQueries:
    """The comment part of ``Storage`` (mixed in; needs ``_db``)."""

    _db: Database

    async def desire_comment(self, comment: DesiredComment, *, now: datetime) -> None:
        require_aware(now, "now")
        values: dict[str, Any] = {
            "workspace": comment.workspace,
            "integration": comment.integration,
            "repository": comment.repository,
            "number": comment.number,
            "rank": comment.rank,
            "body": comment.body,
            "version": 1,
            "posted_version": 0,
            "due": True,
            "attempts": 0,
            "last_error": "",
            "next_attempt_at": now,
            "updated_at": now,
        }
        async with self._db.write("recording a desired pull-request comment") as conn:
            statement = desire_statement(conn.dialect.name, _c, KEY, DESIRED)
            await conn.execute(statement, [values])

    async def claim_comments(
        self, *, owner: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[CommentPost]:
        async with self._db.write("claiming pull-request comments to write") as conn:
            rows = await claim_due(
                conn, _c, owner=owner, now=now, lease_until=lease_until, limit=limit
            )
        return [_post(row) for row in rows]

    async def record_comment_written(
        self, post: CommentPost, *, owner: str, now: datetime, comment_id: int
    ) -> None:
        async with self._db.write(f"recording comment {post.id} as written") as conn:
            await conn.execute(
                update(_c)
                .where(_c.c.id == post.id, _c.c.lease_owner == owner)
                .values(
                    posted_version=post.version,
                    comment_id=comment_id,
                    posted_at=now,
                    due=_c.c.version > post.version,
                    attempts=0,
                    last_error="",
                    first_failed_at=None,
                    lease_owner=None,
                    lease_expires_at=None,
                    updated_at=now,
                )
            )

    async def record_comment_failure(
        self,
        post: CommentPost,
        *,
        owner: str,
        now: datetime,
        error: str,
        retry_at: datetime | None,
    ) -> None:
        statements = failure_statements(
            _c,
            entry=post.id,
            version=post.version,
            owner=owner,
            now=now,
            error=error,
            retry_at=retry_at,
        )
        async with self._db.write(f"recording a failed write of comment {post.id}") as conn:
            for statement in statements:
                await conn.execute(statement)

    async def list_comments(self, *, repository: str | None = None) -> list[CommentPost]:
        statement = select(_c).order_by(_c.c.id)
        if repository is not None:
            statement = statement.where(_c.c.repository == repository)
        async with self._db.read("listing pull-request comments") as conn:
            rows = (await conn.execute(statement)).all()
        return [_post(row) for row in rows]


def _post(row: Row[Any]) -> CommentPost:
    return CommentPost(
        id=row.id,
        desired=DesiredComment(
            workspace=row.workspace,
            integration=row.integration,
            repository=row.repository,
            number=row.number,
            body=row.body,
            rank=row.rank,
        ),
        version=row.version,
        posted_version=row.posted_version,
        comment_id=row.comment_id,
        attempts=row.attempts,
        last_error=row.last_error,
        first_failed_at=row.first_failed_at,
        dead_at=row.dead_at,
    )
