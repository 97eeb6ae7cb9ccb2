"""Spark clusters: named clusters and the job clusters of runs (issue 12).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "spark_clusters",
        sa.Column("cluster_id", sa.String(length=64), nullable=False),
        sa.Column("cluster_name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=True),
        sa.Column("cluster_key", sa.Text(), nullable=True),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_message", sa.Text(), nullable=False),
        sa.Column("host", sa.Text(), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("folder", sa.Text(), nullable=True),
        sa.Column("remote", sa.Text(), nullable=True),
        sa.Column("ui_url", sa.Text(), nullable=True),
        sa.Column("start_time", sa.BigInteger(), nullable=True),
        sa.Column("terminated_time", sa.BigInteger(), nullable=True),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("creator_user_name", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("cluster_id"),
    )
    op.create_index("ix_spark_clusters_run", "spark_clusters", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_spark_clusters_run", table_name="spark_clusters")
    op.drop_table("spark_clusters")
