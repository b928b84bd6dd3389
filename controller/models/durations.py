"""Durations with units (``250ms``, ``30s``, ``2m``, ``1h``, ``1m30s``).

Bare numbers are rejected on purpose: tools disagree on the default unit (flows.md §2.9).
"""

from __future__ import annotations

import re
from datetime import timedelta
from functools import lru_cache

DURATION_PATTERN = r"^(?:[0-9]+(?:\.[0-9]+)?(?:ms|s|m|h|d))+$"
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)")
_WHOLE = re.compile(DURATION_PATTERN)
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


@lru_cache(maxsize=1024)
def parse_duration(text: str) -> timedelta:
    """Parse ``text``; raise ``ValueError`` with a readable reason when it is not a duration.

    Cached: flows parse the same few durations (timeouts, intervals) at every step."""
    candidate = text.strip()
    if not _WHOLE.match(candidate):
        raise ValueError(
            f"invalid duration {text!r}: use a number with a unit, e.g. 250ms, 30s, 5m, 1h"
        )
    seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(candidate))
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """Shortest exact rendering in the same notation (``timedelta(seconds=90)`` → ``1m30s``)."""
    ms = round(value.total_seconds() * 1000)
    if ms == 0:
        return "0s"
    parts = []
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        count, ms = divmod(ms, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
