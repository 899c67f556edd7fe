"""Indexes for reading one county's rows: households and projects by village, helpers by home region, and the
commitments by project and by helper (a decomposed solve's workers read the registry county by county).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 22:00:00

Only indexes: no row changes, and the downgrade drops them.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_households_village_id": ("households", "village_id"),
    "ix_projects_village_id": ("projects", "village_id"),
    "ix_helpers_home_region_id": ("helpers", "home_region_id"),
    "ix_commitments_project_id": ("commitments", "project_id"),
    "ix_commitments_helper_id": ("commitments", "helper_id"),
}


def upgrade() -> None:
    for name, (table, column) in INDEXES.items():
        op.create_index(name, table, [column])


def downgrade() -> None:
    for name, (table, _) in INDEXES.items():
        op.drop_index(name, table_name=table)
