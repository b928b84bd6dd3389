"""The status outbox: ranks, versions, claims and leases, failures and dead letters, and the
runs that feed it (status_dirty), on both backends."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta

import pytest

from controller.models.runs import RunRequest
from controller.models.statuses import DesiredStatus, StatusTarget, run_rank
from controller.storage import Storage
from tests.integration.storage.test_runs import REQUEST, T0, _deliver, _push

pytestmark = pytest.mark.anyio
LEASE = timedelta(seconds=60)
TARGET = StatusTarget("shop", "gitea", "shop/checkout", "a" * 40)
WITH_TARGET = dataclasses.replace(REQUEST, status_target=TARGET)


def desired(
    state: str = "pending", *, run: int = 1, final: bool = False, **extra: object
) -> DesiredStatus:
    values: dict[str, object] = {
        "target": TARGET,
        "context": "meshgate/smoke",
        "state": state,
        "description": f"{state} of run {run}",
        "target_url": f"http://mg/runs/{run}",
        "rank": run_rank(run, final=final),
        "run_id": run,
    }
    values.update(extra)
    return DesiredStatus(**values)  # type: ignore[arg-type]


async def watchdog(storage: Storage, now: datetime, queued: str = "", stranded: str = "") -> int:
    """The watchdog's repair with an hour's queue timeout and ten minutes' grace."""
    return await storage.fail_stale_runs(
        now=now,
        queued_before=now - timedelta(hours=1),
        lease_expired_before=now - timedelta(minutes=10),
        queued_message=queued,
        lease_message=stranded,
    )


async def claim(storage: Storage, owner: str = "p1", at: timedelta = timedelta(0), limit: int = 10):  # type: ignore[no-untyped-def]
    now = T0 + at
    return await storage.claim_status_posts(
        owner=owner, now=now, lease_until=now + LEASE, limit=limit
    )


async def test_a_desired_status_is_claimed_posted_and_then_no_longer_due(storage: Storage) -> None:
    await storage.desire_statuses([desired()], now=T0)
    (post,) = await claim(storage)
    assert (post.desired, post.version, post.posted_version, post.posted) == (desired(), 1, 0, None)
    assert await claim(storage, owner="p2") == []  # leased
    await storage.record_status_posted(post, owner="p1", now=T0, sent=True)
    assert await claim(storage, at=timedelta(minutes=5)) == []
    (listed,) = await storage.list_statuses(run_id=1)
    assert (listed.posted, listed.posted_at, listed.delivered) == (post.content, T0, True)
    assert listed.to_dict()["delivery"] == "posted"


async def test_a_lower_rank_never_replaces_a_higher_one(storage: Storage) -> None:
    await storage.desire_statuses([desired("success", final=True)], now=T0)
    await storage.desire_statuses([desired("pending")], now=T0)  # the run's late pending
    await storage.desire_statuses([desired("failure", run=0, final=True)], now=T0)  # older run
    (entry,) = await storage.list_statuses()
    assert (entry.desired.state, entry.version) == ("success", 1)
    await storage.desire_statuses([desired("pending", run=2)], now=T0)  # a newer run
    (entry,) = await storage.list_statuses()
    assert (entry.desired.state, entry.desired.run_id, entry.version) == ("pending", 2, 2)


async def test_a_change_during_a_post_is_posted_next(storage: Storage) -> None:
    await storage.desire_statuses([desired()], now=T0)
    (pending,) = await claim(storage)
    await storage.desire_statuses([desired("success", final=True)], now=T0)
    await storage.record_status_posted(pending, owner="p1", now=T0, sent=True)
    (final,) = await claim(storage)
    assert (final.desired.state, final.version, final.posted_version) == ("success", 2, 1)
    assert final.posted == pending.content


