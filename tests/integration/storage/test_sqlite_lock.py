"""One server per SQLite file: a second exclusive open is refused, naming the way out."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import pytest

from controller.errors import StorageError
from controller.storage import Storage
from tests.integration.storage.conftest import sqlite_url

pytestmark = pytest.mark.anyio


async def test_a_second_server_on_one_sqlite_file_is_refused_until_the_first_closes(
    tmp_path: Path,
) -> None:
    url = sqlite_url(tmp_path / "data" / "meshgate.db")
    first = await Storage.open(url, exclusive=True)
    try:
        with pytest.raises(StorageError) as refused:
            await Storage.open(url, exclusive=True)
        message = str(refused.value)
        assert f"in use by another meshgate process (pid {os.getpid()})" in message
        assert "PostgreSQL" in message
        reader = await Storage.open(url)  # tools that only read are not locked out
        await reader.close()
    finally:
        await first.close()
    again = await Storage.open(url, exclusive=True)
    await again.close()


async def test_a_sqlite_file_uri_locks_the_file_it_names(tmp_path: Path) -> None:
    database = tmp_path / "data dir" / "meshgate.db"
    as_uri = f"sqlite+aiosqlite:///file:{quote(str(database))}?uri=true"
    first = await Storage.open(sqlite_url(database), exclusive=True)
    try:
        with pytest.raises(StorageError, match="in use by another meshgate process"):
            await Storage.open(as_uri, exclusive=True)
    finally:
        await first.close()
    second = await Storage.open(as_uri, exclusive=True)
    try:
        assert (tmp_path / "data dir" / "meshgate.db.lock").exists()
        with pytest.raises(StorageError, match="in use by another meshgate process"):
            await Storage.open(sqlite_url(database), exclusive=True)
    finally:
        await second.close()
