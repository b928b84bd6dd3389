"""watch_folder against a real directory (inotify through watchfiles)."""

from __future__ import annotations

from contextlib import aclosing
from pathlib import Path

import anyio
import pytest

from controller.errors import ConfigSourceError
from controller.filewatch import watch_folder

pytestmark = pytest.mark.anyio

DEADLINE = 10.0


async def _write_until_seen(
    root: Path, writes: dict[str, str], wanted: str, stop_event: anyio.Event | None = None
) -> list[set[str]]:
    """Keep (re)writing ``writes`` until a batch holds ``wanted``; return all batches seen.

    Writing repeatedly avoids racing the watcher's start-up: a write made before the watch is
    in place would never be reported. The folders exist first, so batches hold only files.
    """
    batches: list[set[str]] = []
    seen = anyio.Event()
    for name in writes:
        # Before the watch starts: a folder created under it is a change of its own.
        (root / name).parent.mkdir(parents=True, exist_ok=True)

    async def writer() -> None:
        round_ = 0
        while not seen.is_set():
            round_ += 1
            for name, text in writes.items():
                target = anyio.Path(root / name)
                await target.parent.mkdir(parents=True, exist_ok=True)
                await target.write_text(f"{text} {round_}\n")
            with anyio.move_on_after(0.2):
                await seen.wait()

    with anyio.fail_after(DEADLINE):
        async with anyio.create_task_group() as tg:
            tg.start_soon(writer)
            async with aclosing(watch_folder(root, stop_event=stop_event, debounce_ms=50)) as it:
                async for batch in it:
                    batches.append(batch)
                    if wanted in batch:
                        seen.set()
                        break
    return batches


async def test_watch_folder_reports_a_written_file_by_relative_path(tmp_path: Path) -> None:
    batches = await _write_until_seen(
        tmp_path, {"suites/smoke.yaml": "kind: Suite"}, "suites/smoke.yaml"
    )

    assert all(path == "suites/smoke.yaml" for batch in batches for path in batch)


async def test_watch_folder_ignores_git_and_hidden_paths(tmp_path: Path) -> None:
    writes = {
        ".git/index": "binary",
        ".git/refs/heads/main": "sha",
        ".hidden/draft.yaml": "x",
        ".#lock.yaml": "x",
        "visible.yaml": "kind: Suite",  # written last: earlier writes share its batch
    }

    batches = await _write_until_seen(tmp_path, writes, "visible.yaml")

    assert {path for batch in batches for path in batch} == {"visible.yaml"}


async def test_watch_folder_stops_when_the_stop_event_is_set(tmp_path: Path) -> None:
    stop = anyio.Event()
    batches: list[set[str]] = []
    finished = anyio.Event()

    async def consume() -> None:
        async with aclosing(watch_folder(tmp_path, stop_event=stop, debounce_ms=50)) as it:
            async for batch in it:
                batches.append(batch)
        finished.set()

    with anyio.fail_after(DEADLINE):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await anyio.wait_all_tasks_blocked()
            stop.set()
            await finished.wait()

    assert batches == []


async def test_watch_folder_ends_on_cancellation_without_setting_the_callers_event(
    tmp_path: Path,
) -> None:
    stop = anyio.Event()

    async def consume() -> None:
        async with aclosing(watch_folder(tmp_path, stop_event=stop)) as it:
            async for _ in it:
                pass

    with anyio.fail_after(DEADLINE):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await anyio.wait_all_tasks_blocked()
            tg.cancel_scope.cancel()

    assert not stop.is_set()


async def test_watch_folder_rejects_a_missing_folder(tmp_path: Path) -> None:
    batches = watch_folder(tmp_path / "missing")

    with pytest.raises(ConfigSourceError, match="does not exist"):
        await anext(batches)
