"""``Storage``: meshgate's durable state, behind intention-named async methods.

The class is assembled from one query mixin per aggregate (config revisions, deliveries and
runs now; statuses and scheduler ticks later), each in its own module with its tables in
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
from controller.storage.engine import create_engine
from controller.storage.environments import EnvironmentQueries
from controller.storage.run_claims import RunClaimQueries
from controller.storage.runs import RunQueries
from controller.storage.schema import upgrade_to_head
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
):
    """The database, opened with ``await Storage.open(url)`` and closed with ``close()``."""

    def __init__(self, *, database: Database) -> None:
        self._db = database
        self._delivery_batches = DeliveryBatcher(database)

    @classmethod
    async def open(cls, url: str, *, migrate: bool = True) -> Storage:
        """Connect to ``url`` (SQLAlchemy URL) and bring the schema to the current head.

        With ``migrate=False`` nothing is contacted yet (the first query connects); the caller
        vouches for the schema. Raises ``StorageUnavailable`` if the database cannot be
        reached and ``StorageError`` for an unusable URL or a schema this version cannot
        migrate (e.g. one written by a newer meshgate).
        """
        database = Database(create_engine(url))
        if migrate:
            try:
                await upgrade_to_head(database)
            except BaseException:
                await database.dispose()
                raise
        return cls(database=database)

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

    async def __aenter__(self) -> Storage:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
