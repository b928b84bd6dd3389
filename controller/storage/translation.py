"""Translate SQLAlchemy, driver and Alembic exceptions into meshgate's errors.

``StorageUnavailable`` (a ``TemporaryError``): the database cannot answer right now —
connection refused or dropped, pool exhausted, database locked beyond the busy timeout,
serialization failure, statement cancelled. ``StorageError`` (a ``PermanentError``): the
database answered and refused — constraint violation, missing table, unknown schema revision,
bad URL. The cause is always chained; messages name the database with its password hidden
and never include a password, even one echoed by a driver.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from alembic.util import CommandError
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url

from controller.credentials import scrub_credentials
from controller.errors import MeshgateError, StorageError, StorageUnavailable

# Drivers report some lasting mistakes as OperationalError too: SQLite its schema and syntax
# errors, PostgreSQL refused logins and missing databases. Retrying those cannot help.
_PERMANENT = (
    "no such table",
    "no such column",
    "syntax error",
    "has no column named",
    "password authentication failed",
    "does not exist",
    "no pg_hba.conf entry",
    "permission denied",
)


def describe_url(url: str | URL) -> str:
    """The URL as it may be shown to people: password replaced by ``***``."""
    try:
        parsed = make_url(url)
    except (sa_exc.ArgumentError, ValueError):
        return scrub_credentials(str(url))
    return parsed.render_as_string(hide_password=True)


def _scrub(text: str, url: str | URL) -> str:
    plain = url.render_as_string(hide_password=False) if isinstance(url, URL) else url
    return scrub_credentials(" ".join(text.split()), plain)


def _detail(exc: BaseException) -> str:
    if isinstance(exc, sa_exc.StatementError) and exc.orig is not None:
        return f"{type(exc.orig).__name__}: {exc.orig}"
    return f"{type(exc).__name__}: {exc}"


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` means "the database cannot answer now" rather than "it refused"."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa_exc.OperationalError):
        message = str(exc.orig).lower()
        return not any(marker in message for marker in _PERMANENT)
    return isinstance(exc, sa_exc.InterfaceError | sa_exc.TimeoutError | OSError)


def translate(exc: BaseException, *, url: str | URL, doing: str) -> MeshgateError:
    """The meshgate error for ``exc``, raised while ``doing`` something with ``url``."""
    where = describe_url(url)
    detail = _scrub(_detail(exc), url)
    if is_transient(exc):
        return StorageUnavailable(f"database {where} is unavailable while {doing}: {detail}")
    if isinstance(exc, CommandError):
        return StorageError(f"cannot migrate database {where}: {detail}")
    return StorageError(f"database {where} refused {doing}: {detail}")


TRANSLATED: tuple[type[BaseException], ...] = (sa_exc.SQLAlchemyError, CommandError, OSError)


@asynccontextmanager
async def translated(*, url: str | URL, doing: str) -> AsyncIterator[None]:
    """Re-raise library exceptions escaping the block as meshgate errors (cause chained)."""
    try:
        yield
    except TRANSLATED as exc:
        raise translate(exc, url=url, doing=doing) from exc
