"""The one thread boundary: blocking libraries (gitpython, bulk validation) run here.

Everything else in meshgate is async. Routing every blocking call through ``run_blocking``
keeps the event loop responsive and makes the number of worker threads one decision.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import ParamSpec, TypeVar

import anyio.to_thread

P = ParamSpec("P")
T = TypeVar("T")


async def run_blocking(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run ``fn`` in a worker thread; cancellation abandons the wait, not the thread."""
    return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs), abandon_on_cancel=True)
