"""Environments with real storage (SQLite in the test's folder) and the fake Argo CD on
loopback: the leasing service and the sweeper wired as the app wires them, on a clock tests
move forward."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from controller.clients.argocd import ArgoCDClient
from controller.concurrency import BackgroundTasks, WakeableJob
from controller.environments.argocd_provisioner import ArgoCDProvisioner
from controller.environments.service import Environments, EnvironmentSettings
from controller.environments.sweeper import EnvironmentSweeper, SweeperSettings
from controller.models.documents import ConfigDocument
from controller.models.environments import Environment
from controller.models.snapshot import ConfigSnapshot
from controller.settings import Secret
from controller.storage import Storage
from tests.support.config import example_snapshot
from tests.support.fake_argocd import FakeArgoCD
from tests.support.server import MovableClock, serving

TOKEN = Secret("argocd-token-for-sweeper-tests")
GRACE = timedelta(minutes=10)


def preview(snapshot: ConfigSnapshot) -> ConfigDocument:
    doc = snapshot.get("shop", "EnvironmentTemplate", "pr-preview")
    assert doc is not None
    return doc


@dataclass
class Setup:
    environments: Environments
    sweeper: EnvironmentSweeper
    storage: Storage
    argocd: FakeArgoCD
    clock: MovableClock
    template: ConfigDocument

    async def environment(self, context: str) -> Environment:
        (found,) = [
            env
            for env in await self.storage.list_environments(workspace="shop")
            if env.context == context
        ]
        return found


@contextlib.asynccontextmanager
async def environment_stack(
    tmp_path: Path, *, budget: int = 0, worker_lease: timedelta = timedelta(seconds=60)
) -> AsyncIterator[Setup]:
    argocd = FakeArgoCD(token=TOKEN.reveal())
    snapshot = example_snapshot()
    clock = MovableClock()
    background = BackgroundTasks()
    async with (
        serving(argocd) as url,
        ArgoCDClient(base_url=url) as client,
        await Storage.open(f"sqlite+aiosqlite:///{tmp_path / 'meshgate.db'}") as storage,
    ):
        provisioner = ArgoCDProvisioner(
            client_for=lambda ws, name: (client, TOKEN), poll_seconds=0.01
        )
        sweeper = EnvironmentSweeper(
            storage=storage,
            argocd=provisioner,
            config=lambda: snapshot,
            worker="sweeper-1",
            settings=SweeperSettings(orphan_grace=GRACE),
            clock=clock,
        )
        sweep = WakeableJob(sweeper.sweep, name="sweep", background=background)
        environments = Environments(
            storage=storage,
            argocd=provisioner,
            worker="runner-1",
            settings=EnvironmentSettings(
                wait_poll_seconds=0.02, budget=budget, worker_lease=worker_lease
            ),
            clock=clock,
            wake_sweeper=sweep.wake,
        )
        try:
            yield Setup(environments, sweeper, storage, argocd, clock, preview(snapshot))
        finally:
            await background.aclose()
    assert argocd.violations == []
