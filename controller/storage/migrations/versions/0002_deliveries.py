"""deliveries: every webhook delivery accepted, unique per delivery id and per triggering event

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 23:06:38.821218
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("source", sa.String(length=50), nullable=False),
        sa.Column("delivery_id", sa.String(length=200), nullable=True),
        sa.Column("semantic_key", sa.String(length=64), nullable=True),
        sa.Column("integration", sa.String(length=253), nullable=False),
        sa.Column("workspace", sa.String(length=253), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("repository", sa.Text(), nullable=False),
        sa.Column("revision", sa.Text(), nullable=False),
        sa.Column("trigger", sa.Boolean(), nullable=False),
        sa.Column(
            "event",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("source", "delivery_id", name=op.f("uq_deliveries_source_delivery_id")),
        sa.UniqueConstraint(
            "workspace", "semantic_key", name=op.f("uq_deliveries_workspace_semantic_key")
        ),
    )
    op.create_index(op.f("ix_deliveries_received_at"), "deliveries", ["received_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_deliveries_received_at"), table_name="deliveries")
    op.drop_table("deliveries")
