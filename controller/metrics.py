"""Prometheus metrics (the only module that imports prometheus_client).

Two kinds, on purpose:

- **Counted here**, in this process: what never reaches the database (deliveries refused
  with 401/4xx) and timings (run and step durations, status posts by outcome). Each replica
  exposes its own; Prometheus sums them.
- **Read from the database** at each scrape (``StoredTallies``): runs by state, deliveries by
  source, the status outbox's depth and dead letters, environments by state, config revisions
  applied and rejected. These are the same on every replica (a dashboard should take
  ``max``, not ``sum``, across replicas).

Labels are low-cardinality by construction: sources, outcomes, states and results, never a
repository, app, suite or run id.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from controller.models.tallies import StoredTallies

CONTENT_TYPE = CONTENT_TYPE_LATEST
RUN_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800)
STEP_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    def __init__(self) -> None:
        self._registry = CollectorRegistry(auto_describe=True)
        r = self._registry
        self._deliveries = Counter(
            "meshgate_webhook_requests",
            "Webhook requests answered by this process, by source and outcome",
            ["source", "outcome"],
            registry=r,
        )
        self._runs = Counter(
            "meshgate_runs_finished",
            "Runs this process finished, by result",
            ["result"],
            registry=r,
        )
        self._run_seconds = Histogram(
            "meshgate_run_duration_seconds",
            "How long runs took, from start to end",
            ["result"],
            buckets=RUN_BUCKETS,
            registry=r,
        )
        self._step_seconds = Histogram(
            "meshgate_step_duration_seconds",
            "How long steps took, by their status",
            ["status"],
            buckets=STEP_BUCKETS,
            registry=r,
        )
        self._posts = Counter(
            "meshgate_status_posts",
            "Commit-status posts to Gitea by this process, by outcome",
            ["outcome"],
            registry=r,
        )
        self._stored_runs = Gauge("meshgate_runs", "Runs stored, by state", ["state"], registry=r)
        self._stored_deliveries = Gauge(
            "meshgate_deliveries",
            "Deliveries recorded, by source and whether they could start runs",
            ["source", "trigger"],
            registry=r,
        )
        self._statuses = Gauge(
            "meshgate_commit_statuses",
            "Commit statuses, by delivery: pending (the outbox depth), posted, dead",
            ["delivery"],
            registry=r,
        )
        self._environments = Gauge(
            "meshgate_environments", "Test environments, by state", ["state"], registry=r
        )
        self._revisions = Gauge(
            "meshgate_config_revisions",
            "Config revisions seen, applied or rejected",
            ["outcome"],
            registry=r,
        )

    def webhook_answered(self, *, source: str, outcome: str) -> None:
        self._deliveries.labels(source=source, outcome=outcome).inc()

    def run_finished(self, *, result: str, seconds: float | None) -> None:
        self._runs.labels(result=result).inc()
        if seconds is not None:
            self._run_seconds.labels(result=result).observe(seconds)

    def step_finished(self, *, status: str, seconds: float) -> None:
        self._step_seconds.labels(status=status).observe(seconds)

    def status_posted(self, *, outcome: str) -> None:
        self._posts.labels(outcome=outcome).inc()

    def exposition(self, tallies: StoredTallies) -> bytes:
        """The text format, with the stored counts as of ``tallies``."""
        _set(self._stored_runs, {(k,): v for k, v in tallies.runs_by_state.items()})
        _set(
            self._stored_deliveries,
            {
                (src, "true" if trig else "false"): v
                for (src, trig), v in tallies.deliveries_by_source.items()
            },
        )
        _set(self._statuses, {(k,): v for k, v in tallies.statuses_by_delivery.items()})
        _set(self._environments, {(k,): v for k, v in tallies.environments_by_state.items()})
        _set(self._revisions, {(k,): v for k, v in tallies.config_revisions.items()})
        return generate_latest(self._registry)


def _set(gauge: Gauge, values: dict[tuple[str, ...], int]) -> None:
    """Replace every series of ``gauge``: a state with no rows any more reads 0, not its last
    count."""
    gauge.clear()
    for labels, value in values.items():
        gauge.labels(*labels).set(value)
