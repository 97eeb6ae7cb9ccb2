"""Attempts' claim key: priority and aging decide which pending attempt a worker takes
(issue 16).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("attempts", sa.Column("claim_key", sa.BigInteger(), nullable=True))
    op.execute("UPDATE attempts SET claim_key = created_time")
    op.create_index("ix_attempts_claim", "attempts", ["state", "claim_key"])


def downgrade() -> None:
    op.drop_index("ix_attempts_claim", table_name="attempts")
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("claim_key")
