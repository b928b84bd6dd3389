"""Schema migrations: Alembic, run programmatically when storage opens.

The migration scripts live in ``controller/storage/migrations`` and ship in the wheel; no
``alembic.ini`` is needed at runtime. ``upgrade_to_head`` runs them in one transaction on the
async engine (``AsyncConnection.run_sync``), serialized between processes:

- PostgreSQL: a transaction-level advisory lock keyed by the current schema
  (``pg_advisory_xact_lock``), so replicas starting together migrate one after the other; the
  second finds the schema at head and does nothing. DDL is transactional: a failed migration
  leaves nothing behind, and the lock is released at commit or rollback.
- SQLite: the transaction starts with ``BEGIN IMMEDIATE`` (the database's single write lock).
- Within one process, an ``anyio.Lock`` besides: Alembic's ``context`` and ``op`` are process
  globals, so two migrations interleaving on the event loop (two storages opened at once,
  even on different databases) would run each other's operations on the wrong connection.

Creating a revision (developers; uses ``alembic.ini`` at the repository root, which points
here and at a scratch SQLite database under ``.meshgate/``)::

    # 1. change controller/storage/tables.py
    alembic upgrade head                        # bring the scratch database to the current head
    alembic revision --autogenerate --rev-id 0002 -m "add deliveries"
    # 2. review migrations/versions/0002_add_deliveries.py, then run the storage tests:
    #    test_schema_matches_metadata_after_migrations fails if the two disagree.

``alembic -x url=postgresql+psycopg://postgres@127.0.0.1/test upgrade head`` points the same
commands at another database. Revision ids are sequential (``0001``, ``0002``…), which makes
concurrent branches conflict loudly instead of silently creating two heads.

Rules for migrations: they must work on both SQLite and PostgreSQL (autogenerate renders
SQLite-compatible batch operations); never edit a released revision; data migrations use Core
statements written in the revision (never ``controller.storage.tables``, which moves on).
"""

from __future__ import annotations

from pathlib import Path

import anyio
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text

from controller.storage.database import Database

SCRIPT_LOCATION = Path(__file__).resolve().parent / "migrations"
# First key of the advisory lock: "mgmi" (meshgate migrations); the second is the schema.
ADVISORY_LOCK_CLASS = 0x6D676D69
# Guards Alembic's process-global state (see above); anyio's lock binds to no event loop.
_ALEMBIC_IN_USE = anyio.Lock()


def alembic_config(connection: Connection | None = None) -> Config:
    """An in-memory Alembic configuration for the packaged scripts, optionally bound to
    ``connection`` (``migrations/env.py`` then migrates that connection)."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def upgrade_to_head(db: Database) -> None:
    """Apply every pending migration; a no-op when the schema is current."""
    async with _ALEMBIC_IN_USE, db.write("migrating the schema") as conn:
        await conn.run_sync(_upgrade)


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:key, hashtext(coalesce(current_schema(), '')))"),
            {"key": ADVISORY_LOCK_CLASS},
        )
    command.upgrade(alembic_config(connection), "head")