async def test_a_failed_post_waits_for_its_retry_and_counts_attempts(storage: Storage) -> None:
    await storage.desire_statuses([desired()], now=T0)
    (post,) = await claim(storage)
    retry = T0 + timedelta(seconds=30)
    await storage.record_status_failure(post, owner="p1", now=T0, error="503", retry_at=retry)
    assert await claim(storage, at=timedelta(seconds=29)) == []
    assert await storage.next_status_attempt(now=T0) == retry
    (again,) = await claim(storage, at=timedelta(seconds=30))
    assert (again.attempts, again.last_error, again.first_failed_at) == (1, "503", T0)
    await storage.record_status_failure(
        again, owner="p1", now=retry, error="503 again", retry_at=retry + timedelta(seconds=60)
    )
    (entry,) = await storage.list_statuses(delivery="pending")
    assert (entry.attempts, entry.first_failed_at) == (2, T0)


async def test_a_dead_letter_stays_visible_until_a_newer_status_revives_it(
    storage: Storage,
) -> None:
    await storage.desire_statuses([desired()], now=T0)
    (post,) = await claim(storage)
    await storage.record_status_failure(
        post, owner="p1", now=T0, error="401: bad token", retry_at=None
    )
    assert await claim(storage, at=timedelta(hours=1)) == []
    (dead,) = await storage.list_statuses(delivery="dead")
    assert (dead.dead_at, dead.last_error, dead.to_dict()["delivery"]) == (
        T0,
        "401: bad token",
        "dead",
    )
    await storage.desire_statuses([desired("success", final=True)], now=T0)
    assert await storage.list_statuses(delivery="dead") == []
    (revived,) = await claim(storage)
    assert (revived.desired.state, revived.attempts, revived.dead_at) == ("success", 0, None)


async def test_a_failure_reported_after_a_newer_status_arrived_retries_at_once(
    storage: Storage,
) -> None:
    await storage.desire_statuses([desired()], now=T0)
    (post,) = await claim(storage)
    await storage.desire_statuses([desired("success", final=True)], now=T0)
    await storage.record_status_failure(
        post, owner="p1", now=T0, error="timeout", retry_at=T0 + timedelta(hours=1)
    )
    (final,) = await claim(storage)
    assert (final.desired.state, final.attempts) == ("success", 0)


async def test_an_expired_lease_is_claimed_again_and_the_old_owner_changes_nothing(
    storage: Storage,
) -> None:
    await storage.desire_statuses([desired()], now=T0)
    (lost,) = await claim(storage, owner="dead-replica")
    (taken,) = await claim(storage, owner="p2", at=LEASE + timedelta(seconds=1))
    await storage.record_status_posted(lost, owner="dead-replica", now=T0, sent=True)
    (entry,) = await storage.list_statuses()
    assert entry.posted_version == 0
    await storage.record_status_posted(taken, owner="p2", now=T0, sent=True)
    (entry,) = await storage.list_statuses()
    assert entry.posted_version == 1


async def test_parallel_claims_never_take_the_same_entry(storage: Storage) -> None:
    await storage.desire_statuses(
        [desired(context=f"meshgate/s{n}") for n in range(12)],
        now=T0,
    )
    batches = await asyncio.gather(*(claim(storage, owner=f"p{n}", limit=3) for n in range(8)))
    ids = [post.id for batch in batches for post in batch]
    assert len(ids) == len(set(ids)) == 12


async def test_runs_with_a_target_feed_the_outbox_until_seen(storage: Storage) -> None:
    _, (run_id,) = await _deliver(storage, _push(1), WITH_TARGET)
    manual = RunRequest(workspace="shop", suite="smoke", config_revision="r", trigger_type="manual")
    await storage.queue_run(manual, at=T0)
    (change,) = await storage.run_status_changes()
    assert (change.run.id, change.run.request.status_target) == (run_id, TARGET)
    await storage.desire_statuses([], now=T0, runs_seen=[change.run])
    assert await storage.run_status_changes() == []
    claimed = await storage.claim_run(owner="r", now=T0, lease_until=T0 + LEASE, max_attempts=3)
    assert claimed is not None
    assert claimed.id == run_id
    assert await storage.run_status_changes() == []  # running shows the same pending
    await storage.finish_run(
        run_id, owner="r", state="passed", message="1/1", result={}, junit=b"", now=T0
    )
    (finished,) = await storage.run_status_changes()
    assert finished.run.state == "passed"


