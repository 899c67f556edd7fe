"""Registry and result tables: the first schema.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-25 07:22:16.857257
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "funds",
        sa.Column("fund_id", sa.String(length=64), nullable=False),
        sa.Column("region_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("amount", sa.Float(), nullable=True),
        sa.Column("categories", sa.Text(), nullable=True),
        sa.Column("targets", sa.Text(), nullable=True),
        sa.Column("co_financing", sa.Float(), nullable=True),
        sa.Column("paired", sa.Boolean(), nullable=True),
        sa.Column("spent", sa.Float(), server_default="0", nullable=False),
        sa.Column("committed", sa.Float(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("fund_id"),
    )
    op.create_table(
        "helpers",
        sa.Column("helper_id", sa.String(length=64), nullable=False),
        sa.Column("home_region_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("skills", sa.Text(), nullable=True),
        sa.Column("reach", sa.String(length=32), nullable=True),
        sa.Column("paired", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("helper_id"),
    )
    op.create_table(
        "households",
        sa.Column("household_id", sa.String(length=64), nullable=False),
        sa.Column("village_id", sa.String(length=64), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("income_per_capita", sa.Float(), nullable=True),
        sa.Column("labour", sa.Integer(), nullable=True),
        sa.Column("school_children", sa.Integer(), nullable=True),
        sa.Column("unsafe_house", sa.Boolean(), nullable=True),
        sa.Column("chronic_illness", sa.Boolean(), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=True),
        sa.Column("elderly_only", sa.Boolean(), nullable=True),
        sa.Column("in_relocation_zone", sa.Boolean(), nullable=True),
        sa.Column("in_ecological_zone", sa.Boolean(), nullable=True),
        sa.Column("cause", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="registered", nullable=False),
        sa.PrimaryKeyConstraint("household_id"),
    )
    op.create_table(
        "job_lock",
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("started_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "measures",
        sa.Column("measure_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("batch", sa.String(length=32), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("cost_fixed", sa.Float(), nullable=True),
        sa.Column("cost_per_person", sa.Float(), nullable=True),
        sa.Column("income_uplift", sa.Float(), nullable=True),
        sa.Column("income_kind", sa.String(length=32), nullable=True),
        sa.Column("covers", sa.Text(), nullable=True),
        sa.Column("eligibility", sa.Text(), nullable=True),
        sa.Column("combines_with", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("measure_id"),
    )
    op.create_table(
        "projects",
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("village_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("measure_id", sa.String(length=64), nullable=True),
        sa.Column("effect", sa.String(length=32), nullable=True),
        sa.Column("uplift_bonus", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("project_id"),
    )
    op.create_table(
        "regions",
        sa.Column("region_id", sa.String(length=64), nullable=False),
        sa.Column("parent_id", sa.String(length=64), nullable=True),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("rural_households", sa.Integer(), nullable=True),
        sa.Column("western", sa.Boolean(), nullable=True),
        sa.Column("poor_village", sa.Boolean(), nullable=True),
        sa.Column("road", sa.Boolean(), nullable=True),
        sa.Column("water", sa.Boolean(), nullable=True),
        sa.Column("power", sa.Boolean(), nullable=True),
        sa.Column("internet", sa.Boolean(), nullable=True),
        sa.Column("ecological_zone", sa.Boolean(), nullable=True),
        sa.Column("relocation_zone", sa.Boolean(), nullable=True),
        sa.Column("old_revolutionary_base", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("region_id"),
    )
    op.create_table(
        "runs",
        sa.Column("run_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.String(length=32), nullable=False),
        sa.Column("ended_at", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=True),
        sa.Column("input_hash", sa.String(length=64), nullable=True),
        sa.Column("objective", sa.Float(), nullable=True),
        sa.Column("bound", sa.Float(), nullable=True),
        sa.Column("gap", sa.Float(), nullable=True),
        sa.Column("households_added", sa.Integer(), nullable=True),
        sa.Column("households_changed", sa.Integer(), nullable=True),
        sa.Column("households_unchanged", sa.Integer(), nullable=True),
        sa.Column("households_removed", sa.Integer(), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("run_id"),
    )
    op.create_table(
        "versions",
        sa.Column("version_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("scenario_name", sa.Text(), nullable=False),
        sa.Column("input_hash", sa.String(length=64), nullable=False),
        sa.Column("objective", sa.Float(), nullable=False),
        sa.Column("bound", sa.Float(), nullable=False),
        sa.Column("gap", sa.Float(), nullable=False),
        sa.Column("expected_lifted", sa.Float(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("committed_households", sa.Integer(), nullable=False),
        sa.Column("manifest", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("version_id"),
    )
    op.create_table(
        "commitments",
        sa.Column("commitment_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref_id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.String(length=64), nullable=False),
        sa.Column("plan", sa.Text(), nullable=False),
        sa.Column("measures", sa.Text(), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("p_success", sa.Float(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("income_before", sa.Float(), nullable=False),
        sa.Column("income_after", sa.Float(), nullable=False),
        sa.Column("helper_id", sa.String(length=64), nullable=False),
        sa.Column("committed_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["versions.version_id"],
        ),
        sa.PrimaryKeyConstraint("commitment_id"),
        sa.UniqueConstraint("kind", "ref_id", name="uq_commitment"),
    )
    op.create_table(
        "published",
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("published_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["versions.version_id"],
        ),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "version_flows",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("fund_id", sa.String(length=64), nullable=False),
        sa.Column("village_id", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["versions.version_id"],
        ),
        sa.PrimaryKeyConstraint("version_id", "fund_id", "village_id", "category"),
    )
    op.create_table(
        "version_households",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.String(length=64), nullable=False),
        sa.Column("village_id", sa.String(length=64), nullable=False),
        sa.Column("plan", sa.Text(), nullable=False),
        sa.Column("measures", sa.Text(), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("p_success", sa.Float(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("income_before", sa.Float(), nullable=False),
        sa.Column("income_after", sa.Float(), nullable=False),
        sa.Column("helper_id", sa.String(length=64), nullable=False),
        sa.Column("committed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["versions.version_id"],
        ),
        sa.PrimaryKeyConstraint("version_id", "household_id"),
    )
    op.create_table(
        "version_projects",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("village_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("built", sa.Boolean(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("committed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["versions.version_id"],
        ),
        sa.PrimaryKeyConstraint("version_id", "project_id"),
    )
    op.create_table(
        "commitment_charges",
        sa.Column("commitment_id", sa.Integer(), nullable=False),
        sa.Column("fund_id", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["commitment_id"],
            ["commitments.commitment_id"],
        ),
        sa.PrimaryKeyConstraint("commitment_id", "fund_id"),
    )


def downgrade() -> None:
    op.drop_table("commitment_charges")
    op.drop_table("version_projects")
    op.drop_table("version_households")
    op.drop_table("version_flows")
    op.drop_table("published")
    op.drop_table("commitments")
    op.drop_table("versions")
    op.drop_table("runs")
    op.drop_table("regions")
    op.drop_table("projects")
    op.drop_table("measures")
    op.drop_table("job_lock")
    op.drop_table("households")
    op.drop_table("helpers")
    op.drop_table("funds")
