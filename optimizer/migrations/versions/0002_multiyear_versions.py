"""Multi-year versions: every plan's start year, effect year and probability of being out of poverty at the
deadline (also kept by commitments), the year each project is built, and the year of every flow.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 09:00:00

One-year versions keep working unchanged: the new columns default to 0 ("no year", "not applicable"). The year
joins the primary key of ``version_flows`` because a multi-year version has one flow per (fund, village, category,
year).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

FLOW_KEY = ["version_id", "fund_id", "village_id", "category"]


def upgrade() -> None:
    for table in ("version_households", "commitments"):
        op.add_column(table, sa.Column("year", sa.Integer(), server_default="0", nullable=False))
        op.add_column(table, sa.Column("effect_year", sa.Integer(), server_default="0", nullable=False))
        op.add_column(table, sa.Column("p_deadline", sa.Float(), server_default="0", nullable=False))
    op.add_column("version_projects", sa.Column("built_year", sa.Integer(), server_default="0", nullable=False))
    if op.get_bind().dialect.name == "sqlite":
        _copy_flows("year", [*FLOW_KEY, "year"])  # SQLite cannot alter a primary key
        return
    op.add_column("version_flows", sa.Column("year", sa.Integer(), server_default="0", nullable=False))
    op.drop_constraint("version_flows_pkey", "version_flows", type_="primary")
    op.create_primary_key("version_flows_pkey", "version_flows", [*FLOW_KEY, "year"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _copy_flows(None, FLOW_KEY)
    else:
        op.drop_constraint("version_flows_pkey", "version_flows", type_="primary")
        op.drop_column("version_flows", "year")
        op.create_primary_key("version_flows_pkey", "version_flows", FLOW_KEY)
    op.drop_column("version_projects", "built_year")
    for table in ("commitments", "version_households"):
        for column in ("p_deadline", "effect_year", "year"):
            op.drop_column(table, column)


def _copy_flows(year: str | None, key: list[str]) -> None:
    """SQLite: rebuild ``version_flows`` with (``year``) or without (None) the year column and the given key."""
    columns: list[sa.schema.SchemaItem] = [
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("fund_id", sa.String(length=64), nullable=False),
        sa.Column("village_id", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
    ]
    if year:
        columns.append(sa.Column(year, sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "_version_flows_new",
        *columns,
        sa.ForeignKeyConstraint(["version_id"], ["versions.version_id"]),
        sa.PrimaryKeyConstraint(*key),
    )
    names = "version_id, fund_id, village_id, category, amount"
    op.execute(f"INSERT INTO _version_flows_new ({names}) SELECT {names} FROM version_flows")
    op.drop_table("version_flows")
    op.rename_table("_version_flows_new", "version_flows")
