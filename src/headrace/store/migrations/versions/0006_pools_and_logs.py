"""Worker pools (attempts.pool, workers.pools) and ended attempts' logs kept in the store.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("attempts", sa.Column("pool", sa.String(length=64), nullable=True))
    op.add_column("workers", sa.Column("pools", sa.Text(), nullable=True))
    op.create_table(
        "attempt_logs",
        sa.Column("attempt_id", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["attempt_id"], ["attempts.attempt_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("attempt_id"),
    )


def downgrade() -> None:
    op.drop_table("attempt_logs")
    with op.batch_alter_table("workers") as batch:
        batch.drop_column("pools")
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("pool")
