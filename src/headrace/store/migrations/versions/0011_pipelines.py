"""Pipelines and their updates in the store (issue 13), instead of JSON files under the home
(so the server and every worker see them). Existing JSON files are taken over by
`engine.pipelines` the first time it opens a home that has them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pipelines",
        sa.Column("pipeline_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("bundle", sa.Text(), nullable=True),
        sa.Column("creator_user_name", sa.Text(), nullable=True),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("last_modified", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("pipeline_id"),
    )
    op.create_index("ix_pipelines_name", "pipelines", ["name"])
    op.create_index("ix_pipelines_bundle", "pipelines", ["bundle"])
    op.create_table(
        "pipeline_updates",
        sa.Column("update_id", sa.String(length=64), nullable=False),
        sa.Column("pipeline_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_message", sa.Text(), nullable=True),
        sa.Column("cause", sa.String(length=32), nullable=False),
        sa.Column("full_refresh", sa.Boolean(), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.Column("host", sa.Text(), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("update_id"),
    )
    op.create_index("ix_pipeline_updates_pipeline", "pipeline_updates", ["pipeline_id"])


def downgrade() -> None:
    op.drop_index("ix_pipeline_updates_pipeline", table_name="pipeline_updates")
    op.drop_table("pipeline_updates")
    op.drop_index("ix_pipelines_bundle", table_name="pipelines")
    op.drop_index("ix_pipelines_name", table_name="pipelines")
    op.drop_table("pipelines")
