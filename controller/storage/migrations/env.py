"""Alembic environment for meshgate's schema (see ``controller.storage.schema``).

At runtime ``Storage.open`` passes an open connection, already inside a locked transaction,
in ``config.attributes["connection"]``. From the ``alembic`` command line (developers, via
``alembic.ini`` at the repository root) the URL comes from ``-x url=...`` or
``sqlalchemy.url`` and the engine is built the same way as at runtime.
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection

from controller.storage.engine import create_engine
from controller.storage.tables import metadata
from controller.storage.types import UTCDateTime


def _render_item(kind: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # Revisions must not import application types, which may change later.
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        # SQLAlchemy emits BEGIN itself on both backends (see controller.storage.engine), so
        # DDL is transactional on SQLite too: a failed migration leaves nothing behind.
        transactional_ddl=True,
        render_item=_render_item,
        # SQLite cannot ALTER most things; batch mode recreates the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )


def _migrate(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def _migrate_url(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_migrate)
            await conn.commit()
    finally:
        await engine.dispose()


def _command_line_url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url")
    url = url or context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("no database: pass -x url=... or set sqlalchemy.url in alembic.ini")
    return url


def _run() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    if context.is_offline_mode():
        context.configure(
            url=_command_line_url(),
            target_metadata=metadata,
            literal_binds=True,
            dialect_opts={"paramstyle": "named"},
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(_migrate_url(_command_line_url()))


_run()