async def test_a_run_changed_after_it_was_read_stays_unseen(storage: Storage) -> None:
    _, (run_id,) = await _deliver(storage, _push(1), WITH_TARGET)
    (stale,) = await storage.run_status_changes()
    claimed = await storage.claim_run(
        owner="r", now=T0 + timedelta(seconds=1), lease_until=T0 + LEASE, max_attempts=3
    )
    assert claimed is not None
    await storage.desire_statuses([], now=T0, runs_seen=[stale.run])
    (still,) = await storage.run_status_changes()
    assert (still.run.id, still.run.state) == (run_id, "running")


async def test_a_superseded_run_names_the_revision_that_replaced_it(storage: Storage) -> None:
    _, (old,) = await _deliver(storage, _push(1), WITH_TARGET)
    newer = dataclasses.replace(WITH_TARGET, trigger_ref="b" * 40)
    _, (new,) = await _deliver(storage, _push(2), newer)
    changes = {c.run.id: c for c in await storage.run_status_changes()}
    assert changes[old].run.state == "superseded"
    assert (changes[old].superseded_by_ref, changes[new].superseded_by_ref) == ("b" * 40, "")


async def test_the_watchdog_ends_runs_nobody_will_run(storage: Storage) -> None:
    other = dataclasses.replace(WITH_TARGET, rule="other", lane="other")
    _, (stranded,) = await _deliver(storage, _push(2), other, at=T0 + timedelta(hours=2))
    _, (waiting,) = await _deliver(storage, _push(1), WITH_TARGET)
    claimed = await storage.claim_run(
        owner="gone",
        now=T0 + timedelta(hours=2),
        lease_until=T0 + timedelta(hours=2),
        max_attempts=3,
    )
    assert claimed is not None
    assert claimed.id == stranded
    await storage.desire_statuses(
        [], now=T0, runs_seen=[c.run for c in await storage.run_status_changes()]
    )
    now = T0 + timedelta(hours=2, minutes=30)
    changed = await watchdog(storage, now, "not started in time", "runner gone")
    assert changed == 2
    runs = {c.run.id: c.run for c in await storage.run_status_changes()}
    assert (runs[waiting].state, runs[waiting].message) == ("error", "not started in time")
    assert (runs[stranded].state, runs[stranded].message) == ("error", "runner gone")


async def test_the_watchdog_hands_back_a_run_whose_status_still_says_pending(
    storage: Storage,
) -> None:
    _, (run_id,) = await _deliver(storage, _push(1), WITH_TARGET)
    await storage.desire_statuses([desired(run=run_id)], now=T0)
    claimed = await storage.claim_run(owner="r", now=T0, lease_until=T0 + LEASE, max_attempts=3)
    assert claimed is not None
    await storage.finish_run(
        run_id, owner="r", state="failed", message="1 of 1 failed", result={}, junit=b"", now=T0
    )
    await storage.desire_statuses(
        [], now=T0, runs_seen=[c.run for c in await storage.run_status_changes()]
    )
    assert await storage.run_status_changes() == []  # as if the final state had been lost
    changed = await watchdog(storage, T0)
    assert changed == 1
    ((change,),) = [await storage.run_status_changes()]
    assert change.run.state == "failed"


async def test_the_watchdog_ends_a_pending_status_whose_run_is_gone(storage: Storage) -> None:
    await storage.desire_statuses([desired(run=999)], now=T0)
    changed = await watchdog(storage, T0)
    assert changed == 1
    (post,) = await claim(storage)
    assert (post.desired.state, post.desired.description, post.version) == (
        "error",
        "the run no longer exists",
        2,
    )
