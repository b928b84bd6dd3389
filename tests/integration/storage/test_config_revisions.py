"""Config revisions: upsert semantics, concurrency, problems, applied revisions, ordering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import anyio
import pytest

from controller.errors import NotFound, StorageError
from controller.models.problems import Problem
from controller.models.revisions import ConfigRevision
from controller.storage import Storage
from controller.storage.config_revisions import MAX_MESSAGE_CHARS, MAX_STORED_PROBLEMS

pytestmark = pytest.mark.anyio

SOURCE = "git:https://gitea.example/shop/config.git#main"
T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def _problem(n: int) -> Problem:
    return Problem(
        path=f"suites/s{n}.yaml",
        line=n + 1,
        column=3,
        message=f"unknown key 'stpes' ({n})",
        code="schema",
        pointer=f"/spec/flows/{n}",
        document=n % 2 or None,
    )


async def _record(
    storage: Storage,
    revision: str,
    seen_at: datetime,
    *,
    source: str = SOURCE,
    valid: bool = True,
    problems: tuple[Problem, ...] = (),
    document_count: int = 4,
) -> ConfigRevision:
    return await storage.record_config_revision(
        source=source,
        revision=revision,
        valid=valid,
        problems=problems,
        document_count=document_count,
        seen_at=seen_at,
    )


async def test_record_config_revision_inserts_first_sighting(storage: Storage) -> None:
    recorded = await _record(storage, "a" * 40, T0, valid=False, problems=(_problem(1),))

    assert recorded.source == SOURCE
    assert recorded.revision == "a" * 40
    assert recorded.valid is False
    assert recorded.problems == (_problem(1),)
    assert recorded.problem_count == 1
    assert recorded.document_count == 4
    assert recorded.first_seen_at == recorded.last_seen_at == T0
    assert recorded.applied_at is None
    assert await storage.latest_config_revision(SOURCE) == recorded


async def test_record_config_revision_keeps_first_seen_and_moves_last_seen(
    storage: Storage,
) -> None:
    first = await _record(storage, "r1", T0, valid=False, problems=(_problem(1),))
    again = await _record(storage, "r1", T0 + timedelta(minutes=5), document_count=7)

    assert again.id == first.id
    assert again.first_seen_at == T0
    assert again.last_seen_at == T0 + timedelta(minutes=5)
    assert (again.valid, again.problems, again.document_count) == (True, (), 7)
    assert await storage.config_revisions(SOURCE) == [again]


async def test_record_config_revision_never_moves_sightings_backwards(storage: Storage) -> None:
    await _record(storage, "r1", T0)
    await _record(storage, "r1", T0 + timedelta(minutes=5))
    late_writer = await _record(storage, "r1", T0 - timedelta(minutes=1))
    stale_writer = await _record(storage, "r1", T0 + timedelta(minutes=1))

    assert late_writer.first_seen_at == T0 - timedelta(minutes=1)
    assert stale_writer.first_seen_at == T0 - timedelta(minutes=1)
    assert stale_writer.last_seen_at == T0 + timedelta(minutes=5)


async def test_record_config_revision_concurrently_yields_one_row(storage: Storage) -> None:
    results: list[ConfigRevision] = []

    async def record(n: int) -> None:
        results.append(await _record(storage, "same", T0 + timedelta(seconds=n)))

    async with anyio.create_task_group() as tasks:
        for n in range(10):
            tasks.start_soon(record, n)

    assert len({r.id for r in results}) == 1
    [row] = await storage.config_revisions(SOURCE)
    assert row.first_seen_at == T0
    assert row.last_seen_at == T0 + timedelta(seconds=9)


async def test_record_config_revision_from_two_instances_yields_one_row(
    storage: Storage, database_url: str
) -> None:
    results: list[ConfigRevision] = []

    async def record(instance: Storage, n: int) -> None:
        results.append(await _record(instance, "same", T0 + timedelta(seconds=n)))

    async with await Storage.open(database_url) as other:
        async with anyio.create_task_group() as tasks:
            for n in range(10):
                tasks.start_soon(record, (storage, other)[n % 2], n)
        assert await other.config_revisions(SOURCE) == await storage.config_revisions(SOURCE)

    assert len(results) == 10
    assert len({r.id for r in results}) == 1
    assert len(await storage.config_revisions(SOURCE)) == 1


async def test_record_config_revision_round_trips_problems_exactly(storage: Storage) -> None:
    problems = (
        _problem(0),
        Problem(path="", line=0, column=0, message="symlink escapes the repo", code="source"),
        Problem(
            path="dir/ünïcode — file.yaml",
            line=12,
            column=1,
            message='quote " backslash \\ newline \n tab \t emoji 🚀',
            code="yaml",
            pointer="/spec/a~1b/c~0d",
            document=3,
        ),
    )
    await _record(storage, "r1", T0, valid=False, problems=problems)

    stored = await storage.latest_config_revision(SOURCE)
    assert stored is not None
    assert stored.problems == problems
    assert stored.problem_count == 3
    assert not stored.problems_truncated


async def test_record_config_revision_caps_stored_problems(storage: Storage) -> None:
    problems = tuple(_problem(n) for n in range(MAX_STORED_PROBLEMS + 250))
    long_message = Problem(path="a.yaml", line=1, column=1, message="x" * 100_000, code="yaml")

    recorded = await _record(storage, "r1", T0, valid=False, problems=(long_message, *problems))

    assert recorded.problem_count == MAX_STORED_PROBLEMS + 251
    assert len(recorded.problems) == MAX_STORED_PROBLEMS
    assert recorded.problems_truncated
    assert recorded.problems[1:] == problems[: MAX_STORED_PROBLEMS - 1]
    assert len(recorded.problems[0].message) == MAX_MESSAGE_CHARS
    assert recorded.problems[0].message.startswith("xxx")
    assert await storage.latest_config_revision(SOURCE) == recorded


async def test_mark_config_applied_sets_the_last_applied_revision(storage: Storage) -> None:
    await _record(storage, "r1", T0)
    await _record(storage, "r2", T0 + timedelta(minutes=1))
    await _record(storage, "r3", T0 + timedelta(minutes=2), valid=False, problems=(_problem(1),))
    assert await storage.last_applied_config_revision(SOURCE) is None

    applied = await storage.mark_config_applied(
        source=SOURCE, revision="r1", applied_at=T0 + timedelta(seconds=1)
    )
    assert applied.applied_at == T0 + timedelta(seconds=1)
    assert await storage.last_applied_config_revision(SOURCE) == applied

    await storage.mark_config_applied(
        source=SOURCE, revision="r2", applied_at=T0 + timedelta(minutes=1, seconds=1)
    )
    last = await storage.last_applied_config_revision(SOURCE)
    assert last is not None
    assert last.revision == "r2"
    # Seeing r1 again does not forget that it was applied.
    seen_again = await _record(storage, "r1", T0 + timedelta(minutes=3))
    assert seen_again.applied_at == T0 + timedelta(seconds=1)
    assert await storage.last_applied_config_revision("git:other") is None


async def test_mark_config_applied_refuses_unknown_and_invalid_revisions(
    storage: Storage,
) -> None:
    await _record(storage, "bad", T0, valid=False, problems=(_problem(1),))

    with pytest.raises(NotFound, match="never recorded"):
        await storage.mark_config_applied(source=SOURCE, revision="nope", applied_at=T0)
    with pytest.raises(StorageError, match="invalid"):
        await storage.mark_config_applied(source=SOURCE, revision="bad", applied_at=T0)
    stored = await storage.latest_config_revision(SOURCE)
    assert stored is not None
    assert stored.applied_at is None


async def test_config_revisions_lists_newest_first_with_limit(storage: Storage) -> None:
    for n in range(5):
        await _record(storage, f"r{n}", T0 + timedelta(minutes=n))
    await _record(storage, "tie", T0 + timedelta(minutes=4))
    await _record(storage, "r1", T0 + timedelta(minutes=10))
    await _record(storage, "elsewhere", T0 + timedelta(hours=1), source="folder:/srv/config")

    listed = [r.revision for r in await storage.config_revisions(SOURCE)]
    assert listed == ["r1", "tie", "r4", "r3", "r2", "r0"]
    assert [r.revision for r in await storage.config_revisions(SOURCE, limit=2)] == ["r1", "tie"]
    latest = await storage.latest_config_revision(SOURCE)
    assert latest is not None
    assert latest.revision == "r1"
    assert await storage.latest_config_revision("git:unknown") is None
    with pytest.raises(ValueError, match="limit"):
        await storage.config_revisions(SOURCE, limit=0)


async def test_config_revision_datetimes_are_aware_utc(storage: Storage) -> None:
    plus_two = timezone(timedelta(hours=2))
    seen_at = datetime(2026, 6, 1, 14, 30, 0, 500, tzinfo=plus_two)
    await _record(storage, "r1", seen_at)
    await storage.mark_config_applied(source=SOURCE, revision="r1", applied_at=seen_at)

    stored = await storage.latest_config_revision(SOURCE)
    assert stored is not None
    for value in (stored.first_seen_at, stored.last_seen_at, stored.applied_at):
        assert value is not None
        assert value.tzinfo is UTC
        assert value == seen_at
        assert value.hour == 12


async def test_record_config_revision_rejects_naive_datetimes_and_bad_values(
    storage: Storage,
) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        await _record(storage, "r1", datetime(2026, 1, 1))
    with pytest.raises(StorageError, match="revision must be"):
        await _record(storage, "", T0)
    with pytest.raises(StorageError, match="revision must be"):
        await _record(storage, "r" * 101, T0)
    with pytest.raises(StorageError, match="source must be"):
        await _record(storage, "r1", T0, source="s" * 1001)
    with pytest.raises(ValueError, match="document_count"):
        await _record(storage, "r1", T0, document_count=-1)
    assert await storage.config_revisions(SOURCE) == []
