"""Notifications: destinations, the outbox, and duration-warning timers.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "notification_destinations",
        sa.Column("destination_id", sa.String(length=36), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("destination_type", sa.String(length=24), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("destination_id"),
    )
    op.create_table(
        "notifications",
        sa.Column("notification_id", _ID, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("task_run_id", sa.BigInteger(), nullable=True),
        sa.Column("task_key", sa.Text(), nullable=True),
        sa.Column("event", sa.String(length=48), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("dedup_key", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.BigInteger(), nullable=False),
        sa.Column("lease_until", sa.BigInteger(), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("delivered_time", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("notification_id"),
        sa.UniqueConstraint("dedup_key"),
    )
    op.create_index("ix_notifications_state", "notifications", ["state", "next_attempt_at"])
    op.create_index("ix_notifications_run", "notifications", ["run_id"])
    op.create_table(
        "health_timers",
        sa.Column("timer_id", _ID, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("task_run_id", sa.BigInteger(), nullable=True),
        sa.Column("due_at", sa.BigInteger(), nullable=False),
        sa.Column("threshold_seconds", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("timer_id"),
    )
    op.create_index("ix_health_timers_due", "health_timers", ["due_at"])
    op.create_index("ix_health_timers_run", "health_timers", ["run_id"])


def downgrade() -> None:
    op.drop_table("health_timers")
    op.drop_index("ix_notifications_run", table_name="notifications")
    op.drop_index("ix_notifications_state", table_name="notifications")
    op.drop_table("notifications")
    op.drop_table("notification_destinations")
