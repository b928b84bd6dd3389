"""pr_comments: the comment outbox (one comment per pull request, e.g. a config review)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 17:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "pr_comments",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("workspace", sa.String(length=253), nullable=False),
        sa.Column("integration", sa.String(length=253), nullable=False),
        sa.Column("repository", sa.String(length=253), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("rank", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("posted_version", sa.Integer(), nullable=False),
        sa.Column("comment_id", sa.BigInteger(), nullable=True),
        sa.Column("due", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("next_attempt_at", WHEN, nullable=False),
        sa.Column("first_failed_at", WHEN, nullable=True),
        sa.Column("dead_at", WHEN, nullable=True),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_expires_at", WHEN, nullable=True),
        sa.Column("posted_at", WHEN, nullable=True),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pr_comments")),
        sa.UniqueConstraint(
            "workspace",
            "integration",
            "repository",
            "number",
            name=op.f("uq_pr_comments_workspace_integration_repository_number"),
        ),
    )
    op.create_index(
        op.f("ix_pr_comments_due_next_attempt_at"), "pr_comments", ["due", "next_attempt_at"]
    )


def downgrade() -> None:
    op.drop_table("pr_comments")
