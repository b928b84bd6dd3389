"""Environments leased to runs, with real storage and the fake Argo CD: ten runs of a new
context at once provision one Application; a failure reaches every waiting run."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from controller.clients.argocd import ArgoCDClient
from controller.environments.argocd_provisioner import ArgoCDProvisioner, ProvisionFailed
from controller.environments.service import Environments, EnvironmentSettings
from controller.models.documents import ConfigDocument
from controller.models.environments import Environment
from controller.settings import Secret
from controller.storage import Storage
from tests.support.config import EXAMPLE, snapshot_of
from tests.support.fake_argocd import FakeArgoCD
from tests.support.server import serving

pytestmark = pytest.mark.anyio
TOKEN = Secret("argocd-token-for-environment-service-tests")


def preview() -> ConfigDocument:
    text = (EXAMPLE / "environments" / "pr-preview.yaml").read_text()
    doc = snapshot_of(text).get("shop", "EnvironmentTemplate", "pr-preview")
    assert doc is not None
    return doc


@dataclass
class Setup:
    environments: Environments
    storage: Storage
    argocd: FakeArgoCD


@contextlib.asynccontextmanager
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    argocd = FakeArgoCD(token=TOKEN.reveal())
    async with (
        serving(argocd) as url,
        ArgoCDClient(base_url=url) as client,
        await Storage.open(f"sqlite+aiosqlite:///{tmp_path / 'meshgate.db'}") as storage,
    ):
        provisioner = ArgoCDProvisioner(
            client_for=lambda ws, name: (client, TOKEN), poll_seconds=0.01
        )
        environments = Environments(
            storage=storage,
            argocd=provisioner,
            worker="runner-1",
            settings=EnvironmentSettings(wait_poll_seconds=0.02),
        )
        yield Setup(environments, storage, argocd)
    assert argocd.violations == []


async def test_ten_runs_of_a_new_context_provision_one_application(tmp_path: Path) -> None:
    async with setup(tmp_path) as s:
        gate, all_in = asyncio.Event(), asyncio.Event()
        seen: list[Environment] = []

        async def run(run_id: int) -> None:
            async with s.environments.held(
                run_id=run_id, template=preview(), context="pr-1"
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
    async with setup(tmp_path) as s:
        s.argocd.degrade("user-service-pr-2")

        async def run(run_id: int) -> str:
            try:
                async with s.environments.held(run_id=run_id, template=preview(), context="pr-2"):
                    return "ran"
            except ProvisionFailed as exc:
                return str(exc)

        outcomes = await asyncio.gather(*(run(n) for n in range(1, 4)))
        assert all("turned Degraded" in outcome for outcome in outcomes)
        assert len(s.argocd.created()) == 1
        (env,) = await s.storage.list_environments(workspace="shop")
        assert (env.state, env.leases) == ("failed", ())
