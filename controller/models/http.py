"""An HTTP response as meshgate keeps it: what checks look at and reports show.

Built by the service client from one exchange; nothing above it sees the HTTP library.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """One response: ``headers`` as received (names in their original case, repeats kept),
    ``body`` the bytes kept (``body_complete`` is false when the service sent more),
    ``elapsed_ms`` from sending to the end of the body. ``_cache`` holds derived values
    (the decoded text, the parsed JSON) so that many checks on one response parse it once."""

    status: int
    headers: Sequence[tuple[str, str]]
    body: bytes
    url: str
    elapsed_ms: float
    body_complete: bool = True
    body_size: int | None = None
    """Bytes the service sent (when known); ``len(body)`` when the body is complete."""
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def text(self) -> str:
        cached = self._cache.get("text")
        if cached is None:
            cached = self._cache["text"] = self.body.decode(self._charset(), "replace")
        return str(cached)

    def header(self, name: str) -> str | None:
        """Every value of header ``name`` (any case) joined with ``", "``, or ``None``."""
        wanted = name.lower()
        values = [value for key, value in self.headers if key.lower() == wanted]
        return ", ".join(values) if values else None

    def cookie(self, name: str) -> str | None:
        """The value ``Set-Cookie`` gave ``name`` (the last one wins), or ``None``."""
        found = None
        for key, value in self.headers:
            if key.lower() == "set-cookie":
                pair = value.split(";", 1)[0]
                cookie, sep, cookie_value = pair.partition("=")
                if sep and cookie.strip() == name:
                    found = cookie_value.strip().strip('"')
        return found

    def _charset(self) -> str:
        content_type = self.header("content-type") or ""
        match = re.search(r"charset=\"?([A-Za-z0-9_.:-]+)", content_type)
        if match:
            try:
                "".encode(match.group(1))
            except LookupError:
                return "utf-8"
            return match.group(1)
        return "utf-8"


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: a number of seconds or an HTTP date (``None`` for
    neither)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)
