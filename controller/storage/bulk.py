"""Multi-row ``INSERT … RETURNING`` at the driver level, for the two hot inserts.

Every webhook delivery writes one ``deliveries`` row and a ``runs`` row per matched rule.
Through SQLAlchemy's executemany each row's parameters go through its per-column bind
processing (type decorators, JSON serializers, dialect datetime formatting) on the event loop,
which measured as the largest part of a delivery's CPU time. Here the SQL text is built once
per batch size, values are converted by one small function per column type, and the driver
gets one statement with a flat parameter tuple.

The conversions reproduce what the SQLAlchemy column types store, so rows written here and
rows written through Core read back alike (the storage contract tests read them through
Core): ``UTCDateTime`` as naive UTC text on SQLite and aware ``timestamptz`` on PostgreSQL,
``JSON_DOCUMENT`` as JSON text (cast to ``jsonb`` on PostgreSQL).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from controller.storage.types import UTCDateTime

# SQLite allows 32766 host parameters per statement.
MAX_PARAMETERS = 32000

Convert = Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


def _json_text(value: Any) -> Any:
    if value is None:
        return None
    if not value and isinstance(value, dict):
        return "{}"  # the parameters and routes of every webhook run
    return _compact_json(value)


_compact_json = json.JSONEncoder(separators=(",", ":")).encode


@lru_cache(maxsize=64)
def _sqlite_datetime(value: datetime | None) -> str | None:
    """Cached: the rows of one batch carry the same few timestamps."""
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} cannot be stored; pass UTC")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"naive datetime {value.isoformat()} cannot be stored; pass UTC")
    return value


class BulkInsert:
    """``INSERT INTO table (columns) VALUES … [ON CONFLICT DO NOTHING] RETURNING …``."""

    def __init__(
        self,
        table: Table,
        columns: Sequence[str],
        *,
        dialect: str,
        returning: Sequence[str],
        ignore_conflicts: bool = False,
    ) -> None:
        if len(columns) < 2:
            raise ValueError("a bulk insert needs at least two columns")
        self._columns = tuple(columns)
        self._dialect = dialect
        self._pick = itemgetter(*self._columns)
        converters = [self._converter(table, name) for name in self._columns]
        self._conversions = tuple(
            (index, convert) for index, convert in enumerate(converters) if convert is not _identity
        )
        placeholder = "?" if dialect == "sqlite" else "%s"
        self._row = "(" + ", ".join(self._placeholder(table, c, placeholder) for c in columns) + ")"
        self._head = f"INSERT INTO {table.name} ({', '.join(self._columns)}) VALUES "
        tail = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
        self._tail = f"{tail} RETURNING {', '.join(returning)}"
        self._chunk = max(1, MAX_PARAMETERS // len(self._columns))
        self._sql: dict[int, str] = {}

    async def execute(
        self, conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]
    ) -> list[tuple[Any, ...]]:
        """Insert ``rows`` (dicts keyed by column); the returned rows, in no promised order."""
        found: list[tuple[Any, ...]] = []
        for start in range(0, len(rows), self._chunk):
            chunk = rows[start : start + self._chunk]
            parameters: list[Any] = []
            for row in chunk:
                values = list(self._pick(row))
                for index, convert in self._conversions:
                    values[index] = convert(values[index])
                parameters.extend(values)
            result = await conn.exec_driver_sql(self._statement(len(chunk)), tuple(parameters))
            found.extend(tuple(row) for row in result.all())
        return found

    def _statement(self, count: int) -> str:
        sql = self._sql.get(count)
        if sql is None:
            sql = self._sql[count] = self._head + ", ".join([self._row] * count) + self._tail
        return sql

    def _converter(self, table: Table, name: str) -> Convert:
        column_type = table.c[name].type
        if isinstance(column_type, UTCDateTime):
            return _sqlite_datetime if self._dialect == "sqlite" else _aware
        if isinstance(column_type.dialect_impl(_DIALECTS[self._dialect]), JSON):
            return _json_text
        return _identity

    def _placeholder(self, table: Table, name: str, placeholder: str) -> str:
        column_type = table.c[name].type.dialect_impl(_DIALECTS[self._dialect])
        if self._dialect == "postgresql" and isinstance(column_type, JSON):
            return f"CAST({placeholder} AS JSONB)"
        return placeholder


_DIALECTS: dict[str, Any] = {
    "sqlite": sqlite.dialect(),
    "postgresql": postgresql.dialect(),  # type: ignore[no-untyped-call]
}
