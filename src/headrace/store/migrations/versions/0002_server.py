"""Server: job versions, permissions, tokens, trigger state; run version, run_as, idempotency.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("job_version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("run_as", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("idempotency_token", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("trigger_info", sa.Text(), nullable=True))
        batch_op.create_index("ix_runs_idempotency", ["idempotency_token"], unique=True)
    op.create_table(
        "job_versions",
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "version"),
    )
    op.create_table(
        "job_permissions",
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("principal_type", sa.String(length=24), nullable=False),
        sa.Column("principal", sa.Text(), nullable=False),
        sa.Column("level", sa.String(length=24), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "principal_type", "principal"),
    )
    op.create_table(
        "tokens",
        sa.Column("token_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_name", sa.Text(), nullable=False),
        sa.Column("admin", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("expiry_time", sa.BigInteger(), nullable=True),
        sa.Column("revoked_time", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("token_id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_table(
        "trigger_state",
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("updated_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("job_id"),
    )


def downgrade() -> None:
    op.drop_table("trigger_state")
    op.drop_table("tokens")
    op.drop_table("job_permissions")
    op.drop_table("job_versions")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_idempotency")
        batch_op.drop_column("trigger_info")
        batch_op.drop_column("idempotency_token")
        batch_op.drop_column("run_as")
        batch_op.drop_column("job_version")
