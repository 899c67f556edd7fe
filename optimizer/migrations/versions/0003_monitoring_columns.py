"""Monitoring and re-support in multi-year versions: whether a household is monitored, for how many years and at
what cost in all, on every version plan and on every commitment (a committed plan keeps its monitoring choice).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-09 09:00:00

Existing versions and commitments read as not monitored (false, 0, 0), which is what they were: the nightly job
refused ``years.monitoring`` before this revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("version_households", "commitments")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("monitored", sa.Boolean(), server_default=sa.false(), nullable=False))
        op.add_column(table, sa.Column("monitoring_years", sa.Integer(), server_default="0", nullable=False))
        op.add_column(table, sa.Column("monitoring_cost", sa.Float(), server_default="0", nullable=False))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:  # SQLite drops columns by copying the table
            for column in ("monitoring_cost", "monitoring_years", "monitored"):
                batch.drop_column(column)
