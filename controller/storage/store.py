"""``Storage``: meshgate's durable state, behind intention-named async methods.

The class is assembled from one query mixin per aggregate (config revisions, deliveries and
runs, statuses, environments, the periodic jobs' ticks), each in its own module with its tables in
``controller.storage.tables``. Everything returns frozen values from ``controller.models``
and raises only meshgate errors: ``StorageUnavailable`` (retry later) or ``StorageError``.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import text

from controller.errors import StorageError, StorageUnavailable
from controller.storage.comments import CommentQueries
from controller.storage.config_revisions import ConfigRevisionQueries
from controller.storage.database import Database
from controller.storage.deliveries import DeliveryQueries
from controller.storage.delivery_batches import DeliveryBatcher
from controller.storage.engine import create_engine, sqlite_file
from controller.storage.environments import EnvironmentQueries
from controller.storage.job_ticks import JobTickQueries
from controller.storage.run_claims import RunClaimQueries
from controller.storage.runs import RunQueries
from controller.storage.schema import upgrade_to_head
from controller.storage.sqlite_lock import SQLiteFileLock
from controller.storage.status_posts import StatusPostQueries
from controller.storage.statuses import StatusQueries
from controller.storage.tallies import TallyQueries


class Storage(
    ConfigRevisionQueries,
    DeliveryQueries,
    RunQueries,
    RunClaimQueries,
    StatusQueries,
    StatusPostQueries,
    CommentQueries,
    EnvironmentQueries,
    TallyQueries,
    JobTickQueries,
):
    """The database, opened with ``await Storage.open(url)`` and closed with ``close()``."""

    def __init__(self, *, database: Database, file_lock: SQLiteFileLock | None = None) -> None:
        self._db = database
        self._file_lock = file_lock
        self._delivery_batches = DeliveryBatcher(database)

    @classmethod
    async def open(cls, url: str, *, migrate: bool = True, exclusive: bool = False) -> Storage:
        """Connect to ``url`` (SQLAlchemy URL) and bring the schema to the current head.

        With ``migrate=False`` nothing is contacted yet (the first query connects); the caller
        vouches for the schema. ``exclusive`` (the server): a SQLite file is locked for this
        process until ``close``, and refused if another process holds it
        (``controller.storage.sqlite_lock``); PostgreSQL is shared by design. Raises
        ``StorageUnavailable`` if the database cannot be reached and ``StorageError`` for an
        unusable URL, a SQLite file in use, or a schema this version cannot migrate (e.g.
        one written by a newer meshgate).
        """
        engine = create_engine(url)
        file_lock = None
        if exclusive and engine.dialect.name == "sqlite":
            try:
                file_lock = SQLiteFileLock.acquire(sqlite_file(engine.url))
            except BaseException:
                await engine.dispose()
                raise
        database = Database(engine)
        if migrate:
            try:
                await upgrade_to_head(database)
            except BaseException:
                await database.dispose()
                if file_lock is not None:
                    file_lock.release()
                raise
        return cls(database=database, file_lock=file_lock)

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._db.dialect

    @property
    def description(self) -> str:
        """Where the data lives, password hidden: safe for logs and the API."""
        return self._db.description

    async def ping(self) -> None:
        """Raise ``StorageUnavailable`` unless the database answers a trivial query."""
        try:
            async with self._db.read("checking the connection") as conn:
                await conn.execute(text("SELECT 1"))
        except StorageError as exc:  # answered, but not usefully: still not ready
            raise StorageUnavailable(str(exc)) from exc

    async def close(self) -> None:
        """Close every connection. Idempotent; the storage cannot be used afterwards."""
        await self._delivery_batches.close()
        await self._db.dispose()
        if self._file_lock is not None:
            self._file_lock.release()

    async def __aenter__(self) -> Storage:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
