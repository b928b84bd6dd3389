"""``meshgate serve`` as a process: one per SQLite file, and a SIGTERM that drains (readiness
false first, the running run finishes or is handed back within the grace, exit 0)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from controller.storage import Storage
from tests.acceptance.helpers import WEBHOOK_ENVIRON, copy_example_for_webhooks
from tests.support.replicas import Replica
from tests.support.shop import ShopState, running_shop
from tests.support.waiting import eventually

pytestmark = pytest.mark.anyio
API_TOKEN = "api-token-for-serve-process-tests"


def replica(tmp_path: Path, name: str, **settings: str) -> Replica:
    config = tmp_path / "config"
    if not config.exists():
        copy_example_for_webhooks(config)
    environ = {
        **WEBHOOK_ENVIRON,
        "MESHGATE_CONFIG_REPO": str(config),
        "MESHGATE_DATA_DIR": str(tmp_path / "data"),
        "MESHGATE_API_TOKENS": API_TOKEN,
        "MESHGATE_STATUS_CONCURRENCY": "0",
        "MESHGATE_LOG_LEVEL": "info",
        **settings,
    }
    return Replica(name=name, environ=environ, workdir=tmp_path / name)


@contextlib.asynccontextmanager
async def started(server: Replica) -> AsyncIterator[httpx.AsyncClient]:
    server.start()
    try:
        await server.ready()
        async with httpx.AsyncClient(base_url=server.base_url, timeout=5) as client:
            yield client
    finally:
        server.stop()


async def test_a_second_server_on_the_same_sqlite_file_exits_with_the_reason(
    tmp_path: Path,
) -> None:
    first, second = replica(tmp_path, "first"), replica(tmp_path, "second")
    async with started(first):
        second.start()
        try:
            assert await second.exited(within=30) == 1
        finally:
            second.stop()
        log = second.log_tail()
        assert f"is in use by another meshgate process (pid {first.pid})" in log
        assert "PostgreSQL" in log


async def start_held_run(client: httpx.AsyncClient, routes: dict[str, str]) -> int:
    created = await client.post(
        "/api/v1/workspaces/shop/suites/checkout-smoke/runs",
        headers={"Authorization": f"Bearer {API_TOKEN}"},
        json={"routes": routes},
    )
    assert created.status_code == 201, created.text
    run_id: int = created.json()["id"]
    await eventually(
        lambda: run_state(client, run_id), until=lambda state: state == "running", within=20
    )
    return run_id


async def run_state(client: httpx.AsyncClient, run_id: int) -> str:
    state: str = (await client.get(f"/api/v1/runs/{run_id}")).json()["state"]
    return state


async def readiness(client: httpx.AsyncClient) -> tuple[int, Any]:
    answer = await client.get("/readyz")
    return answer.status_code, answer.json()


async def stored_run(tmp_path: Path, run_id: int) -> Any:
    async with await Storage.open(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'meshgate.db'}") as s:
        return await s.get_run(run_id)


@dataclass
class HeldRun:
    server: Replica
    client: httpx.AsyncClient
    run_id: int
    gate: asyncio.Event


@contextlib.asynccontextmanager
async def held_run(tmp_path: Path, *, grace: str) -> AsyncIterator[HeldRun]:
    """A server whose one run waits on the shop stand-ins until ``gate`` is set."""
    gate = asyncio.Event()
    try:
        async with running_shop(ShopState(gate=gate)) as routes:
            server = replica(tmp_path, "server", MESHGATE_SHUTDOWN_GRACE=grace)
            async with started(server) as client:
                yield HeldRun(server, client, await start_held_run(client, routes), gate)
    finally:
        gate.set()


async def test_sigterm_turns_readiness_false_and_lets_the_running_run_finish(
    tmp_path: Path,
) -> None:
    async with held_run(tmp_path, grace="60s") as held:
        held.server.terminate()
        _, body = await eventually(
            lambda: readiness(held.client), until=lambda answer: answer[0] == 503
        )
        assert body["reasons"] == ["shutting down"]
        assert (await held.client.get("/healthz")).status_code == 200
        assert await run_state(held.client, held.run_id) == "running"
        held.gate.set()
        assert await held.server.exited(within=30) == 0
    run = await stored_run(tmp_path, held.run_id)
    assert (run.state, run.attempt) == ("passed", 1), run.message


async def test_sigterm_hands_back_a_run_that_outlasts_the_grace(tmp_path: Path) -> None:
    async with held_run(tmp_path, grace="1s") as held:
        held.server.terminate()
        assert await held.server.exited(within=30) == 0
    run = await stored_run(tmp_path, held.run_id)
    assert (run.state, run.attempt) == ("queued", 1)
    assert run.message == "meshgate stopped during the run; queued again"
