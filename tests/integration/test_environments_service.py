"""Environments leased to runs, with real storage and the fake Argo CD: ten runs of a new
context at once provision one Application; a failure reaches every waiting run."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from controller.environments.argocd_provisioner import ProvisionFailed
from controller.models.environments import Environment
from tests.support.environments import environment_stack

pytestmark = pytest.mark.anyio


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
