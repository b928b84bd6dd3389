"""Column types shared by every table, so both backends store and return the same values.

- ``UTCDateTime``: accepts only timezone-aware datetimes and always returns aware UTC ones.
  PostgreSQL stores ``timestamptz``; SQLite has no time zones, so the value is converted to UTC
  and stored naive (SQLAlchemy's fixed ``YYYY-MM-DD HH:MM:SS.ffffff`` text, which sorts
  chronologically), then marked UTC again on the way out.
- ``JSON_DOCUMENT``: ``JSONB`` on PostgreSQL (compact, indexable if ever needed), SQLite's JSON
  text elsewhere. Values are read back whole; nothing queries inside them yet.
- ``ID``: a 64-bit surrogate key on PostgreSQL (``BIGSERIAL``); on SQLite it must be exactly
  ``INTEGER PRIMARY KEY`` to alias the rowid and autoincrement.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


class UTCDateTime(TypeDecorator[datetime]):
    """A point in time: aware in, aware UTC out, on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} cannot be stored; pass UTC")
        utc = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return utc.replace(tzinfo=None)
        return utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


ID: TypeEngine[int] = BigInteger().with_variant(Integer(), "sqlite")
JSON_DOCUMENT: TypeEngine[Any] = JSON().with_variant(JSONB(), "postgresql")


def require_aware(value: datetime, name: str) -> None:
    """Refuse a naive ``value`` up front, naming the argument (``UTCDateTime`` refuses it too,
    but only deep inside the statement, where the error can no longer say which one)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value.isoformat()}")
