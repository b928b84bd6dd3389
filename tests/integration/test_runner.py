"""The runner with real storage and a real loopback service: a run superseded while it runs
is stopped (its cleanup still runs), and a shutdown puts the run in progress back in the
queue."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from controller.clients.services import Exchange, ServiceClient
from controller.errors import StorageUnavailable, TemporaryError
from controller.models.runs import Run, RunRequest
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
    retry_first=timedelta(milliseconds=200),
)


def _staging(base_url: str) -> str:
    return f"""{HEADER}kind: EnvironmentTemplate
metadata: {{name: staging, workspace: shop}}
spec:
  provisioner: static
  default: true
  routing_policy: {{api: "{base_url}"}}
"""


def config_for(base_url: str) -> ConfigSnapshot:
    return snapshot_of(
        _staging(base_url)
        + f"""---
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
async def running(
    storage: Storage,
    config: ConfigSnapshot | Callable[[], ConfigSnapshot | None],
    client_factory: Callable[[], ServiceClient] = ServiceClient,
) -> AsyncIterator[Runner]:
    """A runner claiming from ``storage`` until the block ends, then shut down."""
    runner = Runner(
        storage=storage,
        config=config if callable(config) else lambda: config,
        config_root=lambda: None,
        secrets=SecretResolver(environ={}),
        owner="test-runner",
        settings=QUICK,
        client_factory=client_factory,
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
    async with serving(service.app()) as base_url, running(storage, config_for(base_url)) as runner:
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
    async with serving(service.app()) as base_url, running(storage, config_for(base_url)):
        listed = await eventually(
            lambda: storage.list_runs(state="running"), until=lambda found: len(found) == 2
        )
        assert (await storage.get_run(runs[2].id)).state == "queued"
    assert [run.id for run in listed] == [runs[1].id, runs[0].id]


async def test_queued_runs_wait_for_the_first_config(storage: Storage) -> None:
    asked: list[int] = []
    snapshot: list[ConfigSnapshot] = []

    def config() -> ConfigSnapshot | None:
        asked.append(1)
        return snapshot[0] if snapshot else None

    manual = RunRequest(workspace="shop", suite="smoke", config_revision="r", trigger_type="manual")
    run = await storage.queue_run(manual, at=datetime.now(UTC))
    service = SlowService()
    async with serving(service.app()) as base_url, running(storage, config):
        await eventually(lambda: _count(asked), until=lambda n: n >= 3, what="idle polls")
        assert (await storage.get_run(run.id)).state == "queued"
        snapshot.append(config_for(base_url))
        await eventually(lambda: storage.get_run(run.id), until=lambda r: r.state == "running")


class BrokenClient(ServiceClient):
    async def send(self, *args: object, **kwargs: object) -> Exchange:
        raise RuntimeError("a defect in the engine")


async def test_a_defect_in_the_engine_ends_its_flow_and_the_run_in_error(
    storage: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    manual = RunRequest(workspace="shop", suite="smoke", config_revision="r", trigger_type="manual")
    run = await storage.queue_run(manual, at=datetime.now(UTC))
    async with running(storage, config_for("http://127.0.0.1:9"), BrokenClient):
        ended = await eventually(
            lambda: storage.get_run(run.id), until=lambda r: r.finished_at is not None
        )
    assert (ended.state, ended.message) == ("error", "1 of 1 flows could not finish: slow")
    result, _ = await storage.run_result(run.id)
    assert result["flows"][0]["message"] == (
        "meshgate failed while running this flow (RuntimeError)"
    )
    assert "flow slow failed in the engine" in caplog.text


async def _count(calls: list[int]) -> int:
    return len(calls)


class UnavailableOnce(ServiceClient):
    """The first run's client cannot be had (a temporary failure before anything ran)."""

    failures = 1

    async def __aenter__(self) -> UnavailableOnce:
        if UnavailableOnce.failures:
            UnavailableOnce.failures -= 1
            raise TemporaryError("the service mesh is restarting")
        await super().__aenter__()
        return self


async def test_a_run_that_cannot_start_yet_is_queued_again_after_a_pause(
    storage: Storage,
) -> None:
    manual = RunRequest(workspace="shop", suite="quick", config_revision="r", trigger_type="manual")
    run = await storage.queue_run(manual, at=datetime.now(UTC))
    service = QuickService()
    async with (
        serving(service.app()) as base_url,
        running(storage, quick_config(base_url), UnavailableOnce),
    ):
        waiting = await eventually(
            lambda: storage.get_run(run.id), until=lambda r: "could not start yet" in r.message
        )
        assert waiting.message == (
            "could not start yet (the service mesh is restarting); queued again, "
            "next try in 0:00:00.200000"
        )
        ended = await eventually(
            lambda: storage.get_run(run.id), until=lambda r: r.finished_at is not None
        )
    assert (ended.state, ended.attempt) == ("passed", 2)


class QuickService:
    def app(self) -> Starlette:
        async def ok(request: Request) -> Response:
            return Response(status_code=200)

        return Starlette(routes=[Route("/ok", ok)])


def quick_config(base_url: str) -> ConfigSnapshot:
    """``config_for``'s staging with a suite ``quick`` of one step that answers at once."""
    return snapshot_of(
        _staging(base_url)
        + f"""---
{HEADER}kind: Suite
metadata: {{name: quick, workspace: shop}}
spec:
  flows:
    - name: quick
      steps:
        - name: ok
          request: {{service: api, path: /ok}}
"""
    )


class LockedOnceStorage(Storage):
    """The database refuses the first write of a run's end (SQLite locked by a burst)."""

    refusals = 1

    async def finish_run(self, run_id: int, **kwargs: Any) -> Run:
        if LockedOnceStorage.refusals:
            LockedOnceStorage.refusals -= 1
            raise StorageUnavailable("database is locked while finishing the run")
        return await super().finish_run(run_id, **kwargs)


async def test_a_run_whose_end_cannot_be_written_at_once_is_recorded_on_a_retry(
    storage: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    storage.__class__ = LockedOnceStorage
    manual = RunRequest(workspace="shop", suite="quick", config_revision="r", trigger_type="manual")
    run = await storage.queue_run(manual, at=datetime.now(UTC))
    service = QuickService()
    async with serving(service.app()) as base_url, running(storage, quick_config(base_url)):
        ended = await eventually(
            lambda: storage.get_run(run.id), until=lambda r: r.finished_at is not None
        )
    assert (ended.state, ended.attempt) == ("passed", 1)
    assert LockedOnceStorage.refusals == 0
    assert "recording its end again in 0.5s: database is locked" in caplog.text
