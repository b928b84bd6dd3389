"""The one ``MetaData`` of meshgate: every table, in SQLAlchemy Core.

Each aggregate (config revisions and deliveries now; runs, statuses and scheduler ticks later)
adds its tables here and its queries in a sibling module of ``controller.storage``. The naming
convention gives every constraint and index a stable name, so Alembic migrations can refer to
them on both backends. Any change here needs a migration (see ``controller.storage.schema``);
a test fails when the migrated schema and this metadata differ.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from controller.models.runs import CONTEXT_MAX
from controller.storage.types import ID, JSON_DOCUMENT, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

SOURCE_MAX = 1000
REVISION_MAX = 100

# Every revision of a config source that was validated, valid or not.
config_revisions = Table(
    "config_revisions",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("source", String(SOURCE_MAX), nullable=False),
    Column("revision", String(REVISION_MAX), nullable=False),
    Column("valid", Boolean, nullable=False),
    # The first MAX_STORED_PROBLEMS of Problem.to_dict(); problem_count is the full number.
    Column("problems", JSON_DOCUMENT, nullable=False),
    Column("problem_count", Integer, nullable=False),
    Column("document_count", Integer, nullable=False),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("applied_at", UTCDateTime, nullable=True),
    UniqueConstraint("source", "revision"),
    Index(None, "source", "last_seen_at"),
    Index(None, "source", "applied_at"),
)

DELIVERY_SOURCE_MAX = 50
DELIVERY_ID_MAX = 200
SEMANTIC_KEY_MAX = 64
NAME_MAX = 253

# Every webhook delivery intake accepted, once: a repeated delivery id (per source) or a
# repeated triggering event (per workspace) is refused by the unique constraints, which
# ignore NULLs (no delivery id; an event that does not trigger has no semantic key).
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("source", String(DELIVERY_SOURCE_MAX), nullable=False),
    Column("delivery_id", String(DELIVERY_ID_MAX), nullable=True),
    Column("semantic_key", String(SEMANTIC_KEY_MAX), nullable=True),
    Column("integration", String(NAME_MAX), nullable=False),
    Column("workspace", String(NAME_MAX), nullable=False),
    # Copies of Event fields, for listing and filtering without reading the JSON.
    Column("event_type", Text, nullable=False),
    Column("repository", Text, nullable=False),
    Column("revision", Text, nullable=False),
    Column("trigger", Boolean, nullable=False),
    Column("event", JSON_DOCUMENT, nullable=False),  # Event.to_dict()
    # The body bytes exactly as received (not text: they need not be UTF-8, and PostgreSQL
    # text cannot hold NUL).
    Column("body", LargeBinary, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    # The config revision the delivery was matched against, and MatchReport.to_dict() (NULL
    # for deliveries recorded before matching existed, or with no config to match against).
    Column("config_revision", String(REVISION_MAX), nullable=True),
    Column("decisions", JSON_DOCUMENT, nullable=True),
    UniqueConstraint("source", "delivery_id"),
    UniqueConstraint("workspace", "semantic_key"),
    Index(None, "received_at"),
    # The latest sync of an Argo CD app (controller.storage.delivery_batches, redeploys).
    Index(None, "workspace", "source", "repository", "id"),
)

RUN_STATE_MAX = 20
LEASE_OWNER_MAX = 200
STATUS_CONTEXT_MAX = 255

# Suite runs, queued by the matcher (with their delivery) or by hand (no delivery).
runs = Table(
    "runs",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("workspace", String(NAME_MAX), nullable=False),
    Column("suite", String(NAME_MAX), nullable=False),
    Column("rule", String(NAME_MAX), nullable=False),  # "" for a manual run
    Column("integration", String(NAME_MAX), nullable=False),
    Column("trigger_type", String(RUN_STATE_MAX), nullable=False),
    Column("trigger_ref", Text, nullable=False),
    Column("repository", Text, nullable=False),
    Column("branch", Text, nullable=False),
    Column("pr_number", BigInteger, nullable=True),
    Column("context", String(CONTEXT_MAX), nullable=True),
    Column("template", String(NAME_MAX), nullable=True),
    Column("status_context", String(STATUS_CONTEXT_MAX), nullable=True),
    Column("lane", Text, nullable=True),  # RunRequest.lane; NULL never supersedes
    Column("config_revision", String(REVISION_MAX), nullable=False),
    Column("delivery_id", ID, ForeignKey("deliveries.id"), nullable=True),
    Column("state", String(RUN_STATE_MAX), nullable=False),
    Column("superseded_by", ID, nullable=True),
    Column("parameters", JSON_DOCUMENT, nullable=False),
    Column("routes", JSON_DOCUMENT, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # The claim of a running run (controller.storage.run_claims): who runs it, until when.
    Column("attempt", Integer, nullable=False, server_default="0"),
    Column("lease_owner", String(LEASE_OWNER_MAX), nullable=True),
    Column("lease_expires_at", UTCDateTime, nullable=True),
    Column("started_at", UTCDateTime, nullable=True),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("message", Text, nullable=False, server_default=""),
    # Where the run's commit status goes (a StatusTarget; NULL: none, see status_problem),
    # and whether the outbox has yet to learn the run's latest state.
    Column("status_integration", String(NAME_MAX), nullable=True),
    Column("status_repository", String(NAME_MAX), nullable=True),
    Column("status_sha", String(REVISION_MAX), nullable=True),
    Column("status_problem", Text, nullable=False, server_default=""),
    Column("status_dirty", Boolean, nullable=False, server_default=false()),
    # A re-run: the run it repeats, and whether it runs with that run's config revision
    # (pinned) rather than the live one.
    Column("rerun_of", ID, nullable=True),
    # Given back to the queue by a temporary failure: not claimed again before this.
    Column("not_before", UTCDateTime, nullable=True),
    Column("config_pinned", Boolean, nullable=False, server_default=false()),
    Index(None, "state", "id"),  # the runner takes queued runs oldest first
    Index(None, "state", "lease_expires_at"),  # running runs whose claim ran out
    Index(None, "workspace", "rule", "lane", "state"),  # superseding within a lane
    Index(None, "workspace", "suite", "id"),
    Index(None, "delivery_id"),
    Index(None, "status_dirty", "id"),  # the outbox collects changed runs oldest first
    Index(None, "state", "created_at"),  # the watchdog finds runs queued too long
)

# The evidence of a finished run (flows.results.SuiteResult.to_dict(), redacted) and its
# JUnit report, apart from ``runs`` so that listing runs never reads them.
run_results = Table(
    "run_results",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id"), primary_key=True),
    Column("result", JSON_DOCUMENT, nullable=False),
    Column("junit", LargeBinary, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
)

# What a running run has finished so far, rewritten as it goes (the live run page); dropped
# when the run's result is recorded.
run_progress = Table(
    "run_progress",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id"), primary_key=True),
    Column("flows", JSON_DOCUMENT, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

ERROR_MAX = 2000

# The status outbox (controller.statuses): per (workspace, integration, repository, sha,
# context) the
# desired commit status (replaced only by a higher rank; version counts the changes) and
# what was last posted to Gitea. ``due`` is true while the desired version is not posted and
# posting has not been given up (dead_at); the poster claims due entries with a lease.
commit_statuses = Table(
    "commit_statuses",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("workspace", String(NAME_MAX), nullable=False),
    Column("integration", String(NAME_MAX), nullable=False),
    Column("repository", String(NAME_MAX), nullable=False),
    Column("sha", String(REVISION_MAX), nullable=False),
    Column("context", String(STATUS_CONTEXT_MAX), nullable=False),
    Column("run_id", ID, nullable=True),
    Column("rank", BigInteger, nullable=False),
    Column("state", String(RUN_STATE_MAX), nullable=False),
    Column("description", Text, nullable=False),
    Column("target_url", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("posted_version", Integer, nullable=False),
    Column("posted_state", String(RUN_STATE_MAX), nullable=True),
    Column("posted_description", Text, nullable=True),
    Column("posted_target_url", Text, nullable=True),
    Column("posted_at", UTCDateTime, nullable=True),
    Column("due", Boolean, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("first_failed_at", UTCDateTime, nullable=True),
    Column("dead_at", UTCDateTime, nullable=True),
    Column("lease_owner", String(LEASE_OWNER_MAX), nullable=True),
    Column("lease_expires_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("workspace", "integration", "repository", "sha", "context"),
    Index(None, "due", "next_attempt_at"),
    Index(None, "run_id"),
    Index(None, "dead_at"),
)

# The comment outbox: per pull request the one comment meshgate keeps on it (a config
# review), its desired body (replaced only by a higher rank) and what was last written.
pr_comments = Table(
    "pr_comments",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("workspace", String(NAME_MAX), nullable=False),
    Column("integration", String(NAME_MAX), nullable=False),
    Column("repository", String(NAME_MAX), nullable=False),
    Column("number", BigInteger, nullable=False),
    Column("rank", BigInteger, nullable=False),
    Column("body", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("posted_version", Integer, nullable=False),
    Column("comment_id", BigInteger, nullable=True),
    Column("due", Boolean, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("first_failed_at", UTCDateTime, nullable=True),
    Column("dead_at", UTCDateTime, nullable=True),
    Column("lease_owner", String(LEASE_OWNER_MAX), nullable=True),
    Column("lease_expires_at", UTCDateTime, nullable=True),
    Column("posted_at", UTCDateTime, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("workspace", "integration", "repository", "number"),
    Index(None, "due", "next_attempt_at"),
)

PULL_REQUEST_MAX = 300

# Test environments (controller.models.environments): ``active_context`` is the context while
# the environment holds its (workspace, context) slot and NULL once deleted or failed, so the
# unique constraint allows one active environment per slot and any number of past ones.
environments = Table(
    "environments",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("workspace", String(NAME_MAX), nullable=False),
    Column("context", String(CONTEXT_MAX), nullable=False),
    Column("active_context", String(CONTEXT_MAX), nullable=True),
    Column("template", String(NAME_MAX), nullable=False),
    Column("provisioner", String(RUN_STATE_MAX), nullable=False),
    Column("state", String(RUN_STATE_MAX), nullable=False),
    Column("ttl_seconds", Integer, nullable=False),
    Column("routing", JSON_DOCUMENT, nullable=False),
    Column("application", String(NAME_MAX), nullable=True),
    # Where the application lives: the Argo CD integration and project that tear it down.
    Column("integration", String(NAME_MAX), nullable=True),
    Column("project", String(NAME_MAX), nullable=True),
    Column("message", Text, nullable=False),
    # The pull request it serves (owner/repo#N in Gitea): closing it closes the environment.
    Column("pull_request", String(PULL_REQUEST_MAX), nullable=True),
    # A closed pull request's environment goes as soon as no run holds it.
    Column("close_requested_at", UTCDateTime, nullable=True),
    Column("teardown_attempts", Integer, nullable=False, server_default="0"),
    # Who provisions or tears it down, until when (a crashed worker's lease runs out).
    Column("worker", String(LEASE_OWNER_MAX), nullable=True),
    Column("worker_until", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("ready_at", UTCDateTime, nullable=True),
    Column("last_used_at", UTCDateTime, nullable=True),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("deleted_at", UTCDateTime, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("workspace", "active_context"),
    Index(None, "state", "expires_at"),
    Index(None, "workspace", "id"),
    Index(None, "workspace", "pull_request"),
)

# The runs holding an environment (a held environment is never torn down).
environment_leases = Table(
    "environment_leases",
    metadata,
    Column("environment_id", ID, ForeignKey("environments.id"), primary_key=True),
    Column("run_id", ID, primary_key=True),
    Column("acquired_at", UTCDateTime, nullable=False),
)

# Periodic jobs that several replicas run: whoever claims a tick does its work.
job_ticks = Table(
    "job_ticks",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("due_at", UTCDateTime, nullable=False),
    Column("owner", String(LEASE_OWNER_MAX), nullable=False),
    Column("claimed_at", UTCDateTime, nullable=False),
)

# Every claim of a run: who ran it, from when to when, and how that attempt ended.
run_attempts = Table(
    "run_attempts",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id"), primary_key=True),
    Column("attempt", Integer, primary_key=True),
    Column("owner", String(LEASE_OWNER_MAX), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime, nullable=True),
    # NULL while it runs; then "finished", "interrupted" (its runner stopped renewing the
    # lease) or "released" (handed back to the queue); ``note`` says more.
    Column("outcome", String(RUN_STATE_MAX), nullable=True),
    Column("note", Text, nullable=False, server_default=""),
)
