"""Suite runs: queued with their delivery (matcher) or alone (manual), superseded in lanes.

Queuing a run and superseding the older queued runs of its lane happen in one transaction, so
no reader sees two queued runs of one lane from this replica. Across replicas on PostgreSQL
(read committed), two runs of one lane queued at the same instant may each miss the other;
claiming is where that is settled (``run_claims``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Update, bindparam, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from controller.errors import NotFound, StorageError
from controller.models.runs import CONTEXT_MAX, TRIGGER_TYPES, Run, RunRequest
from controller.models.statuses import StatusTarget
from controller.storage.bulk import BulkInsert
from controller.storage.database import Database
from controller.storage.tables import NAME_MAX, STATUS_CONTEXT_MAX, runs
from controller.storage.types import require_aware

MAX_LIST_LIMIT = 1000

_t = runs


def _supersede_statement() -> Update:
    """Mark superseded every queued or running run older than the newest queued run of its
    lane, for the lanes in ``:lanes`` ((workspace, rule, lane) tuples); a running one is
    stopped by its runner at the next heartbeat. Built once: it runs with every batch of
    deliveries."""
    newer = _t.alias("newer")
    newest = (
        select(func.max(newer.c.id))
        .where(
            newer.c.workspace == _t.c.workspace,
            newer.c.rule == _t.c.rule,
            newer.c.lane == _t.c.lane,
            newer.c.state == "queued",
        )
        .scalar_subquery()
    )
    return (
        update(_t)
        .where(
            _t.c.state.in_(("queued", "running")),
            tuple_(_t.c.workspace, _t.c.rule, _t.c.lane).in_(bindparam("lanes", expanding=True)),
            _t.c.id < newest,
        )
        .values(
            state="superseded",
            superseded_by=newest,
            updated_at=bindparam("at"),
            status_dirty=_t.c.status_sha.is_not(None),
        )
    )


_SUPERSEDE = _supersede_statement()
COLUMNS = tuple(column.name for column in _t.c if column.name != "id")
_INSERTS: dict[str, BulkInsert] = {}  # by dialect


class RunQueries:
    """The run part of ``Storage`` (mixed in; needs ``_db``)."""

    _db: Database

    async def queue_run(self, request: RunRequest, *, at: datetime) -> Run:
        """Queue one run without a delivery (a manual run)."""
        require_aware(at, "at")
        async with self._db.write(f"queuing a run of suite {request.suite}") as conn:
            (run,) = await queue_runs(conn, [(request, None)], at=at)
        return run

    async def queue_rerun(self, run_id: int, *, config_revision: str | None, at: datetime) -> Run:
        """Queue a run repeating ``run_id`` (same suite, trigger, commit, context, status
        target and delivery): pinned to the original's config revision when
        ``config_revision`` is ``None``, else with the config live when it starts (whose
        revision, ``config_revision``, it records until then). A re-run is in no lane: it
        neither supersedes the runs queued for newer commits nor is superseded by them."""
        require_aware(at, "at")
        async with self._db.write(f"queuing a re-run of run {run_id}") as conn:
            row = (await conn.execute(select(_t).where(_t.c.id == run_id))).one_or_none()
            if row is None:
                raise NotFound(f"run {run_id} does not exist")
            original = run_from_row(row)
            request = replace(
                original.request,
                lane=None,
                rerun_of=run_id,
                config_pinned=config_revision is None,
                config_revision=config_revision or original.request.config_revision,
            )
            (run,) = await queue_runs(conn, [(request, original.delivery)], at=at)
        return run

    async def get_run(self, id: int) -> Run:
        """The run ``id``; raises ``NotFound`` if there is none."""
        async with self._db.read(f"reading run {id}") as conn:
            row = (await conn.execute(select(_t).where(_t.c.id == id))).one_or_none()
        if row is None:
            raise NotFound(f"run {id} does not exist")
        return run_from_row(row)

    async def list_runs(
        self,
        *,
        workspace: str | None = None,
        suite: str | None = None,
        state: str | None = None,
        repository: str | None = None,
        trigger_type: str | None = None,
        delivery: int | None = None,
        before: int | None = None,
        limit: int = 50,
    ) -> list[Run]:
        """Runs, newest first, filtered by every argument given; ``before`` is a run id to
        page from (exclusive). Raises ``ValueError`` for a limit outside 1..1000."""
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIST_LIMIT}, got {limit}")
        statement = select(_t).order_by(_t.c.id.desc()).limit(limit)
        filters = {
            _t.c.workspace: workspace,
            _t.c.suite: suite,
            _t.c.state: state,
            _t.c.repository: repository,
            _t.c.trigger_type: trigger_type,
            _t.c.delivery_id: delivery,
        }
        for column, value in filters.items():
            if value is not None:
                statement = statement.where(column == value)
        if before is not None:
            statement = statement.where(_t.c.id < before)
        async with self._db.read("listing runs") as conn:
            rows = (await conn.execute(statement)).all()
        return [run_from_row(row) for row in rows]


async def queue_runs(
    conn: AsyncConnection, runs: Sequence[tuple[RunRequest, int | None]], *, at: datetime
) -> tuple[Run, ...]:
    """Insert ``runs`` (each a request and its delivery id, ``None`` for a manual run) as
    queued in the caller's write transaction; then every older queued run of a lane that
    got a new run is superseded by the newest one, in one statement for the whole batch.

    At most one run per (delivery, rule): rows are matched back by that pair, since a
    multi-row ``RETURNING`` has no guaranteed order.
    """
    if not runs:
        return ()
    for request, _ in runs:
        _check(request)
    values = [_values(request, delivery, at) for request, delivery in runs]
    bulk = _INSERTS.get(conn.dialect.name)
    if bulk is None:
        bulk = _INSERTS[conn.dialect.name] = BulkInsert(
            _t, COLUMNS, dialect=conn.dialect.name, returning=("id", "delivery_id", "rule")
        )
    rows = await bulk.execute(conn, values)
    ids = {(delivery, rule): row_id for row_id, delivery, rule in rows}
    queued = tuple(
        Run(
            id=ids[(delivery, request.rule)],
            request=request,
            delivery=delivery,
            state="queued",
            created_at=at,
            updated_at=at,
        )
        for request, delivery in runs
    )
    lanes = {
        (run.request.workspace, run.request.rule, run.request.lane)
        for run in queued
        if run.request.lane is not None
    }
    if lanes:
        await conn.execute(_SUPERSEDE, {"lanes": sorted(lanes), "at": at})
    return queued


def _check(request: RunRequest) -> None:
    # StorageError like the other aggregates: both backends must refuse the same values.
    if request.trigger_type not in TRIGGER_TYPES:
        raise StorageError(f"unknown trigger type {request.trigger_type!r}")
    for name in ("workspace", "suite", "rule", "integration", "template"):
        value = getattr(request, name) or ""
        if len(value) > NAME_MAX:
            raise StorageError(f"{name} must be at most {NAME_MAX} characters")
    if request.context is not None and len(request.context) > CONTEXT_MAX:
        raise StorageError(f"context must be at most {CONTEXT_MAX} characters")
    if request.status_context is not None and len(request.status_context) > STATUS_CONTEXT_MAX:
        raise StorageError(f"status_context must be at most {STATUS_CONTEXT_MAX} characters")


def _values(request: RunRequest, delivery: int | None, at: datetime) -> dict[str, Any]:
    return {
        "workspace": request.workspace,
        "suite": request.suite,
        "rule": request.rule,
        "integration": request.integration,
        "trigger_type": request.trigger_type,
        "trigger_ref": request.trigger_ref,
        "repository": request.repository,
        "branch": request.branch,
        "pr_number": request.pr_number,
        "context": request.context,
        "template": request.template,
        "status_context": request.status_context,
        "lane": request.lane,
        "config_revision": request.config_revision,
        "delivery_id": delivery,
        "state": "queued",
        "superseded_by": None,
        "parameters": dict(request.parameters),
        "routes": dict(request.routes),
        "created_at": at,
        "updated_at": at,
        "attempt": 0,
        "lease_owner": None,
        "lease_expires_at": None,
        "started_at": None,
        "finished_at": None,
        "message": "",
        **_target_values(request.status_target),
        "status_problem": request.status_problem,
        "status_dirty": request.status_target is not None,
        "rerun_of": request.rerun_of,
        "config_pinned": request.config_pinned,
        "not_before": None,
    }


def _target_values(target: StatusTarget | None) -> dict[str, str | None]:
    return {
        "status_integration": None if target is None else target.integration,
        "status_repository": None if target is None else target.repository,
        "status_sha": None if target is None else target.sha,
    }


def run_from_row(row: Row[Any]) -> Run:
    return Run(
        id=row.id,
        request=RunRequest(
            workspace=row.workspace,
            suite=row.suite,
            config_revision=row.config_revision,
            trigger_type=row.trigger_type,
            rule=row.rule,
            integration=row.integration,
            trigger_ref=row.trigger_ref,
            repository=row.repository,
            branch=row.branch,
            pr_number=row.pr_number,
            context=row.context,
            template=row.template,
            status_context=row.status_context,
            lane=row.lane,
            parameters=row.parameters,
            routes=row.routes,
            status_target=None
            if row.status_sha is None
            else StatusTarget(
                row.workspace, row.status_integration, row.status_repository, row.status_sha
            ),
            status_problem=row.status_problem,
            rerun_of=row.rerun_of,
            config_pinned=row.config_pinned,
        ),
        delivery=row.delivery_id,
        state=row.state,
        created_at=row.created_at,
        updated_at=row.updated_at,
        superseded_by=row.superseded_by,
        attempt=row.attempt,
        started_at=row.started_at,
        finished_at=row.finished_at,
        message=row.message,
    )
