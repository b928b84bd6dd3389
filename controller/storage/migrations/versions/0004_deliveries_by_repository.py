"""deliveries: index by (workspace, source, repository, id) for an app's latest sync

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 12:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_deliveries_workspace_source_repository_id"),
        "deliveries",
        ["workspace", "source", "repository", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_deliveries_workspace_source_repository_id"), table_name="deliveries")
