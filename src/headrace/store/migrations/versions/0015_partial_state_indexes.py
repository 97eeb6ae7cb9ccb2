"""PostgreSQL: the state indexes of attempts and task runs hold only the rows their queries look
for, and ix_task_runs_values only task runs with values, as on SQLite (issue 18).

No claim, end or state change of an attempt or task run is a HOT update (each changes an
indexed column), so each wrote a new entry into every index of its table. Now:

- ix_attempts_claim: PENDING attempts only (the claim's pick);
- ix_attempts_state: PENDING and RUNNING attempts only (running attempts, a run's open ones);
- ix_task_runs_run_state: task runs in an ACTIVE state only (a run's open task runs, the
  retries due);
- ix_task_runs_values: task runs with task values only (was a second full index on run_id).

Same columns as before (Alembic compares those); SQLite keeps its indexes (see schema.py).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_LIVE_TASK_RUN = (
    "life_cycle_state IN"
    " ('BLOCKED', 'PENDING', 'QUEUED', 'RUNNING', 'TERMINATING', 'WAITING_FOR_RETRY')"
)
# name, table, columns, WHERE
_INDEXES = [
    ("ix_attempts_claim", "attempts", ["state", "claim_key", "attempt_id"], "state = 'PENDING'"),
    ("ix_attempts_state", "attempts", ["state", "attempt_id"], "state IN ('PENDING', 'RUNNING')"),
    ("ix_task_runs_run_state", "task_runs", ["run_id", "life_cycle_state"], _LIVE_TASK_RUN),
    ("ix_task_runs_values", "task_runs", ["run_id"], "task_values IS NOT NULL"),
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, table, columns, where in _INDEXES:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns, postgresql_where=sa.text(where))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, table, columns, _where in _INDEXES:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns)
