"""The comment outbox on both backends: ranks, claims under a lease, versions, failures."""

from __future__ import annotations

from datetime import timedelta

import pytest

from controller.models.comments import DesiredComment
from controller.storage import Storage
from tests.integration.storage.test_runs import T0

pytestmark = pytest.mark.anyio
LEASE = timedelta(seconds=60)


def comment(body: str, rank: int, number: int = 7) -> DesiredComment:
    return DesiredComment("shop", "gitea", "platform/config", number, f"<!-- m -->\n{body}", rank)


async def claim(storage: Storage, owner: str = "p1", at: timedelta = timedelta(0)):  # type: ignore[no-untyped-def]
    now = T0 + at
    return await storage.claim_comments(owner=owner, now=now, lease_until=now + LEASE, limit=5)


async def test_a_comment_is_claimed_written_and_remembers_its_id(storage: Storage) -> None:
    await storage.desire_comment(comment("first", 1), now=T0)
    (post,) = await claim(storage)
    assert (post.version, post.comment_id, post.desired.marker) == (1, None, "<!-- m -->")
    assert await claim(storage, owner="p2") == []
    await storage.record_comment_written(post, owner="p1", now=T0, comment_id=41)
    assert await claim(storage, at=timedelta(minutes=1)) == []
    await storage.desire_comment(comment("second", 2), now=T0)
    (again,) = await claim(storage)
    assert (again.desired.body, again.comment_id, again.version) == ("<!-- m -->\nsecond", 41, 2)


async def test_an_older_body_never_replaces_a_newer_one(storage: Storage) -> None:
    await storage.desire_comment(comment("newer", 5), now=T0)
    await storage.desire_comment(comment("older", 4), now=T0)
    (post,) = await claim(storage)
    assert post.desired.body.endswith("newer")


async def test_a_body_changed_while_writing_is_written_next(storage: Storage) -> None:
    await storage.desire_comment(comment("first", 1), now=T0)
    (post,) = await claim(storage)
    await storage.desire_comment(comment("second", 2), now=T0)
    await storage.record_comment_written(post, owner="p1", now=T0, comment_id=41)
    (next_one,) = await claim(storage)
    assert (next_one.desired.body.endswith("second"), next_one.comment_id) == (True, 41)


async def test_a_failed_write_waits_or_is_given_up(storage: Storage) -> None:
    await storage.desire_comment(comment("first", 1), now=T0)
    (post,) = await claim(storage)
    retry = T0 + timedelta(seconds=30)
    await storage.record_comment_failure(post, owner="p1", now=T0, error="503", retry_at=retry)
    assert await claim(storage, at=timedelta(seconds=29)) == []
    (again,) = await claim(storage, at=timedelta(seconds=30))
    assert (again.attempts, again.last_error) == (1, "503")
    await storage.record_comment_failure(again, owner="p1", now=retry, error="403", retry_at=None)
    assert await claim(storage, at=timedelta(hours=1)) == []
    (dead,) = await storage.list_comments()
    assert (dead.dead_at, dead.last_error) == (retry, "403")
