"""Environments on both backends: one per context, provisioned once, reused, released into a
TTL, torn down only when no run holds them."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from controller.errors import StorageError
from controller.models.environments import EnvironmentRequest
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
