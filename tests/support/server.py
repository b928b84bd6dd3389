"""Real uvicorn servers on 127.0.0.1 (random port), inside the test's loop: the app under
test (``running_server``) and the small services flows talk to (``serving``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
import uvicorn

from controller.app import Controller, build_controller
from controller.settings import Settings


@dataclass(frozen=True)
class RunningServer:
    base_url: str
    controller: Controller
    client: httpx.AsyncClient


@contextlib.asynccontextmanager
async def serving(app: Any, *, lifespan: Literal["on", "off"] = "off") -> AsyncIterator[str]:
    """Serve the ASGI ``app``; yields its base URL (``http://127.0.0.1:<port>``)."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_config=None,
        lifespan=lifespan,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:
                if task.done():
                    task.result()
                    raise AssertionError("uvicorn stopped before it started")
                await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def running_server(
    settings: Settings,
    *,
    environ: Mapping[str, str] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> AsyncIterator[RunningServer]:
    """``clock``: the environments' clock (``MovableClock`` to pass a TTL in an instant)."""
    extra = {} if clock is None else {"clock": clock}
    controller = await build_controller(settings, environ=environ or {}, **extra)
    try:
        async with (
            serving(controller.app, lifespan="on") as base_url,
            httpx.AsyncClient(base_url=base_url, timeout=5) as client,
        ):
            yield RunningServer(base_url, controller, client)
    finally:
        await controller.close()


@dataclass
class MovableClock:
    """The real time plus an offset that tests move forward (``advance``)."""

    offset: timedelta = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, by: timedelta) -> None:
        self.offset += by
