"""The real app on a real uvicorn server on 127.0.0.1 (random port), inside the test's loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

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
async def running_server(
    settings: Settings, *, environ: Mapping[str, str] | None = None
) -> AsyncIterator[RunningServer]:
    controller = await build_controller(settings, environ=environ or {})
    config = uvicorn.Config(
        controller.app, host="127.0.0.1", port=0, log_config=None, lifespan="on"
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
        base_url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:
            yield RunningServer(base_url, controller, client)
    finally:
        server.should_exit = True
        await task
        await controller.close()
