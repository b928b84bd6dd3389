"""Ticks of the periodic jobs that every replica schedules (sweeps, the queue watchdog).

Each replica's APScheduler fires its jobs on its own; before doing a tick's work, a replica
claims the tick here. ``claim_tick`` is one conditional ``UPDATE`` (or the first ``INSERT``),
so of the replicas firing in the same interval exactly one wins, whatever their clocks'
phases. The winner sets the next tick due ``every`` minus a tenth from now: a replica whose
timer fires slightly early still finds it due, so a tick is not skipped for jitter.

What is NOT guaranteed: that the work of a claimed tick completes (the winner may die; the
next tick, an interval later, does it), or that ticks are evenly spaced.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update

from controller.storage.database import Database
from controller.storage.tables import job_ticks
from controller.storage.types import require_aware

_t = job_ticks
EARLY_FIRE_ALLOWANCE = 0.1


class JobTickQueries:
    """The tick part of ``Storage`` (mixed in; needs ``_db``)."""

    _db: Database

    async def claim_tick(self, name: str, *, owner: str, now: datetime, every: timedelta) -> bool:
        """True if ``owner`` does the work of job ``name``'s tick now: no replica claimed
        one within the last ``every`` (less the allowance for early timers)."""
        require_aware(now, "now")
        due_at = now + every * (1 - EARLY_FIRE_ALLOWANCE)
        async with self._db.write(f"claiming a tick of job {name}") as conn:
            claimed = await conn.execute(
                update(_t)
                .where(_t.c.name == name, _t.c.due_at <= now)
                .values(due_at=due_at, owner=owner, claimed_at=now)
            )
            if claimed.rowcount:
                return True
            first = await conn.execute(
                self._db.upsert(_t)
                .values(name=name, due_at=due_at, owner=owner, claimed_at=now)
                .on_conflict_do_nothing(index_elements=[_t.c.name])
                .returning(_t.c.name)
            )
            return first.first() is not None
