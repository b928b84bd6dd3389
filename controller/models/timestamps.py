"""Points in time as the API shows them: ISO 8601 in UTC with a ``Z``."""

from __future__ import annotations

from datetime import datetime


def iso_utc(value: datetime) -> str:
    """``2026-12-01T12:00:00.123456Z`` for an aware UTC datetime."""
    return value.isoformat().replace("+00:00", "Z")
