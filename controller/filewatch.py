"""Change batches from a local config folder: the only module that imports watchfiles.

Used in development, where the config source is a folder, so edits are picked up at once::

    async with contextlib.aclosing(watch_folder(root, stop_event=stop)) as batches:
        async for changed in batches:  # {"suites/smoke.yaml", ...}
            ...

Iteration ends when ``stop_event`` is set; cancelling the consumer also ends it (within
about ``_WAKE_MS``, the longest the watcher thread sleeps before it notices).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from pathlib import Path, PurePath

import anyio
import watchfiles

from controller.errors import ConfigSourceError

_WAKE_MS = 250


class _VisibleFilter(watchfiles.DefaultFilter):
    """watchfiles' default filter (editor swap files, caches), plus anything hidden."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self._depth = len(root.parts)

    def __call__(self, change: watchfiles.Change, path: str) -> bool:
        hidden = any(part.startswith(".") for part in PurePath(path).parts[self._depth :])
        return not hidden and super().__call__(change, path)


class _StopFlag:
    """What the watcher thread polls: the caller's event, or our own flag.

    watchfiles sets the event it was given when it is cancelled; this keeps that from
    setting the caller's event behind its back.
    """

    def __init__(self, outer: anyio.Event | None) -> None:
        self._outer = outer
        self._set = False

    def is_set(self) -> bool:
        return self._set or (self._outer is not None and self._outer.is_set())

    def set(self) -> None:
        self._set = True


async def watch_folder(
    path: Path, *, stop_event: anyio.Event | None = None, debounce_ms: int = 200
) -> AsyncGenerator[set[str], None]:
    """Yield batches of changed paths (POSIX, relative to ``path``) until ``stop_event``.

    Hidden files and directories (``.git``, ``.idea``, ``.#draft.yaml``) are ignored.
    """
    resolved = await anyio.Path(path).resolve()
    if not await resolved.is_dir():
        raise ConfigSourceError(f"config folder {path} does not exist or is not a directory")
    root = Path(resolved)
    watcher = watchfiles.awatch(
        root,
        watch_filter=_VisibleFilter(root),
        debounce=debounce_ms,
        stop_event=_StopFlag(stop_event),
        rust_timeout=_WAKE_MS,
    )
    async with aclosing(watcher) as batches:
        async for changes in batches:
            relative = {
                Path(changed).relative_to(root).as_posix()
                for _, changed in changes
                if Path(changed).is_relative_to(root) and Path(changed) != root
            }
            if relative:
                yield relative
