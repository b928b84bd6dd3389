"""config revisions: every config revision seen, valid or not, and when it was applied

Revision ID: 0001
Revises:
Create Date: 2026-11-21 21:28:30.676038
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "config_revisions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("source", sa.String(length=1000), nullable=False),
        sa.Column("revision", sa.String(length=100), nullable=False),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column(
            "problems",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("problem_count", sa.Integer(), nullable=False),
        sa.Column("document_count", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_revisions")),
        sa.UniqueConstraint("source", "revision", name=op.f("uq_config_revisions_source_revision")),
    )
    op.create_index(
        op.f("ix_config_revisions_source_applied_at"),
        "config_revisions",
        ["source", "applied_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_config_revisions_source_last_seen_at"),
        "config_revisions",
        ["source", "last_seen_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_config_revisions_source_last_seen_at"), table_name="config_revisions")
    op.drop_index(op.f("ix_config_revisions_source_applied_at"), table_name="config_revisions")
    op.drop_table("config_revisions")
