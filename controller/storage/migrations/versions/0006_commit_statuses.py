"""runs: where the commit status goes (status_target, status_problem) and whether the outbox
has seen the latest state (status_dirty); commit_statuses, the status outbox

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 16:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("runs", sa.Column("status_integration", sa.String(length=253), nullable=True))
    op.add_column("runs", sa.Column("status_repository", sa.String(length=253), nullable=True))
    op.add_column("runs", sa.Column("status_sha", sa.String(length=100), nullable=True))
    op.add_column("runs", sa.Column("status_problem", sa.Text(), server_default="", nullable=False))
    op.add_column(
        "runs", sa.Column("status_dirty", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.create_index(op.f("ix_runs_status_dirty_id"), "runs", ["status_dirty", "id"])
    op.create_index(op.f("ix_runs_state_created_at"), "runs", ["state", "created_at"])
    op.create_table(
        "commit_statuses",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("workspace", sa.String(length=253), nullable=False),
        sa.Column("integration", sa.String(length=253), nullable=False),
        sa.Column("repository", sa.String(length=253), nullable=False),
        sa.Column("sha", sa.String(length=100), nullable=False),
        sa.Column("context", sa.String(length=255), nullable=False),
        sa.Column("run_id", ID, nullable=True),
        sa.Column("rank", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("target_url", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("posted_version", sa.Integer(), nullable=False),
        sa.Column("posted_state", sa.String(length=20), nullable=True),
        sa.Column("posted_description", sa.Text(), nullable=True),
        sa.Column("posted_target_url", sa.Text(), nullable=True),
        sa.Column("posted_at", WHEN, nullable=True),
        sa.Column("due", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("next_attempt_at", WHEN, nullable=False),
        sa.Column("first_failed_at", WHEN, nullable=True),
        sa.Column("dead_at", WHEN, nullable=True),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_expires_at", WHEN, nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commit_statuses")),
        sa.UniqueConstraint(
            "workspace",
            "integration",
            "repository",
            "sha",
            "context",
            name=op.f("uq_commit_statuses_workspace_integration_repository_sha_context"),
        ),
    )
    op.create_index(
        op.f("ix_commit_statuses_due_next_attempt_at"),
        "commit_statuses",
        ["due", "next_attempt_at"],
    )
    op.create_index(op.f("ix_commit_statuses_run_id"), "commit_statuses", ["run_id"])
    op.create_index(op.f("ix_commit_statuses_dead_at"), "commit_statuses", ["dead_at"])


def downgrade() -> None:
    op.drop_table("commit_statuses")
    op.drop_index(op.f("ix_runs_state_created_at"), table_name="runs")
    op.drop_index(op.f("ix_runs_status_dirty_id"), table_name="runs")
    for column in (
        "status_dirty",
        "status_problem",
        "status_sha",
        "status_repository",
        "status_integration",
    ):
        op.drop_column("runs", column)
