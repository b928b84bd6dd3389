"""The one thread boundary, and the one home of fire-and-forget tasks.

Blocking libraries (gitpython, bulk validation) run through ``run_blocking``; everything else
in meshgate is async. Routing every blocking call through it keeps the event loop responsive
and makes the number of worker threads one decision.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from functools import partial
from typing import Any, ParamSpec, TypeVar

import anyio.to_thread

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


async def run_blocking(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run ``fn`` in a worker thread; cancellation abandons the wait, not the thread."""
    return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs), abandon_on_cancel=True)


class BackgroundTasks:
    """Tasks started from synchronous callbacks (a webhook asking for a config refresh),
    kept referenced until done and cancelled together at shutdown.

    An exception in a task is logged, not raised: nobody awaits these tasks but ``aclose``.
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coroutine: Coroutine[Any, Any, Any], *, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    async def aclose(self) -> None:
        """Cancel every task still running and wait for them to finish."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class WakeableJob:
    """``job`` run in the background on ``wake()``, never twice at once: a wake-up while it
    runs makes it run once more when it ends (what woke it may have happened after the
    running pass looked). A failing pass is logged by ``BackgroundTasks``; the next wake-up
    runs it again."""

    def __init__(
        self,
        job: Callable[[], Coroutine[Any, Any, Any]],
        *,
        name: str,
        background: BackgroundTasks,
    ) -> None:
        self._job = job
        self._name = name
        self._background = background
        self._running = False
        self._again = False

    def wake(self) -> None:
        if self._running:
            self._again = True
            return
        self._running = True
        self._background.spawn(self._passes(), name=self._name)

    async def _passes(self) -> None:
        try:
            while True:
                self._again = False
                await self._job()
                if not self._again:
                    return
        finally:
            self._running = False


@contextlib.asynccontextmanager
async def renewing(
    renew: Callable[[], Awaitable[bool]], *, every: float, what: str
) -> AsyncIterator[None]:
    """Call ``renew`` every ``every`` seconds while the block runs: the heartbeat of a lease
    on work that may outlast it (provisioning waits for Argo CD for minutes).

    A failed renewal (the database briefly unreachable) is logged and tried again at the
    next beat; a lost claim (``renew`` answers False) is logged once and stops the beats.
    The block is not interrupted either way: what it finishes is recorded only if the
    claim is still its own (the storage methods check the owner)."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(every)
            try:
                if not await renew():
                    log.warning("lost the claim on %s to another worker", what)
                    return
            except Exception as exc:
                log.warning("could not renew the claim on %s: %s", what, exc)

    task = asyncio.get_running_loop().create_task(beat(), name=f"renewing {what}")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
