"""Pull-request comments meshgate keeps up to date (one per pull request and purpose).

The first line of a comment's body is its marker (an HTML comment, invisible in Gitea): the
poster finds an existing comment by it when it does not know the comment's id yet, so a
comment is edited in place rather than written twice, even after its id was lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class DesiredComment:
    workspace: str
    integration: str
    repository: str
    number: int
    body: str
    rank: int

    @property
    def marker(self) -> str:
        return self.body.split("\n", 1)[0]


@dataclass(frozen=True, slots=True, kw_only=True)
class CommentPost:
    id: int
    desired: DesiredComment
    version: int
    posted_version: int
    comment_id: int | None
    attempts: int
    last_error: str
    first_failed_at: datetime | None
    dead_at: datetime | None
