"""Counts for the metrics endpoint, one ``GROUP BY`` per table on indexed columns, in one
read transaction."""

from __future__ import annotations

from sqlalchemy import case, func, select

from controller.models.tallies import StoredTallies
from controller.storage.database import Database
from controller.storage.tables import (
    commit_statuses,
    config_revisions,
    deliveries,
    environments,
    runs,
)


class TallyQueries:
    """The metrics part of ``Storage`` (mixed in; needs ``_db``)."""

    _db: Database

    async def tallies(self) -> StoredTallies:
        s = commit_statuses.c
        delivery_state = case(
            (s.dead_at.is_not(None), "dead"),
            (s.posted_version >= s.version, "posted"),
            else_="pending",
        )
        revision_state = case(
            (config_revisions.c.applied_at.is_not(None), "applied"), else_="rejected"
        )
        async with self._db.read("counting for the metrics") as conn:
            by_state = await conn.execute(select(runs.c.state, func.count()).group_by(runs.c.state))
            by_source = await conn.execute(
                select(deliveries.c.source, deliveries.c.trigger, func.count()).group_by(
                    deliveries.c.source, deliveries.c.trigger
                )
            )
            by_delivery = await conn.execute(
                select(delivery_state, func.count()).group_by(delivery_state)
            )
            by_env_state = await conn.execute(
                select(environments.c.state, func.count()).group_by(environments.c.state)
            )
            by_revision = await conn.execute(
                select(revision_state, func.count()).group_by(revision_state)
            )
            return StoredTallies(
                runs_by_state={str(k): int(n) for k, n in by_state.all()},
                deliveries_by_source={(str(k), bool(t)): int(n) for k, t, n in by_source.all()},
                statuses_by_delivery={str(k): int(n) for k, n in by_delivery.all()},
                environments_by_state={str(k): int(n) for k, n in by_env_state.all()},
                config_revisions={str(k): int(n) for k, n in by_revision.all()},
            )
