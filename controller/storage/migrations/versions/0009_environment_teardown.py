"""environments: what teardown needs (integration, project), the pull request they serve,
close requests, teardown attempts

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 19:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("environments") as table:
        table.add_column(sa.Column("integration", sa.String(length=253), nullable=True))
        table.add_column(sa.Column("project", sa.String(length=253), nullable=True))
        table.add_column(sa.Column("pull_request", sa.String(length=300), nullable=True))
        table.add_column(sa.Column("close_requested_at", WHEN, nullable=True))
        table.add_column(
            sa.Column("teardown_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        table.create_index(
            op.f("ix_environments_workspace_pull_request"), ["workspace", "pull_request"]
        )


def downgrade() -> None:
    with op.batch_alter_table("environments") as table:
        table.drop_index(op.f("ix_environments_workspace_pull_request"))
        table.drop_column("teardown_attempts")
        table.drop_column("close_requested_at")
        table.drop_column("pull_request")
        table.drop_column("project")
        table.drop_column("integration")
