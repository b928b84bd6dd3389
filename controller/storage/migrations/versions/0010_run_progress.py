"""run_progress: the flows and steps a running run has finished so far (the live run page);
runs.rerun_of and runs.config_pinned (a re-run with the config revision of its original)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 19:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "run_progress",
        sa.Column("run_id", ID, nullable=False),
        sa.Column("flows", JSON_DOCUMENT, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_run_progress_run_id_runs")),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_run_progress")),
    )
    with op.batch_alter_table("runs") as table:
        table.add_column(sa.Column("rerun_of", ID, nullable=True))
        table.add_column(
            sa.Column("config_pinned", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("runs") as table:
        table.drop_column("config_pinned")
        table.drop_column("rerun_of")
    op.drop_table("run_progress")
