"""The engine behind ``Storage``: read and write transactions with errors translated.

Query modules (one per aggregate) use only this: ``async with db.read(doing) as conn`` for
consistent reads, ``async with db.write(doing) as conn`` for anything that changes rows (on
SQLite it takes the write lock first, see ``controller.storage.engine``). Both commit on
success, roll back on error, and turn library exceptions into ``StorageUnavailable`` /
``StorageError`` whose message says what was being done.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from controller.errors import StorageUnavailable
from controller.storage.checkpoints import WalCheckpointer
from controller.storage.engine import WRITE_OPTION
from controller.storage.translation import describe_url, translated

Upsert = sqlite.Insert | postgresql.Insert


class Database:
    """An async engine and the transactions meshgate runs on it."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._closed = False
        # SQLite has one write lock per file. Waiting for it in SQLite's busy handler means
        # sleeping in growing steps (up to 100 ms) while the lock may already be free, so
        # this process's writers queue here instead and reach BEGIN IMMEDIATE one at a time.
        # Other processes on the same file still meet the busy timeout.
        sqlite_file = engine.dialect.name == "sqlite"
        self._sqlite_writers = asyncio.Lock() if sqlite_file else None
        self._checkpoints = WalCheckpointer(engine) if sqlite_file else None

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._engine.dialect.name

    @property
    def description(self) -> str:
        """The URL with its password hidden, for logs and messages."""
        return describe_url(self._engine.url)

    @asynccontextmanager
    async def read(self, doing: str) -> AsyncIterator[AsyncConnection]:
        """A transaction for reading; ``doing`` completes "…unavailable while <doing>"."""
        async with self._transaction(doing, writes=False) as conn:
            yield conn

    @asynccontextmanager
    async def write(self, doing: str) -> AsyncIterator[AsyncConnection]:
        """A transaction that changes rows (holds SQLite's write lock from the start)."""
        if self._sqlite_writers is None:
            async with self._transaction(doing, writes=True) as conn:
                yield conn
            return
        async with self._sqlite_writers, self._transaction(doing, writes=True) as conn:
            yield conn
        if self._checkpoints is not None:
            self._checkpoints.note_commit()

    @asynccontextmanager
    async def _transaction(self, doing: str, *, writes: bool) -> AsyncIterator[AsyncConnection]:
        if self._closed:
            raise StorageUnavailable(f"storage {self.description} is closed (while {doing})")
        async with (
            translated(url=self._engine.url, doing=doing),
            self._engine.connect() as conn,
        ):
            if writes:
                await conn.execution_options(**{WRITE_OPTION: True})
            async with conn.begin():
                yield conn

    def upsert(self, table: Table) -> Upsert:
        """``INSERT`` for ``table`` with this dialect's ``ON CONFLICT`` clauses available."""
        if self.dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    async def dispose(self) -> None:
        """Close every pooled connection; later transactions raise ``StorageUnavailable``."""
        self._closed = True
        if self._checkpoints is not None:
            await self._checkpoints.aclose()
        await self._engine.dispose()
