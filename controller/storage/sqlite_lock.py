"""One meshgate process per SQLite file.

SQLite serves one process well and several badly: meshgate's writers queue in-process
(``Database``), WAL checkpoints are taken beside them, and the work leases assume their
owner's clock. A second ``meshgate serve`` on the same file would not corrupt it, but would
meet "database is locked" under load and compete for every run. So a server holds an
exclusive ``flock`` on ``<file>.lock`` while it runs and a second one is refused at start,
naming the holder; several replicas need PostgreSQL.

The lock is the kernel's: it goes away with the process, however it ends (``kill -9``
included), so no stale lock file ever blocks a restart. The file itself stays.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from controller.errors import StorageError


class SQLiteFileLock:
    """Held from ``acquire`` until ``release`` (or the process's end)."""

    def __init__(self, fd: int, path: Path) -> None:
        self._fd: int | None = fd
        self.path = path

    @classmethod
    def acquire(cls, database: Path) -> SQLiteFileLock:
        """Lock ``database`` for this process; ``StorageError`` if another one holds it."""
        path = database.with_name(database.name + ".lock")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StorageError(f"cannot create the lock file {path}: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise StorageError(
                f"the SQLite database {database} is in use by another meshgate process"
                f"{holder}: SQLite serves one process; to run several replicas, give them "
                "one PostgreSQL database (MESHGATE_DATABASE_URL=postgresql+psycopg://...)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(fd, path)

    def release(self) -> None:
        """Idempotent."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""
    return f" (pid {text})" if text.isdigit() else ""
