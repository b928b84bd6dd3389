"""Migrations: applied on start, idempotent, serialized between processes, equal to tables.py."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from controller.storage import Storage
from controller.storage.engine import create_engine
from controller.storage.schema import alembic_config
from controller.storage.tables import metadata
from tests.integration.storage.conftest import sqlite_url

pytestmark = pytest.mark.anyio


def _head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _schema_state(connection: Connection) -> dict[str, Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "target_metadata": metadata}
    )
    return {
        "version": context.get_current_revision(),
        "tables": set(inspect(connection).get_table_names()),
        "diff": compare_metadata(context, metadata),
    }


async def _inspect(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_schema_state)
    finally:
        await engine.dispose()


async def test_open_migrates_an_empty_database_to_head(database_url: str) -> None:
    before = await _inspect(database_url)
    assert before["version"] is None
    assert before["tables"] == set()

    async with await Storage.open(database_url):
        pass

    after = await _inspect(database_url)
    assert after["version"] == _head()
    assert after["tables"] == {"alembic_version", *metadata.tables}


async def test_schema_matches_metadata_after_migrations(database_url: str) -> None:
    # The comparison sees a difference on an unmigrated database, so an empty diff means
    # that migrations and tables.py really agree.
    assert (await _inspect(database_url))["diff"] != []
    async with await Storage.open(database_url):
        pass
    assert (await _inspect(database_url))["diff"] == []


async def test_open_is_idempotent_and_keeps_data(database_url: str) -> None:
    seen_at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    async with await Storage.open(database_url) as first:
        recorded = await first.record_config_revision(
            source="git:a",
            revision="r1",
            valid=True,
            problems=(),
            document_count=1,
            seen_at=seen_at,
        )
    for _ in range(2):
        async with await Storage.open(database_url) as again:
            assert await again.latest_config_revision("git:a") == recorded
    assert (await _inspect(database_url))["version"] == _head()


async def test_open_concurrently_migrates_once(database_url: str) -> None:
    # Tasks of one process opening an empty database together: connections race to switch a
    # new SQLite file to WAL, and migrations queue for the lock.
    opened: list[Storage] = []

    async def open_one() -> None:
        opened.append(await Storage.open(database_url))

    try:
        async with anyio.create_task_group() as tasks:
            for _ in range(8):
                tasks.start_soon(open_one)
    finally:
        for each in opened:
            await each.close()
    assert len(opened) == 8
    assert (await _inspect(database_url))["version"] == _head()


OPEN_AT = """
import sys, time, anyio
from controller.storage import Storage
async def main() -> None:
    await anyio.sleep(max(0.0, float(sys.argv[2]) - time.time()))
    async with await Storage.open(sys.argv[1]):
        pass
anyio.run(main)
"""


REPLICAS = 6


async def test_open_from_several_processes_migrates_once(database_url: str) -> None:
    # Replicas starting together (at the same instant, imports done): only the database
    # can serialize them.
    start_at = time.time() + 1.5
    results: list[tuple[int, bytes]] = []

    async def run_replica() -> None:
        command = [sys.executable, "-c", OPEN_AT, database_url, str(start_at)]
        done = await anyio.run_process(command, check=False)
        results.append((done.returncode, done.stderr))

    async with anyio.create_task_group() as tasks:
        for _ in range(REPLICAS):
            tasks.start_soon(run_replica)
    assert results == [(0, b"")] * REPLICAS
    assert (await _inspect(database_url))["version"] == _head()


async def test_open_several_databases_at_once_in_one_process(tmp_path: Path) -> None:
    # Alembic's context is process-global: migrations of different databases must not
    # interleave on the event loop.
    urls = [sqlite_url(tmp_path / f"db{n}" / "meshgate.db") for n in range(4)]
    opened: list[Storage] = []

    async def open_one(url: str) -> None:
        opened.append(await Storage.open(url))

    try:
        async with anyio.create_task_group() as tasks:
            for url in urls:
                tasks.start_soon(open_one, url)
    finally:
        for each in opened:
            await each.close()
    for url in urls:
        assert (await _inspect(url))["version"] == _head()


@pytest.mark.postgres
async def test_open_puts_every_table_in_the_configured_schema(postgres_url: str) -> None:
    async with await Storage.open(postgres_url):
        pass
    engine = create_engine(postgres_url)
    try:
        async with engine.connect() as conn:
            schema = (await conn.execute(text("SELECT current_schema()"))).scalar_one()
            rows = await conn.execute(
                text("SELECT table_schema, table_name FROM information_schema.tables")
            )
            placed = {(row.table_schema, row.table_name) for row in rows}
    finally:
        await engine.dispose()
    assert schema.startswith("test_")
    ours = {"alembic_version", *metadata.tables}
    assert {(schema, name) for name in ours} <= placed
