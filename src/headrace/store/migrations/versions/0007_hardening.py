"""Idempotency tokens scoped per user; server-side UI sessions (issue 11).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch_op:
        batch_op.drop_index("ix_runs_idempotency")
        batch_op.create_index("ix_runs_idempotency", ["run_as", "idempotency_token"], unique=True)
    op.create_table(
        "ui_sessions",
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("token_id", sa.BigInteger(), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("expiry_time", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["token_id"], ["tokens.token_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("session_hash"),
    )
    op.create_index("ix_ui_sessions_token", "ui_sessions", ["token_id"])


def downgrade() -> None:
    op.drop_index("ix_ui_sessions_token", table_name="ui_sessions")
    op.drop_table("ui_sessions")
    with op.batch_alter_table("runs") as batch_op:
        batch_op.drop_index("ix_runs_idempotency")
        batch_op.create_index("ix_runs_idempotency", ["idempotency_token"], unique=True)
