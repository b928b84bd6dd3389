"""``meshgate serve``'s server: uvicorn on a socket bound first, with a graceful SIGTERM.

uvicorn on its own stops listening at the first SIGTERM and then cancels what is left. A
replica behind a Kubernetes Service should instead stop in this order: readiness false (the
endpoints controller takes the pod out), no new work claimed, the runs in progress finished
within the grace period while webhooks are still answered, and only then the listener
closed and the rest handed back (``Controller.drain``, then uvicorn's shutdown and the
lifespan's). A second SIGTERM, or SIGINT (Ctrl+C), stops at once; what is running then is
handed back to the queue all the same.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from collections.abc import Mapping
from types import FrameType

import uvicorn

from controller.app import Controller, build_controller
from controller.errors import SettingsError
from controller.settings import Settings

log = logging.getLogger(__name__)


async def serve(settings: Settings, environ: Mapping[str, str]) -> None:
    """Run the server until it is stopped; raise ``MeshgateError`` if it cannot start."""
    listener = listen(settings.host, settings.port)
    try:
        controller = await build_controller(settings, environ=environ)
        try:
            config = uvicorn.Config(
                controller.app,
                host=settings.host,
                port=settings.port,
                log_config=None,
                lifespan="on",
                server_header=False,
                timeout_graceful_shutdown=5,
            )
            await DrainingServer(config, controller=controller).serve(sockets=[listener])
        finally:
            await controller.close()
    finally:
        listener.close()


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, *, controller: Controller) -> None:
        super().__init__(config)
        self._controller = controller
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drain: asyncio.Task[None] | None = None
        self._drain_requested = False

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets=sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """Runs in the signal handler (between two bytecodes of the loop's thread), so the
        drain is only scheduled here."""
        if sig != signal.SIGTERM or self._loop is None or self._drain_requested:
            super().handle_exit(sig, frame)
            return
        self._drain_requested = True
        self._loop.call_soon_threadsafe(self._start_drain)

    def _start_drain(self) -> None:
        async def drain_then_exit() -> None:
            try:
                await self._controller.drain()
            except Exception:
                log.exception("draining failed; stopping now")
            self.should_exit = True

        self._drain = asyncio.get_running_loop().create_task(drain_then_exit(), name="drain")


def listen(host: str, port: int) -> socket.socket:
    """Bind before anything starts: uvicorn reports a taken port by exiting the process."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio turns Nagle off (TCP_NODELAY) only on sockets whose
    # protocol says TCP, and without it a response written in two parts (headers, then a
    # JSON body) waits ~40 ms for the client's delayed ACK.
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise SettingsError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return listener
