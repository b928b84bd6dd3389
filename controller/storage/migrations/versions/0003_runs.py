"""runs: queued suite runs; deliveries keep the config revision and decisions they were matched by

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 11:00:27.310141
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("workspace", sa.String(length=253), nullable=False),
        sa.Column("suite", sa.String(length=253), nullable=False),
        sa.Column("rule", sa.String(length=253), nullable=False),
        sa.Column("integration", sa.String(length=253), nullable=False),
        sa.Column("trigger_type", sa.String(length=20), nullable=False),
        sa.Column("trigger_ref", sa.Text(), nullable=False),
        sa.Column("repository", sa.Text(), nullable=False),
        sa.Column("branch", sa.Text(), nullable=False),
        sa.Column("pr_number", sa.BigInteger(), nullable=True),
        sa.Column("context", sa.String(length=200), nullable=True),
        sa.Column("template", sa.String(length=253), nullable=True),
        sa.Column("status_context", sa.String(length=255), nullable=True),
        sa.Column("lane", sa.Text(), nullable=True),
        sa.Column("config_revision", sa.String(length=100), nullable=False),
        sa.Column("delivery_id", ID, nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("superseded_by", ID, nullable=True),
        sa.Column("parameters", JSON_DOCUMENT, nullable=False),
        sa.Column("routes", JSON_DOCUMENT, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"], ["deliveries.id"], name=op.f("fk_runs_delivery_id_deliveries")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    op.create_index(op.f("ix_runs_delivery_id"), "runs", ["delivery_id"], unique=False)
    op.create_index(op.f("ix_runs_state_id"), "runs", ["state", "id"], unique=False)
    op.create_index(
        op.f("ix_runs_workspace_rule_lane_state"),
        "runs",
        ["workspace", "rule", "lane", "state"],
        unique=False,
    )
    op.create_index(
        op.f("ix_runs_workspace_suite_id"), "runs", ["workspace", "suite", "id"], unique=False
    )
    op.add_column("deliveries", sa.Column("config_revision", sa.String(length=100), nullable=True))
    op.add_column("deliveries", sa.Column("decisions", JSON_DOCUMENT, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.drop_column("decisions")
        batch_op.drop_column("config_revision")
    op.drop_index(op.f("ix_runs_workspace_suite_id"), table_name="runs")
    op.drop_index(op.f("ix_runs_workspace_rule_lane_state"), table_name="runs")
    op.drop_index(op.f("ix_runs_state_id"), table_name="runs")
    op.drop_index(op.f("ix_runs_delivery_id"), table_name="runs")
    op.drop_table("runs")
