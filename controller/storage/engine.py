"""Build the async engine for a database URL: SQLite (aiosqlite) or PostgreSQL (psycopg).

SQLite
    File databases only. Each pooled connection is its own aiosqlite connection (its own
    thread), checked out by one task at a time (``AsyncAdaptedQueuePool``); ``:memory:`` is
    refused because SQLAlchemy would share one connection (and one transaction) between tasks.
    Every new connection gets ``busy_timeout`` (set first, so the others wait for locks too;
    5 s, or the driver's standard ``?timeout=SECONDS`` URL parameter),
    ``journal_mode=WAL`` (readers never block the writer), ``synchronous=NORMAL`` (safe with
    WAL), ``foreign_keys=ON`` and ``wal_autocheckpoint=0`` (see ``checkpoints``). WAL is stored
    in the file; when several connections convert a new file at once, some fail at once with
    "database is locked" (``busy_timeout`` does not cover that race), so they retry, sleeping
    on the event loop, until the timeout.

    The sqlite3 driver's own transaction handling is switched off (``isolation_level=None``)
    and SQLAlchemy emits ``BEGIN`` itself, so transactions (and DDL) are real. Write
    transactions (``WRITE_OPTION``) start with ``BEGIN IMMEDIATE``: they take the write lock up
    front and wait for it under ``busy_timeout``, instead of failing with ``SQLITE_BUSY`` when a
    deferred transaction tries to upgrade from reading to writing while another writer
    committed.

PostgreSQL
    ``QueuePool`` with ``pool_pre_ping`` (replicas outlive database restarts and failovers) and
    a connect timeout, unless the URL sets one.
"""

from __future__ import annotations

import sqlite3
import time
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import anyio
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from controller.errors import StorageError, StorageUnavailable
from controller.storage.translation import describe_url

SQLITE_BUSY_TIMEOUT_MS = 5000
POSTGRES_CONNECT_TIMEOUT_S = 10
# Execution option on a connection whose next transaction writes (see the module docstring).
WRITE_OPTION = "meshgate_write"

_SQLITE_PRAGMAS = (
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    # Checkpoints are taken beside the writers (controller.storage.checkpoints).
    "PRAGMA wal_autocheckpoint = 0",
)


def create_engine(url: str) -> AsyncEngine:
    """An engine for ``url``; connects lazily. Raises ``StorageError`` for unusable URLs."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # ArgumentError, ValueError: the text is not a URL at all
        # Not echoed: an unparseable URL may still hold a password.
        raise StorageError(
            "invalid database URL: expected sqlite+aiosqlite:///PATH "
            "or postgresql+psycopg://USER@HOST/DB"
        ) from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed)
    if backend == "postgresql":
        return _postgres_engine(parsed)
    raise StorageError(
        f"unsupported database {describe_url(parsed)}: use sqlite+aiosqlite:///PATH "
        "or postgresql+psycopg://USER@HOST/DB"
    )


def _sqlite_engine(url: URL) -> AsyncEngine:
    if url.get_driver_name() != "aiosqlite":
        raise StorageError(
            f"SQLite needs the async driver: use sqlite+aiosqlite:///PATH, not {describe_url(url)}"
        )
    database = url.database or ""
    in_memory = ":memory:" in database or "mode=memory" in database
    if not database or in_memory or url.query.get("mode") == "memory":
        raise StorageError(
            "in-memory SQLite is not supported (one connection would be shared by every task); "
            "use a file, e.g. sqlite+aiosqlite:///PATH/meshgate.db"
        )
    _ensure_parent_directory(sqlite_file(url), url)
    busy_timeout_ms = _busy_timeout_ms(url)
    engine = create_async_engine(url, poolclass=AsyncAdaptedQueuePool)
    configure = partial(_configure_sqlite_connection, busy_timeout_ms=busy_timeout_ms)
    event.listen(engine.sync_engine, "connect", configure)
    event.listen(engine.sync_engine, "begin", _begin_sqlite_transaction)
    return engine


def sqlite_file(url: URL) -> Path:
    """The file a SQLite URL names: its database, or for a ``file:`` URI (``?uri=true``) the
    URI's path, percent-decoded (``file:/srv/a%20b.db`` and ``file:///srv/a%20b.db`` are
    ``/srv/a b.db``)."""
    database = url.database or ""
    if url.query.get("uri") and database.startswith("file:"):
        return Path(unquote(urlsplit(database).path))
    return Path(database)


def _ensure_parent_directory(path: Path, url: URL) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageUnavailable(
            f"cannot create the directory of database {describe_url(url)}: {exc.strerror}"
        ) from exc


def _busy_timeout_ms(url: URL) -> int:
    text = url.query.get("timeout")
    if text is None:
        return SQLITE_BUSY_TIMEOUT_MS
    try:
        seconds = float(text if isinstance(text, str) else text[-1])
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < 86400:
        raise StorageError(f"SQLite timeout must be a number of seconds (0 to 86400), got {text!r}")
    return round(seconds * 1000)


def _configure_sqlite_connection(
    dbapi_connection: Any, _record: Any, *, busy_timeout_ms: int
) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {busy_timeout_ms:d}")
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
        _enable_wal(dbapi_connection, cursor, deadline=time.monotonic() + busy_timeout_ms / 1000)
    finally:
        cursor.close()


def _enable_wal(dbapi_connection: Any, cursor: Any, *, deadline: float) -> None:
    delay = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                raise
        # The connect event is synchronous; run_async awaits on the event loop meanwhile.
        dbapi_connection.run_async(partial(_sleep, delay))
        delay = min(delay * 2, 0.1)


async def _sleep(seconds: float, _driver_connection: Any) -> None:
    await anyio.sleep(seconds)


def _begin_sqlite_transaction(connection: Connection) -> None:
    writes = connection.get_execution_options().get(WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


def _postgres_engine(url: URL) -> AsyncEngine:
    if url.get_driver_name() != "psycopg":
        raise StorageError(
            f"PostgreSQL needs the psycopg driver: use postgresql+psycopg://..., "
            f"not {describe_url(url)}"
        )
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = POSTGRES_CONNECT_TIMEOUT_S
    try:
        return create_async_engine(url, pool_pre_ping=True, connect_args=connect_args)
    except ImportError as exc:
        raise StorageError(
            "PostgreSQL support needs psycopg: pip install 'meshgate[postgres]'"
        ) from exc
