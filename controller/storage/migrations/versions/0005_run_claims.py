"""runs: claims (lease owner and expiry, attempts), start and end times, a message; run_results
holds each finished run's evidence and JUnit report

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 14:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.add_column("runs", sa.Column("attempt", sa.Integer(), server_default="0", nullable=False))
    op.add_column("runs", sa.Column("lease_owner", sa.String(length=200), nullable=True))
    op.add_column("runs", sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("runs", sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("runs", sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("runs", sa.Column("message", sa.Text(), server_default="", nullable=False))
    op.create_index(
        op.f("ix_runs_state_lease_expires_at"), "runs", ["state", "lease_expires_at"], unique=False
    )
    op.create_table(
        "run_results",
        sa.Column("run_id", ID, nullable=False),
        sa.Column("result", JSON_DOCUMENT, nullable=False),
        sa.Column("junit", sa.LargeBinary(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_run_results_run_id_runs")),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_run_results")),
    )


def downgrade() -> None:
    op.drop_table("run_results")
    op.drop_index(op.f("ix_runs_state_lease_expires_at"), table_name="runs")
    for column in (
        "message",
        "finished_at",
        "started_at",
        "lease_expires_at",
        "lease_owner",
        "attempt",
    ):
        op.drop_column("runs", column)
