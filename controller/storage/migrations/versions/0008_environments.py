"""environments (one active per workspace and context) and environment_leases

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 17:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "environments",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("workspace", sa.String(length=253), nullable=False),
        sa.Column("context", sa.String(length=200), nullable=False),
        sa.Column("active_context", sa.String(length=200), nullable=True),
        sa.Column("template", sa.String(length=253), nullable=False),
        sa.Column("provisioner", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("ttl_seconds", sa.Integer(), nullable=False),
        sa.Column("routing", JSON_DOCUMENT, nullable=False),
        sa.Column("application", sa.String(length=253), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("worker", sa.String(length=200), nullable=True),
        sa.Column("worker_until", WHEN, nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("ready_at", WHEN, nullable=True),
        sa.Column("last_used_at", WHEN, nullable=True),
        sa.Column("expires_at", WHEN, nullable=True),
        sa.Column("deleted_at", WHEN, nullable=True),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_environments")),
        sa.UniqueConstraint(
            "workspace", "active_context", name=op.f("uq_environments_workspace_active_context")
        ),
    )
    op.create_index(
        op.f("ix_environments_state_expires_at"), "environments", ["state", "expires_at"]
    )
    op.create_index(op.f("ix_environments_workspace_id"), "environments", ["workspace", "id"])
    op.create_table(
        "environment_leases",
        sa.Column("environment_id", ID, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("acquired_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_environment_leases_environment_id_environments"),
        ),
        sa.PrimaryKeyConstraint("environment_id", "run_id", name=op.f("pk_environment_leases")),
    )


def downgrade() -> None:
    op.drop_table("environment_leases")
    op.drop_table("environments")
