"""Backfills and their logical dates (issue 16).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backfills",
        sa.Column(
            "backfill_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("options", sa.Text(), nullable=False),
        sa.Column("max_concurrent", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("end_time", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("backfill_id"),
    )
    op.create_index("ix_backfills_state", "backfills", ["state"])
    op.create_index("ix_backfills_job", "backfills", ["job_id"])
    op.create_table(
        "backfill_dates",
        sa.Column("backfill_id", sa.BigInteger(), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("logical_time", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["backfill_id"], ["backfills.backfill_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("backfill_id", "ordinal"),
    )
    op.create_index("ix_backfill_dates_run", "backfill_dates", ["run_id"])


def downgrade() -> None:
    op.drop_table("backfill_dates")
    op.drop_table("backfills")
