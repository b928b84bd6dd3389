"""What storage counts for the metrics endpoint: the same numbers on every replica, since
they come from the shared database rather than from one process's memory."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredTallies:
    runs_by_state: Mapping[str, int] = field(default_factory=dict)
    deliveries_by_source: Mapping[tuple[str, bool], int] = field(default_factory=dict)
    """(source, whether it could trigger runs) → deliveries recorded."""
    statuses_by_delivery: Mapping[str, int] = field(default_factory=dict)
    """``pending`` (the outbox depth), ``posted``, ``dead`` → commit statuses."""
    environments_by_state: Mapping[str, int] = field(default_factory=dict)
    config_revisions: Mapping[str, int] = field(default_factory=dict)
    """``applied``, ``rejected`` → config revisions seen."""
