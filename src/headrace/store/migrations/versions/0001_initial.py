"""Initial schema: jobs, runs, repairs, task runs, attempts, workers, counters.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 08:18:03.388746
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "counters",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    # Runs and task runs share one id space, as on Databricks; ids start at 1000.
    op.bulk_insert(
        sa.table("counters", sa.column("name"), sa.column("value")),
        [{"name": "run_id", "value": 999}],
    )
    op.create_table(
        "jobs",
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("creator_user_name", sa.Text(), nullable=True),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("job_id"),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_name", ["name"], unique=False)

    op.create_table(
        "workers",
        sa.Column("worker_id", sa.String(length=64), nullable=False),
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("proc_start", sa.Text(), nullable=True),
        sa.Column("slots", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("heartbeat_at", sa.BigInteger(), nullable=False),
        sa.Column("stopped_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("worker_id"),
    )
    op.create_table(
        "runs",
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=True),
        sa.Column("run_name", sa.Text(), nullable=False),
        sa.Column("run_type", sa.String(length=16), nullable=False),
        sa.Column("trigger_type", sa.String(length=32), nullable=False),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.Column("job_parameters", sa.Text(), nullable=False),
        sa.Column("life_cycle_state", sa.String(length=24), nullable=False),
        sa.Column("result_state", sa.String(length=40), nullable=True),
        sa.Column("state_message", sa.Text(), nullable=False),
        sa.Column("stop_reason", sa.String(length=24), nullable=True),
        sa.Column("coordinator_id", sa.String(length=64), nullable=True),
        sa.Column("repair_count", sa.Integer(), nullable=False),
        sa.Column("latest_repair_id", sa.BigInteger(), nullable=True),
        sa.Column("timeout_at", sa.BigInteger(), nullable=True),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("start_time", sa.BigInteger(), nullable=False),
        sa.Column("end_time", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.job_id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("run_id"),
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index("ix_runs_job_start", ["job_id", "start_time"], unique=False)
        batch_op.create_index("ix_runs_state", ["life_cycle_state"], unique=False)

    op.create_table(
        "repairs",
        sa.Column(
            "repair_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("rerun_tasks", sa.Text(), nullable=False),
        sa.Column("life_cycle_state", sa.String(length=24), nullable=False),
        sa.Column("result_state", sa.String(length=40), nullable=True),
        sa.Column("state_message", sa.Text(), nullable=False),
        sa.Column("start_time", sa.BigInteger(), nullable=False),
        sa.Column("end_time", sa.BigInteger(), nullable=True),
        sa.Column("previous_result_state", sa.String(length=40), nullable=True),
        sa.Column("previous_end_time", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["runs.run_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("repair_id"),
    )
    with op.batch_alter_table("repairs", schema=None) as batch_op:
        batch_op.create_index("ix_repairs_run", ["run_id"], unique=False)

    op.create_table(
        "task_runs",
        sa.Column(
            "task_run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("task_key", sa.Text(), nullable=False),
        sa.Column("parent_id", sa.BigInteger(), nullable=True),
        sa.Column("iteration", sa.Integer(), nullable=True),
        sa.Column("input", sa.Text(), nullable=True),
        sa.Column("repair_id", sa.BigInteger(), nullable=True),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("life_cycle_state", sa.String(length=24), nullable=False),
        sa.Column("result_state", sa.String(length=40), nullable=True),
        sa.Column("state_message", sa.Text(), nullable=False),
        sa.Column("waiting_on", sa.Integer(), nullable=False),
        sa.Column("attempt_number", sa.Integer(), nullable=False),
        sa.Column("retry_at", sa.BigInteger(), nullable=True),
        sa.Column("outcome", sa.String(length=8), nullable=True),
        sa.Column("task_values", sa.Text(), nullable=True),
        sa.Column("resolved", sa.Text(), nullable=True),
        sa.Column("error_code", sa.String(length=40), nullable=True),
        sa.Column("start_time", sa.BigInteger(), nullable=True),
        sa.Column("end_time", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["runs.run_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("task_run_id"),
    )
    with op.batch_alter_table("task_runs", schema=None) as batch_op:
        batch_op.create_index("ix_task_runs_parent", ["parent_id"], unique=False)
        batch_op.create_index("ix_task_runs_run_key", ["run_id", "task_key"], unique=False)
        batch_op.create_index(
            "ix_task_runs_values",
            ["run_id"],
            unique=False,
            sqlite_where=sa.text("task_values IS NOT NULL"),
        )
        batch_op.create_index(
            "ix_task_runs_run_state", ["run_id", "life_cycle_state"], unique=False
        )

    op.create_table(
        "attempts",
        sa.Column(
            "attempt_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("task_run_id", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("attempt_number", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("result_state", sa.String(length=40), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("worker_id", sa.String(length=64), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("kill_reason", sa.String(length=24), nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_trace", sa.Text(), nullable=True),
        sa.Column("log_path", sa.Text(), nullable=True),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("start_time", sa.BigInteger(), nullable=True),
        sa.Column("end_time", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["task_run_id"], ["task_runs.task_run_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("attempt_id"),
    )
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.create_index("ix_attempts_state", ["state", "attempt_id"], unique=False)
        batch_op.create_index("ix_attempts_task_run", ["task_run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_attempts_task_run")
        batch_op.drop_index("ix_attempts_state")

    op.drop_table("attempts")
    with op.batch_alter_table("task_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_task_runs_run_key")
        batch_op.drop_index("ix_task_runs_run_state")
        batch_op.drop_index("ix_task_runs_values")
        batch_op.drop_index("ix_task_runs_parent")

    op.drop_table("task_runs")
    with op.batch_alter_table("repairs", schema=None) as batch_op:
        batch_op.drop_index("ix_repairs_run")

    op.drop_table("repairs")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_state")
        batch_op.drop_index("ix_runs_job_start")

    op.drop_table("runs")
    op.drop_table("workers")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_name")

    op.drop_table("jobs")
    op.drop_table("counters")
