"""Connections: ping, error translation, secrets kept out of messages, SQLite settings."""

from __future__ import annotations

import socket
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import anyio
import anyio.to_thread
import pytest

from controller.errors import StorageError, StorageUnavailable
from controller.storage import Storage
from controller.storage.engine import create_engine
from tests.integration.storage.conftest import postgres_base_url, sqlite_url
from tests.support.waiting import eventually

pytestmark = pytest.mark.anyio

PASSWORD = "s3cret-Pa55word"


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _assert_no_password(error: BaseException) -> None:
    assert PASSWORD not in str(error)
    assert PASSWORD not in repr(error.args)


async def test_ping_answers_on_an_open_storage(storage: Storage) -> None:
    await storage.ping()


async def test_ping_raises_unavailable_for_unreachable_postgres() -> None:
    url = f"postgresql+psycopg://meshgate:{PASSWORD}@127.0.0.1:{_closed_port()}/meshgate"
    async with await Storage.open(url, migrate=False) as storage:
        assert storage.description.startswith("postgresql+psycopg://meshgate:***@127.0.0.1:")
        with pytest.raises(StorageUnavailable, match="unavailable while checking") as raised:
            await storage.ping()
    _assert_no_password(raised.value)
    assert "meshgate:***@127.0.0.1" in str(raised.value)
    assert raised.value.__cause__ is not None


async def test_open_raises_unavailable_for_unreachable_postgres() -> None:
    url = f"postgresql+psycopg://meshgate:{PASSWORD}@127.0.0.1:{_closed_port()}/meshgate"
    with pytest.raises(StorageUnavailable, match="migrating") as raised:
        await Storage.open(url)
    _assert_no_password(raised.value)


@pytest.mark.postgres
async def test_open_refuses_a_missing_postgres_database_as_permanent() -> None:
    base_url = postgres_base_url()
    if base_url is None:
        pytest.skip("MESHGATE_TEST_DATABASE_URL is not set")
    missing = base_url.rsplit("/", 1)[0] + "/meshgate_no_such_database"
    with pytest.raises(StorageError, match="does not exist") as raised:
        await Storage.open(missing)
    assert not isinstance(raised.value, StorageUnavailable)


async def test_ping_raises_unavailable_for_unopenable_sqlite(tmp_path: Path) -> None:
    before = set(threading.enumerate())
    # The path is a directory: SQLite cannot open it as a database file.
    async with await Storage.open(sqlite_url(tmp_path), migrate=False) as storage:
        with pytest.raises(StorageUnavailable, match="unable to open database file"):
            await storage.ping()
    await _worker_threads_finished(before)


async def _worker_threads_finished(before: set[threading.Thread]) -> None:
    """aiosqlite stops the worker thread of a failed connect without waiting for it; let it
    finish while the event loop still runs, or it reports into a closed loop."""
    workers = [
        t
        for t in threading.enumerate()
        if t not in before and "_connection_worker_thread" in t.name
    ]

    def join() -> None:
        for worker in workers:
            worker.join(timeout=5)

    await anyio.to_thread.run_sync(join)
    assert not any(worker.is_alive() for worker in workers)


async def test_open_raises_unavailable_when_the_sqlite_directory_cannot_be_made(
    tmp_path: Path,
) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(StorageUnavailable, match="cannot create the directory"):
        await Storage.open(sqlite_url(tmp_path / "file" / "sub" / "meshgate.db"))


async def test_ping_raises_unavailable_after_close(storage: Storage) -> None:
    await storage.close()
    with pytest.raises(StorageUnavailable, match="closed"):
        await storage.ping()
    await storage.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (f"mysql+aiomysql://root:{PASSWORD}@127.0.0.1/db", "unsupported database"),
        (f"postgresql+asyncpg://root:{PASSWORD}@127.0.0.1/db", "psycopg driver"),
        (f"postgresql+psycopg2://root:{PASSWORD}@127.0.0.1/db", "psycopg driver"),
        ("sqlite:///meshgate.db", "async driver"),
        ("sqlite+aiosqlite://", "in-memory"),
        ("sqlite+aiosqlite:///:memory:", "in-memory"),
        ("sqlite+aiosqlite:///file:m?mode=memory&cache=shared&uri=true", "in-memory"),
        ("sqlite+aiosqlite:///file::memory:?uri=true", "in-memory"),
        (f"not a url with {PASSWORD}", "invalid database URL"),
    ],
)
async def test_open_refuses_unusable_urls(url: str, message: str) -> None:
    with pytest.raises(StorageError, match=message) as raised:
        await Storage.open(url)
    _assert_no_password(raised.value)


async def test_sqlite_connections_have_wal_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "meshgate.db")
    async with await Storage.open(url):
        pass
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            pragmas = {
                name: (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar_one()
                for name in (
                    "journal_mode",
                    "busy_timeout",
                    "foreign_keys",
                    "synchronous",
                    "wal_autocheckpoint",
                )
            }
    finally:
        await engine.dispose()
    # synchronous: 1 is NORMAL.
    assert pragmas == {
        "journal_mode": "wal",
        "busy_timeout": 5000,
        "foreign_keys": 1,
        "synchronous": 1,
        "wal_autocheckpoint": 0,
    }


async def test_sqlite_checkpoints_run_beside_the_writers(tmp_path: Path) -> None:
    """With SQLite's own checkpoints off, ours must still move the log into the file."""
    path = tmp_path / "meshgate.db"
    async with await Storage.open(sqlite_url(path)) as storage:
        size_after_migrations = path.stat().st_size
        for n in range(64):  # 64 write transactions: several checkpoints' worth
            await storage.record_config_revision(
                source="git:a",
                revision=f"{n:040x}",
                valid=True,
                problems=(),
                document_count=1,
                seen_at=datetime(2026, 1, 1, tzinfo=UTC),
            )

        async def size() -> int:
            return path.stat().st_size

        await eventually(
            size,
            until=lambda size: size > size_after_migrations,
            what="a checkpoint copying the log into the database file",
        )


async def test_sqlite_write_lock_held_too_long_raises_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "meshgate.db"
    async with await Storage.open(f"{sqlite_url(path)}?timeout=0.2") as storage:
        blocker = sqlite3.connect(path, isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")
            with pytest.raises(StorageUnavailable, match="database is locked") as raised:
                await storage.record_config_revision(
                    source="git:a",
                    revision="r1",
                    valid=True,
                    problems=(),
                    document_count=0,
                    seen_at=datetime.now(UTC),
                )
            assert isinstance(raised.value.__cause__, Exception)
            # Readers are not blocked by the writer (WAL).
            assert await storage.config_revisions("git:a") == []
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
