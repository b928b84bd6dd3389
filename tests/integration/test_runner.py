"""The runner with real storage and a real loopback service: a run superseded while it runs
is stopped (its cleanup still runs), and a shutdown puts the run in progress back in the
queue."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from controller.models.runs import RunRequest
from controller.models.snapshot import ConfigSnapshot
from controller.runner.service import Runner, RunnerSettings
from controller.secretrefs import SecretResolver
from controller.storage import Storage
from tests.integration.storage.test_runs import REQUEST, _deliver, _push
from tests.support.config import snapshot_of
from tests.support.server import serving
from tests.support.waiting import eventually

pytestmark = pytest.mark.anyio
HEADER = "apiVersion: meshgate.dev/v1alpha1\n"
QUICK = RunnerSettings(
    concurrency=2,
    lease=timedelta(seconds=5),
    heartbeat=timedelta(milliseconds=50),
    idle_poll=timedelta(milliseconds=50),
)


def config(base_url: str) -> ConfigSnapshot:
    return snapshot_of(
        f"""{HEADER}kind: EnvironmentTemplate
metadata: {{name: staging, workspace: shop}}
spec:
  provisioner: static
  default: true
  routing_policy: {{api: "{base_url}"}}
---
{HEADER}kind: Suite
metadata: {{name: smoke, workspace: shop}}
spec:
  flows:
    - name: slow
      steps:
        - name: wait for the slow service
          request: {{service: api, path: /slow}}
      finally:
        - name: clean up
          request: {{service: api, method: DELETE, path: /thing}}
"""
    )


class SlowService:
    def __init__(self) -> None:
        self.seen: list[str] = []
        self.slow_calls = asyncio.Event()

    def app(self) -> Starlette:
        async def slow(request: Request) -> Response:
            self.seen.append("GET /slow")
            self.slow_calls.set()
            await asyncio.sleep(30)
            return Response(status_code=200)

        async def thing(request: Request) -> Response:
            self.seen.append("DELETE /thing")
            return Response(status_code=204)

        return Starlette(routes=[Route("/slow", slow), Route("/thing", thing, methods=["DELETE"])])


@contextlib.asynccontextmanager
async def running(storage: Storage, snapshot: ConfigSnapshot) -> AsyncIterator[Runner]:
    """A runner claiming from ``storage`` until the block ends, then shut down."""
    runner = Runner(
        storage=storage,
        config=lambda: snapshot,
        config_root=lambda: None,
        secrets=SecretResolver(environ={}),
        owner="test-runner",
        settings=QUICK,
    )
    loop = asyncio.create_task(runner.run_forever())
    try:
        yield runner
    finally:
        await runner.aclose()
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[Storage]:
    async with await Storage.open(f"sqlite+aiosqlite:///{tmp_path / 'meshgate.db'}") as opened:
        yield opened


async def test_a_superseded_run_stops_runs_its_cleanup_and_stays_superseded(
    storage: Storage,
) -> None:
    service = SlowService()
    async with serving(service.app()) as base_url, running(storage, config(base_url)) as runner:
        _, (first,) = await _deliver(storage, _push(1), REQUEST)
        runner.wake()
        async with asyncio.timeout(10):
            await service.slow_calls.wait()
        _, (second,) = await _deliver(
            storage, _push(2), dataclasses.replace(REQUEST, trigger_ref="b" * 40)
        )
        runner.wake()
        stopped = await eventually(
            lambda: storage.get_run(first),
            until=lambda run: run.finished_at is not None,
            what="first run ended",
        )
        await eventually(lambda: storage.get_run(second), until=lambda run: run.state == "running")
    assert (stopped.state, stopped.superseded_by) == ("superseded", second)
    assert service.seen[0] == "GET /slow"
    assert "DELETE /thing" in service.seen
    result, _ = await storage.run_result(first)
    (flow,) = result["flows"]
    assert [(s["name"], s["status"]) for s in flow["steps"]] == [
        ("wait for the slow service", "error"),
        ("clean up", "passed"),
    ]
    released = await storage.get_run(second)
    assert (released.state, released.attempt) == ("queued", 1)
    assert released.message == "meshgate stopped during the run; queued again"


async def test_runs_execute_at_most_concurrency_at_once(storage: Storage) -> None:
    service = SlowService()
    manual = RunRequest(workspace="shop", suite="smoke", config_revision="r", trigger_type="manual")
    runs = [await storage.queue_run(manual, at=datetime.now(UTC)) for _ in range(3)]
    async with serving(service.app()) as base_url, running(storage, config(base_url)):
        listed = await eventually(
            lambda: storage.list_runs(state="running"), until=lambda found: len(found) == 2
        )
        assert (await storage.get_run(runs[2].id)).state == "queued"
    assert [run.id for run in listed] == [runs[1].id, runs[0].id]
