"""Writing the pull-request comments of the comment outbox (``models.comments``).

A comment whose id is known is edited; one whose id is unknown is looked for by its marker
(the first line) and edited, else created; one that somebody deleted (404 on edit) is
written anew. Failures follow the same retry policy as statuses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from controller.clients.gitea import GiteaClient, GiteaRejected
from controller.errors import PermanentError, TemporaryError
from controller.models.comments import CommentPost, DesiredComment
from controller.settings import Secret
from controller.statuses.access import GiteaAccess
from controller.statuses.retry_policy import PosterSettings, retry_time
from controller.storage import Storage


class CommentWriter:
    def __init__(
        self,
        *,
        storage: Storage,
        access: GiteaAccess,
        owner: str,
        settings: PosterSettings,
        clock: Callable[[], datetime],
    ) -> None:
        self._storage = storage
        self._access = access
        self._owner = owner
        self._settings = settings
        self._clock = clock

    async def write_due(self) -> None:
        """Write the pull-request comments that are due (they are few: one per review)."""
        now = self._clock()
        posts = await self._storage.claim_comments(
            owner=self._owner,
            now=now,
            lease_until=now + self._settings.lease,
            limit=self._settings.concurrency,
        )
        await asyncio.gather(*(self._write(post) for post in posts))

    async def _write(self, post: CommentPost) -> None:
        desired = post.desired
        try:
            client, token = self._access.client_for(desired.workspace, desired.integration)
            comment_id = post.comment_id
            if comment_id is not None:
                try:
                    await client.edit_comment(
                        desired.repository, comment_id, desired.body, token=token
                    )
                except GiteaRejected as exc:
                    if exc.status != 404:
                        raise
                    comment_id = None  # somebody deleted it: write it anew
            if comment_id is None:
                comment_id = await self._find_or_create(client, token, desired)
        except (TemporaryError, PermanentError) as exc:
            now = self._clock()
            retry_at = retry_time(self._settings, post.attempts, post.first_failed_at, exc, now)
            await self._storage.record_comment_failure(
                post, owner=self._owner, now=now, error=str(exc), retry_at=retry_at
            )
            return
        await self._storage.record_comment_written(
            post, owner=self._owner, now=self._clock(), comment_id=comment_id
        )

    @staticmethod
    async def _find_or_create(client: GiteaClient, token: Secret, desired: DesiredComment) -> int:
        existing = await client.list_comments(desired.repository, desired.number, token=token)
        ours = next((c for c in existing if c.body.split("\n", 1)[0] == desired.marker), None)
        if ours is None:
            created = await client.create_comment(
                desired.repository, desired.number, desired.body, token=token
            )
            return created.id
        if ours.body != desired.body:
            await client.edit_comment(desired.repository, ours.id, desired.body, token=token)
        return ours.id
