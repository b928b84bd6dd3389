"""Environments on both backends: one per context, provisioned once, reused, released into a
TTL, torn down only when no run holds them."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest

from controller.errors import StorageError
from controller.models.environments import EnvironmentRequest
from controller.models.runs import RunRequest
from controller.storage import Storage
from tests.integration.storage.test_runs import T0

pytestmark = pytest.mark.anyio
LEASE = timedelta(minutes=10)
PR_123 = EnvironmentRequest(
    workspace="shop",
    context="pr-123",
    template="pr-preview",
    provisioner="argocd",
    ttl_seconds=7200,
)
MANUAL = RunRequest(workspace="shop", suite="smoke", config_revision="rev-1", trigger_type="manual")
ROUTES = {"user-service": "http://user-service.review-pr-123:8080"}


async def acquire(storage: Storage, run: int, worker: str = "w1", at: timedelta = timedelta(0)):  # type: ignore[no-untyped-def]
    now = T0 + at
    return await storage.acquire_environment(
        PR_123, run_id=run, worker=worker, now=now, lease_until=now + LEASE
    )


async def test_the_first_run_provisions_and_later_ones_reuse(storage: Storage) -> None:
    first = await acquire(storage, 1)
    assert (first.role, first.environment.state, first.environment.leases) == (
        "provision",
        "provisioning",
        (1,),
    )
    ready = await storage.environment_ready(
        first.environment.id, worker="w1", routing=ROUTES, application="user-service-pr-123", now=T0
    )
    assert (ready.state, ready.routing, ready.ready_at) == ("ready", ROUTES, T0)
    second = await acquire(storage, 2, worker="w2", at=timedelta(hours=1))
    assert (second.role, second.environment.id, second.environment.leases) == (
        "ready",
        first.environment.id,
        (1, 2),
    )


async def test_runs_that_ask_at_once_provision_exactly_once(storage: Storage) -> None:
    results = await asyncio.gather(*(acquire(storage, n, worker=f"w{n}") for n in range(1, 11)))
    assert sorted(r.role for r in results) == ["provision"] + ["wait"] * 9
    assert len({r.environment.id for r in results}) == 1
    (env,) = await storage.list_environments(workspace="shop")
    assert env.leases == tuple(range(1, 11))


async def test_a_stalled_provisioning_is_taken_over(storage: Storage) -> None:
    first = await acquire(storage, 1)
    late = await acquire(storage, 2, worker="w2", at=LEASE + timedelta(seconds=1))
    assert (late.role, late.environment.id) == ("provision", first.environment.id)
    with pytest.raises(StorageError):
        await storage.environment_ready(
            first.environment.id, worker="w1", routing=ROUTES, application=None, now=T0
        )


async def test_a_failed_provisioning_frees_the_context_and_tells_why(storage: Storage) -> None:
    first = await acquire(storage, 1)
    await acquire(storage, 2, worker="w2")
    failed = await storage.environment_failed(
        first.environment.id, worker="w1", message="Application turned Degraded", now=T0
    )
    assert (failed.state, failed.message, failed.leases) == (
        "failed",
        "Application turned Degraded",
        (),
    )
    again = await acquire(storage, 3, worker="w3")
    assert again.role == "provision"
    assert again.environment.id != first.environment.id


async def test_the_ttl_counts_from_the_last_release_and_a_held_one_never_expires(
    storage: Storage,
) -> None:
    first = await acquire(storage, 1)
    env_id = first.environment.id
    await storage.environment_ready(env_id, worker="w1", routing=ROUTES, application=None, now=T0)
    await acquire(storage, 2)
    await storage.release_environment(env_id, run_id=1, now=T0 + timedelta(minutes=5))
    later = T0 + timedelta(hours=5)
    assert (
        await storage.claim_expired_environment(worker="sweeper", now=later, lease_until=later)
        is None
    )
    released = T0 + timedelta(hours=6)
    await storage.release_environment(env_id, run_id=2, now=released)
    env = await storage.get_environment(env_id)
    assert (env.last_used_at, env.expires_at) == (released, released + timedelta(hours=2))
    before = released + timedelta(hours=1, minutes=59)
    assert (
        await storage.claim_expired_environment(worker="sweeper", now=before, lease_until=before)
        is None
    )
    after = released + timedelta(hours=2)
    taken = await storage.claim_expired_environment(
        worker="sweeper", now=after, lease_until=after + LEASE
    )
    assert taken is not None
    assert (taken.id, taken.state) == (env_id, "deleting")
    waiting = await acquire(storage, 3, at=timedelta(hours=8, minutes=1))
    assert (waiting.role, waiting.environment.leases) == ("wait", ())
    await storage.environment_deleted(env_id, worker="sweeper", now=after)
    fresh = await acquire(storage, 3, at=timedelta(hours=9))
    assert fresh.role == "provision"
    assert fresh.environment.id != env_id
    states = {e.id: e.state for e in await storage.list_environments(workspace="shop")}
    assert states == {env_id: "deleted", fresh.environment.id: "provisioning"}


async def test_a_run_revives_an_environment_about_to_expire(storage: Storage) -> None:
    first = await acquire(storage, 1)
    env_id = first.environment.id
    await storage.environment_ready(env_id, worker="w1", routing=ROUTES, application=None, now=T0)
    await storage.release_environment(env_id, run_id=1, now=T0)
    back = await acquire(storage, 2, at=timedelta(hours=3))
    assert (back.role, back.environment.expires_at) == ("ready", None)


async def test_environments_are_listed_newest_first_with_their_runs(storage: Storage) -> None:
    first = await acquire(storage, 1)
    await storage.environment_failed(first.environment.id, worker="w1", message="no", now=T0)
    second = await acquire(storage, 2)
    listed = await storage.list_environments(workspace="shop")
    assert [(e.id, e.state) for e in listed] == [
        (second.environment.id, "provisioning"),
        (first.environment.id, "failed"),
    ]
    (active,) = await storage.list_environments(workspace="shop", active_only=True)
    assert active.to_dict()["runs"] == [2]
    assert await storage.list_environments(workspace="other") == []


async def ready_environment(storage: Storage, run: int = 1, request: EnvironmentRequest = PR_123):  # type: ignore[no-untyped-def]
    acquired = await storage.acquire_environment(
        request, run_id=run, worker="w1", now=T0, lease_until=T0 + LEASE
    )
    assert acquired.environment is not None
    return await storage.environment_ready(
        acquired.environment.id,
        worker="w1",
        routing=ROUTES,
        application=f"user-service-{request.context}",
        project="previews",
        now=T0,
    )


async def test_an_environment_remembers_where_its_application_lives(storage: Storage) -> None:
    request = replace(PR_123, integration="argocd-staging")
    env = await ready_environment(storage, request=request)
    assert (env.application, env.integration, env.project) == (
        "user-service-pr-123",
        "argocd-staging",
        "previews",
    )
    assert await storage.active_environment_applications(workspace="shop") == {
        "pr-123": "user-service-pr-123"
    }
    assert await storage.active_environment_applications(workspace="other") == {}


async def test_past_its_ttl_an_environment_shows_expiring_until_it_is_claimed(
    storage: Storage,
) -> None:
    env = await ready_environment(storage)
    other = await ready_environment(storage, run=2, request=replace(PR_123, context="pr-124"))
    await storage.release_environment(env.id, run_id=1, now=T0)
    await storage.release_environment(other.id, run_id=2, now=T0)
    later = T0 + timedelta(hours=3)
    taken = await storage.claim_expired_environment(
        worker="sweeper", now=later, lease_until=later + LEASE
    )
    assert taken is not None
    assert taken.state == "deleting"
    states = {e.context: e.state for e in await storage.list_environments(workspace="shop")}
    assert states == {"pr-123": "deleting", "pr-124": "expiring"}


async def test_a_failed_teardown_is_claimed_again_once_its_retry_is_due(storage: Storage) -> None:
    env = await ready_environment(storage)
    await storage.release_environment(env.id, run_id=1, now=T0)
    due = T0 + timedelta(hours=2)
    taken = await storage.claim_expired_environment(worker="s1", now=due, lease_until=due + LEASE)
    assert taken is not None
    failed = await storage.environment_teardown_failed(
        env.id,
        worker="s1",
        message="Argo CD unavailable",
        retry_at=due + timedelta(seconds=30),
        now=due,
    )
    assert (failed.state, failed.message, failed.teardown_attempts) == (
        "deleting",
        "Argo CD unavailable",
        1,
    )
    soon = due + timedelta(seconds=29)
    assert await storage.claim_expired_environment(worker="s2", now=soon, lease_until=soon) is None
    retry = due + timedelta(seconds=31)
    again = await storage.claim_expired_environment(
        worker="s2", now=retry, lease_until=retry + LEASE
    )
    assert again is not None
    assert again.id == env.id
    with pytest.raises(StorageError):
        await storage.environment_deleted(env.id, worker="s1", now=retry)
    await storage.environment_deleted(env.id, worker="s2", now=retry)
    gone = await storage.get_environment(env.id)
    assert (gone.state, gone.message, gone.deleted_at) == ("deleted", "", retry)


async def test_a_closed_pull_request_expires_its_environment_once_no_run_holds_it(
    storage: Storage,
) -> None:
    held = await ready_environment(storage)
    idle = await ready_environment(storage, run=2, request=replace(PR_123, context="pr-124"))
    await storage.release_environment(idle.id, run_id=2, now=T0)
    closed = T0 + timedelta(minutes=5)
    asked = await storage.request_environment_close(
        workspace="shop", contexts=["pr-123", "pr-124", "pr-999"], now=closed
    )
    assert asked == 2
    assert (
        await storage.request_environment_close(workspace="shop", contexts=["pr-123"], now=closed)
        == 0
    )
    taken = await storage.claim_expired_environment(
        worker="s", now=closed, lease_until=closed + LEASE
    )
    assert taken is not None
    assert taken.id == idle.id
    assert (
        await storage.claim_expired_environment(worker="s", now=closed, lease_until=closed) is None
    )
    released = closed + timedelta(minutes=1)
    await storage.release_environment(held.id, run_id=1, now=released)
    env = await storage.get_environment(held.id)
    assert (env.expires_at, env.close_requested_at) == (released, closed)
    last = await storage.claim_expired_environment(
        worker="s", now=released, lease_until=released + LEASE
    )
    assert last is not None
    assert last.id == held.id


async def test_a_full_workspace_refuses_a_new_context_and_expires_its_idle_one(
    storage: Storage,
) -> None:
    budget = replace(PR_123, budget=2)
    first = await ready_environment(storage, run=1, request=replace(budget, context="pr-1"))
    await ready_environment(storage, run=2, request=replace(budget, context="pr-2"))
    static = replace(budget, context="docs", provisioner="static")
    assert (
        await storage.acquire_environment(
            static, run_id=3, worker="w", now=T0, lease_until=T0 + LEASE
        )
    ).role == "provision"
    full = await storage.acquire_environment(
        replace(budget, context="pr-3"), run_id=4, worker="w", now=T0, lease_until=T0 + LEASE
    )
    assert (full.role, full.environment, full.live) == ("full", None, 2)
    held = {e.context: e.expires_at for e in await storage.list_environments(workspace="shop")}
    assert held["pr-1"] is None, "held environments are never expired to make room"
    later = T0 + timedelta(minutes=1)
    await storage.release_environment(first.id, run_id=1, now=later)
    full = await storage.acquire_environment(
        replace(budget, context="pr-3"), run_id=4, worker="w", now=later, lease_until=later + LEASE
    )
    assert full.role == "full"
    evicted = await storage.get_environment(first.id)
    assert (evicted.expires_at, evicted.message) == (later, "expired early to make room")
    taken = await storage.claim_expired_environment(
        worker="s", now=later, lease_until=later + LEASE
    )
    assert taken is not None
    assert taken.id == first.id
    await storage.environment_deleted(first.id, worker="s", now=later)
    room = await storage.acquire_environment(
        replace(budget, context="pr-3"), run_id=4, worker="w", now=later, lease_until=later + LEASE
    )
    assert room.role == "provision"


async def test_the_budget_holds_when_new_contexts_are_asked_for_at_once(storage: Storage) -> None:
    async def ask(n: int) -> str:
        request = replace(PR_123, context=f"pr-{n}", budget=3)
        acquired = await storage.acquire_environment(
            request, run_id=n, worker=f"w{n}", now=T0, lease_until=T0 + LEASE
        )
        return acquired.role

    roles = await asyncio.gather(*(ask(n) for n in range(10)))
    assert sorted(roles) == ["full"] * 7 + ["provision"] * 3


async def test_a_full_workspace_expires_one_idle_environment_at_a_time(storage: Storage) -> None:
    budget = replace(PR_123, budget=2)
    for n in (1, 2):
        env = await ready_environment(storage, run=n, request=replace(budget, context=f"pr-{n}"))
        await storage.release_environment(env.id, run_id=n, now=T0 + timedelta(minutes=n))
    later = T0 + timedelta(minutes=5)
    for _ in range(3):
        full = await storage.acquire_environment(
            replace(budget, context="pr-3"),
            run_id=3,
            worker="w",
            now=later,
            lease_until=later + LEASE,
        )
        assert full.role == "full"
    expiring = {
        e.context: e.expires_at == later for e in await storage.list_environments(workspace="shop")
    }
    assert expiring == {"pr-1": True, "pr-2": False}, "the least recently used one only"


async def test_only_its_worker_renews_the_work_on_an_environment(storage: Storage) -> None:
    first = await acquire(storage, 1)
    env_id = first.environment.id
    later = T0 + timedelta(minutes=9)
    assert await storage.renew_environment_work(
        env_id, worker="w1", now=later, lease_until=later + LEASE
    )
    assert not await storage.renew_environment_work(
        env_id, worker="w2", now=later, lease_until=later + LEASE
    )
    # Renewed at 9 min: still w1's at 15 min, so a second run waits instead of taking over.
    second = await acquire(storage, 2, worker="w2", at=timedelta(minutes=15))
    assert second.role == "wait"


async def test_a_sweep_first_drops_the_leases_of_runs_that_ended_without_releasing(
    storage: Storage,
) -> None:
    """A run whose replica died is ended by others (superseded, or given up): its lease
    must not keep the environment alive."""
    run = await storage.queue_run(MANUAL, at=T0)
    await storage.claim_run(owner="r0", now=T0, lease_until=T0 + LEASE, max_attempts=3)
    first = await acquire(storage, run.id, worker="r0")
    await storage.environment_ready(
        first.environment.id, worker="r0", routing=ROUTES, application="app", now=T0
    )
    await storage.finish_run(
        run.id, owner="r0", state="passed", message="", result={}, junit=b"", now=T0
    )
    later = T0 + timedelta(hours=3)
    assert (
        await storage.claim_expired_environment(worker="s", now=later, lease_until=later + LEASE)
        is None
    )
    released = await storage.get_environment(first.environment.id)
    assert (released.leases, released.expires_at) == ((), later + timedelta(hours=2))
    gone = later + timedelta(hours=2, seconds=1)
    claimed = await storage.claim_expired_environment(
        worker="s", now=gone, lease_until=gone + LEASE
    )
    assert claimed is not None
    assert claimed.state == "deleting"


async def test_a_provisioning_left_by_its_run_waits_for_a_taker_then_is_torn_down(
    storage: Storage,
) -> None:
    first = await acquire(storage, 1)
    await storage.abandon_environment_work(first.environment.id, worker="w1", now=T0)
    await storage.release_environment(first.environment.id, run_id=1, now=T0)
    taken = await acquire(storage, 2, worker="w2", at=timedelta(minutes=1))
    assert (taken.role, taken.environment.id) == ("provision", first.environment.id)
    await storage.abandon_environment_work(first.environment.id, worker="w2", now=T0)
    await storage.release_environment(first.environment.id, run_id=2, now=T0)
    soon = T0 + timedelta(minutes=2)
    assert (
        await storage.claim_expired_environment(worker="s", now=soon, lease_until=soon + LEASE)
        is None
    )
    late = T0 + timedelta(minutes=6)
    claimed = await storage.claim_expired_environment(
        worker="s", now=late, lease_until=late + LEASE
    )
    assert claimed is not None
    assert (claimed.id, claimed.state) == (first.environment.id, "deleting")
