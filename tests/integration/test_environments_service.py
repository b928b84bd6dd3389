"""Environments leased to runs, with real storage and the fake Argo CD: ten runs of a new
context at once provision one Application; a failure reaches every waiting run."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from controller.environments.argocd_provisioner import ProvisionFailed
from controller.models.environments import Environment
from tests.support.environments import Setup, environment_stack
from tests.support.waiting import eventually

pytestmark = pytest.mark.anyio


async def leased(s: Setup, run_id: int, context: str) -> Environment:
    """The environment ``run_id`` gets for ``context`` (released again at once)."""
    async with s.environments.held(run_id=run_id, template=s.template, context=context) as env:
        return env


async def test_ten_runs_of_a_new_context_provision_one_application(tmp_path: Path) -> None:
    async with environment_stack(tmp_path) as s:
        gate, all_in = asyncio.Event(), asyncio.Event()
        seen: list[Environment] = []

        async def run(run_id: int) -> None:
            async with s.environments.held(
                run_id=run_id, template=s.template, context="pr-1"
            ) as env:
                seen.append(env)
                if len(seen) == 10:
                    all_in.set()
                await gate.wait()

        tasks = [asyncio.create_task(run(n)) for n in range(1, 11)]
        async with asyncio.timeout(30):
            await all_in.wait()
        assert s.argocd.created() == ["/api/v1/applications"]
        assert {env.id for env in seen} == {seen[0].id}
        assert all(env.state == "ready" for env in seen)
        (held,) = await s.storage.list_environments(workspace="shop")
        assert held.leases == tuple(range(1, 11))
        gate.set()
        await asyncio.gather(*tasks)
        (released,) = await s.storage.list_environments(workspace="shop")
        assert (released.leases, released.expires_at is not None) == ((), True)


async def test_a_failed_provisioning_fails_every_waiting_run(tmp_path: Path) -> None:
    async with environment_stack(tmp_path) as s:
        s.argocd.degrade("user-service-pr-2")

        async def run(run_id: int) -> str:
            try:
                async with s.environments.held(run_id=run_id, template=s.template, context="pr-2"):
                    return "ran"
            except ProvisionFailed as exc:
                return str(exc)

        outcomes = await asyncio.gather(*(run(n) for n in range(1, 4)))
        assert all("turned Degraded" in outcome for outcome in outcomes)
        assert len(s.argocd.created()) == 1
        (env,) = await s.storage.list_environments(workspace="shop")
        assert (env.state, env.leases) == ("failed", ())


async def test_a_provisioning_whose_run_is_cancelled_is_taken_over_by_a_waiting_run(
    tmp_path: Path,
) -> None:
    """The provisioning run was superseded (or its replica stopped) mid-way: the run that
    waits for the same context finishes the provisioning instead of failing with it."""
    async with environment_stack(tmp_path) as s:
        s.argocd.polls_per_stage = 50  # stays progressing until the first run is cancelled

        first = asyncio.create_task(leased(s, 1, "pr-3"))
        await eventually(lambda: s.storage.list_environments(workspace="shop"), until=bool)
        second = asyncio.create_task(leased(s, 2, "pr-3"))
        await eventually(
            lambda: s.storage.list_environments(workspace="shop"),
            until=lambda envs: envs[0].leases == (1, 2),
        )
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        s.argocd.polls_per_stage = 1
        async with asyncio.timeout(30):
            env = await second
        assert env.state == "ready"
        assert s.argocd.creations == ["user-service-pr-3"]
        (stored,) = await s.storage.list_environments(workspace="shop")
        assert (stored.state, stored.leases) == ("ready", ())


async def test_a_provisioning_longer_than_its_lease_keeps_its_claim(tmp_path: Path) -> None:
    """Argo CD takes several leases to make the Application healthy: the provisioning
    renews its claim, so a run that asks meanwhile waits instead of provisioning again."""
    lease = timedelta(milliseconds=400)
    async with environment_stack(tmp_path, worker_lease=lease) as s:
        s.argocd.polls_per_stage = 50  # progressing until the test lets it finish
        first = asyncio.create_task(leased(s, 1, "pr-4"))
        await eventually(
            lambda: s.storage.list_environments(workspace="shop"),
            until=lambda envs: (
                bool(envs)
                and envs[0].state == "provisioning"
                and s.clock() > envs[0].created_at + 3 * lease
            ),
        )
        second = asyncio.create_task(leased(s, 2, "pr-4"))
        await eventually(
            lambda: s.storage.list_environments(workspace="shop"),
            until=lambda envs: envs[0].leases == (1, 2),
        )
        s.argocd.polls_per_stage = 1
        async with asyncio.timeout(30):
            ready = await asyncio.gather(first, second)
        assert ready[0].id == ready[1].id
        assert s.argocd.created() == ["/api/v1/applications"]
