"""Storage contract suite: every test runs on SQLite and, when configured, on PostgreSQL.

``database_url`` is an empty database: a SQLite file in ``tmp_path`` (in a directory that does
not exist yet), or a fresh ``test_<random>`` schema of the PostgreSQL database named by
``MESHGATE_TEST_DATABASE_URL`` (skipped when unset), selected through ``search_path`` so that
meshgate's tables and Alembic's version table land in it; it is dropped afterwards.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from controller.storage import Storage

POSTGRES_URL_VARIABLE = "MESHGATE_TEST_DATABASE_URL"


def postgres_base_url() -> str | None:
    return os.environ.get(POSTGRES_URL_VARIABLE) or None


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgres",
        id="postgres",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(
                postgres_base_url() is None, reason=f"{POSTGRES_URL_VARIABLE} is not set"
            ),
        ],
    ),
]


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


@asynccontextmanager
async def postgres_schema(base_url: str) -> AsyncIterator[str]:
    """A URL of ``base_url`` whose connections work in a new, empty schema."""
    schema = f"test_{secrets.token_hex(8)}"
    admin = create_async_engine(base_url, poolclass=NullPool)
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await admin.dispose()


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "data" / "meshgate.db")
        return
    base_url = postgres_base_url()
    assert base_url is not None
    async with postgres_schema(base_url) as url:
        yield url


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh schema on PostgreSQL, for the few tests about PostgreSQL only."""
    base_url = postgres_base_url()
    if base_url is None:
        pytest.skip(f"{POSTGRES_URL_VARIABLE} is not set")
    async with postgres_schema(base_url) as url:
        yield url


@pytest.fixture
async def storage(database_url: str) -> AsyncIterator[Storage]:
    opened = await Storage.open(database_url)
    try:
        yield opened
    finally:
        await opened.close()
