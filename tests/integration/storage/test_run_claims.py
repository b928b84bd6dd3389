"""Run claims: oldest first, leases renewed and lost, crash recovery, finishing, releasing."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from controller.errors import NotFound, StorageError
from controller.models.runs import RunRequest
from controller.storage import Storage
from tests.integration.storage.test_environments import PR_123
from tests.integration.storage.test_runs import REQUEST, T0, _deliver, _push

pytestmark = pytest.mark.anyio
LEASE = timedelta(seconds=30)
MANUAL = RunRequest(workspace="shop", suite="smoke", config_revision="rev-1", trigger_type="manual")


async def test_claims_take_the_oldest_queued_run_once(storage: Storage) -> None:
    first = await storage.queue_run(MANUAL, at=T0)
    second = await storage.queue_run(MANUAL, at=T0)
    claimed = await storage.claim_run(owner="a", now=T0, lease_until=T0 + LEASE, max_attempts=3)
    assert claimed is not None
    assert (claimed.id, claimed.state, claimed.attempt, claimed.started_at) == (
        first.id,
        "running",
        1,
        T0,
    )
    again = await storage.claim_run(owner="b", now=T0, lease_until=T0 + LEASE, max_attempts=3)
    assert again is not None
    assert again.id == second.id
    assert (
        await storage.claim_run(owner="c", now=T0, lease_until=T0 + LEASE, max_attempts=3) is None
    )


async def test_parallel_claims_never_take_the_same_run(storage: Storage) -> None:
    queued = [await storage.queue_run(MANUAL, at=T0) for _ in range(6)]
    claims = await asyncio.gather(
        *(
            storage.claim_run(owner=f"r{n}", now=T0, lease_until=T0 + LEASE, max_attempts=3)
            for n in range(10)
        )
    )
    ids = [run.id for run in claims if run is not None]
    assert sorted(ids) == [run.id for run in queued]


async def test_heartbeat_extends_the_lease_and_reports_a_superseded_run(storage: Storage) -> None:
    _, (old,) = await _deliver(storage, _push(1), REQUEST)
    claimed = await storage.claim_run(owner="a", now=T0, lease_until=T0 + LEASE, max_attempts=3)
    assert claimed is not None
    assert claimed.id == old
    later = T0 + timedelta(seconds=20)
    assert (
        await storage.heartbeat_run(old, owner="a", now=later, lease_until=later + LEASE)
        == "running"
    )
    await _deliver(storage, _push(2), dataclasses.replace(REQUEST, trigger_ref="b" * 40))
    assert (
        await storage.heartbeat_run(old, owner="a", now=later, lease_until=later + LEASE)
        == "superseded"
    )
    assert (await storage.get_run(old)).state == "superseded"


async def test_an_expired_claim_is_taken_over_and_the_old_owner_is_told(storage: Storage) -> None:
    run = await storage.queue_run(MANUAL, at=T0)
    await storage.claim_run(owner="crashed", now=T0, lease_until=T0 + LEASE, max_attempts=3)
    after = T0 + LEASE + timedelta(seconds=1)
    taken = await storage.claim_run(owner="b", now=after, lease_until=after + LEASE, max_attempts=3)
    assert taken is not None
    assert (taken.id, taken.attempt) == (run.id, 2)
    assert (
        await storage.heartbeat_run(run.id, owner="crashed", now=after, lease_until=after + LEASE)
        == "cancelled"
    )
    with pytest.raises(StorageError, match="not claimed by crashed"):
        await storage.finish_run(
            run.id, owner="crashed", state="passed", message="", result={}, junit=b"", now=after
        )


async def test_a_run_interrupted_max_attempts_times_ends_in_error(storage: Storage) -> None:
    run = await storage.queue_run(MANUAL, at=T0)
    now = T0
    for attempt in range(2):
        claimed = await storage.claim_run(
            owner=f"r{attempt}", now=now, lease_until=now + LEASE, max_attempts=2
        )
        assert claimed is not None
        assert claimed.attempt == attempt + 1
        now += LEASE + timedelta(seconds=1)
    assert (
        await storage.claim_run(owner="r2", now=now, lease_until=now + LEASE, max_attempts=2)
        is None
    )
    ended = await storage.get_run(run.id)
    assert (ended.state, ended.message) == (
        "error",
        "interrupted 2 times (its runner stopped); not retried",
    )
    attempts = await storage.run_attempts(run.id)
    assert [(a.attempt, a.owner, a.outcome, a.ended_at) for a in attempts] == [
        (1, "r0", "interrupted", T0 + LEASE + timedelta(seconds=1)),
        (2, "r1", "interrupted", now),
    ]


async def test_every_attempt_is_recorded_with_how_it_ended(storage: Storage) -> None:
    run = await storage.queue_run(MANUAL, at=T0)
    await storage.claim_run(owner="a", now=T0, lease_until=T0 + LEASE, max_attempts=3)
    assert [(a.attempt, a.owner, a.outcome) for a in await storage.run_attempts(run.id)] == [
        (1, "a", None)
    ]
    await storage.release_run(run.id, owner="a", now=T0, reason="meshgate stopped")
    later = T0 + timedelta(seconds=5)
    await storage.claim_run(owner="b", now=later, lease_until=later + LEASE, max_attempts=3)
    await storage.finish_run(
        run.id, owner="b", state="failed", message="", result={}, junit=b"", now=later
    )
    attempts = await storage.run_attempts(run.id)
    assert [(a.attempt, a.owner, a.outcome, a.note) for a in attempts] == [
        (1, "a", "released", "meshgate stopped"),
        (2, "b", "finished", "failed"),
    ]
    assert (attempts[1].started_at, attempts[1].ended_at) == (later, later)


async def test_a_run_that_missed_its_supersede_is_superseded_when_claimed(
    storage: Storage,
) -> None:
    """Two replicas queuing one lane at the same instant each miss the other's run: the
    older one is still queued. (Made here by putting it back in the queue.)"""
    _, (older,) = await _deliver(storage, _push(1), REQUEST)
    _, (newer,) = await _deliver(storage, _push(2), REQUEST)
    async with storage._db.write("undoing a supersede") as conn:
        await conn.execute(
            text("UPDATE runs SET state = 'queued', superseded_by = NULL WHERE id = :id"),
            {"id": older},
        )
    claimed = await storage.claim_run(owner="a", now=T0, lease_until=T0 + LEASE, max_attempts=3)
    assert claimed is not None
    assert claimed.id == newer
    missed = await storage.get_run(older)
    assert (missed.state, missed.superseded_by) == ("superseded", newer)


async def test_a_run_abandoned_after_its_attempts_lets_go_of_its_environment(
    storage: Storage,
) -> None:
    run = await storage.queue_run(MANUAL, at=T0)
    claimed = await storage.claim_run(owner="r0", now=T0, lease_until=T0 + LEASE, max_attempts=1)
    assert claimed is not None
    acquired = await storage.acquire_environment(
        PR_123, run_id=run.id, worker="r0", now=T0, lease_until=T0 + LEASE
    )
    assert acquired.environment is not None
    await storage.environment_ready(
        acquired.environment.id, worker="r0", routing={}, application="app-pr-123", now=T0
    )
    later = T0 + LEASE + timedelta(seconds=1)
    assert (
        await storage.claim_run(owner="r1", now=later, lease_until=later + LEASE, max_attempts=1)
        is None
    )
    assert (await storage.get_run(run.id)).state == "error"
    environment = await storage.get_environment(acquired.environment.id)
    assert (environment.leases, environment.expires_at) == (
        (),
        later + timedelta(seconds=PR_123.ttl_seconds),
    )


async def test_finish_stores_the_evidence_and_a_superseded_run_stays_superseded(
    storage: Storage,
) -> None:
    _, (old,) = await _deliver(storage, _push(1), REQUEST)
    await storage.claim_run(owner="a", now=T0, lease_until=T0 + LEASE, max_attempts=3)
    done = T0 + timedelta(seconds=5)
    finished = await storage.finish_run(
        old,
        owner="a",
        state="failed",
        message="1 of 3 flows failed",
        result={"status": "failed"},
        junit=b"<x/>",
        now=done,
    )
    assert (finished.state, finished.message, finished.finished_at) == (
        "failed",
        "1 of 3 flows failed",
        done,
    )
    assert await storage.run_result(old) == ({"status": "failed"}, b"<x/>")

    _, (second,) = await _deliver(
        storage, _push(2), dataclasses.replace(REQUEST, trigger_ref="b" * 40)
    )
    await storage.claim_run(owner="a", now=done, lease_until=done + LEASE, max_attempts=3)
    await _deliver(storage, _push(3), dataclasses.replace(REQUEST, trigger_ref="c" * 40))
    ended = await storage.finish_run(
        second,
        owner="a",
        state="passed",
        message="ok",
        result={"status": "passed"},
        junit=b"<y/>",
        now=done,
    )
    assert ended.state == "superseded"
    assert (await storage.run_result(second))[0] == {"status": "passed"}


async def test_release_puts_a_run_back_in_the_queue(storage: Storage) -> None:
    run = await storage.queue_run(MANUAL, at=T0)
    await storage.claim_run(owner="a", now=T0, lease_until=T0 + LEASE, max_attempts=3)
    assert await storage.release_run(run.id, owner="a", now=T0, reason="meshgate stopped") is True
    assert await storage.release_run(run.id, owner="a", now=T0, reason="again") is False
    back = await storage.get_run(run.id)
    assert (back.state, back.message, back.attempt) == ("queued", "meshgate stopped", 1)
    again = await storage.claim_run(owner="b", now=T0, lease_until=T0 + LEASE, max_attempts=3)
    assert again is not None
    assert again.attempt == 2


async def test_a_result_is_not_found_before_the_run_ends(storage: Storage) -> None:
    run = await storage.queue_run(MANUAL, at=T0)
    with pytest.raises(NotFound):
        await storage.run_result(run.id)
    with pytest.raises(StorageError, match="ends passed, failed or error"):
        await storage.finish_run(
            run.id, owner="a", state="running", message="", result={}, junit=b"", now=T0
        )


async def test_a_running_run_says_what_it_waits_for(storage: Storage) -> None:
    queued = await storage.queue_run(MANUAL, at=T0)
    waiting = "waiting for room for environment 'pr-3': workspace 'shop' has 2 of 2"
    await storage.note_running_run(queued.id, message=waiting, now=T0)
    assert (await storage.get_run(queued.id)).message == "", "only a running run is noted"
    claimed = await storage.claim_run(owner="a", now=T0, lease_until=T0 + LEASE, max_attempts=3)
    assert claimed is not None
    await storage.note_running_run(claimed.id, message=waiting, now=T0)
    assert (await storage.get_run(claimed.id)).message == waiting


async def test_progress_is_kept_while_the_run_runs_and_dropped_with_its_result(
    storage: Storage,
) -> None:
    queued = await storage.queue_run(MANUAL, at=T0)
    flows: list[dict[str, Any]] = [
        {"label": "place-order", "status": "running", "steps": [{"name": "create"}]}
    ]
    assert not await storage.record_progress(queued.id, owner="a", flows=flows, now=T0)
    claimed = await storage.claim_run(owner="a", now=T0, lease_until=T0 + LEASE, max_attempts=3)
    assert claimed is not None
    assert await storage.run_progress(claimed.id) == []
    assert await storage.record_progress(claimed.id, owner="a", flows=flows, now=T0)
    more = [*flows, {"label": "user-signup", "status": "passed", "steps": []}]
    assert await storage.record_progress(claimed.id, owner="a", flows=more, now=T0)
    assert not await storage.record_progress(claimed.id, owner="b", flows=[], now=T0)
    assert await storage.run_progress(claimed.id) == more
    await storage.finish_run(
        claimed.id, owner="a", state="passed", message="ok", result={}, junit=b"", now=T0
    )
    assert await storage.run_progress(claimed.id) == []


async def test_a_rerun_repeats_the_run_in_no_lane(storage: Storage) -> None:
    _, (original,) = await _deliver(storage, _push(1), REQUEST)
    pinned = await storage.queue_rerun(original, config_revision=None, at=T0)
    latest = await storage.queue_rerun(original, config_revision="rev-9", at=T0)
    first = await storage.get_run(original)
    assert first.state == "queued", "a re-run supersedes nothing"
    for rerun, revision, is_pinned in (
        (pinned, first.request.config_revision, True),
        (latest, "rev-9", False),
    ):
        assert (rerun.request.rerun_of, rerun.request.config_pinned) == (original, is_pinned)
        assert (rerun.request.config_revision, rerun.request.lane) == (revision, None)
        assert rerun.delivery == first.delivery
        assert rerun.request.trigger_ref == first.request.trigger_ref
        stored = await storage.get_run(rerun.id)
        assert stored.request == rerun.request
    with pytest.raises(NotFound):
        await storage.queue_rerun(10**6, config_revision=None, at=T0)


async def test_a_released_run_waits_until_its_not_before(storage: Storage) -> None:
    queued = await storage.queue_run(MANUAL, at=T0)
    claimed = await storage.claim_run(owner="a", now=T0, lease_until=T0 + LEASE, max_attempts=3)
    assert claimed is not None
    retry = T0 + timedelta(seconds=10)
    assert await storage.release_run(
        queued.id, owner="a", now=T0, reason="Argo CD unavailable", not_before=retry
    )
    early = retry - timedelta(seconds=1)
    assert await storage.claim_run(owner="b", now=early, lease_until=early, max_attempts=3) is None
    again = await storage.claim_run(owner="b", now=retry, lease_until=retry + LEASE, max_attempts=3)
    assert again is not None
    assert (again.id, again.attempt) == (queued.id, 2)
