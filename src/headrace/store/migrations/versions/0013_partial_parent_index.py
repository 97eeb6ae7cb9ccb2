"""ix_task_runs_parent holds only for_each iterations (issue 18): `WHERE parent_id IS NOT NULL`.

Top-level task runs (all but iterations) have no parent. With the full index, PostgreSQL
without statistics (autovacuum off) planned every `run_id = ... AND parent_id IS NULL` lookup of
a task's end as a BitmapAnd reading all those NULL entries of the table; a partial index cannot
answer `IS NULL`, so those lookups use the run_id indexes. Lookups by parent (`parent_id = ...`,
`IN (...)`) imply `IS NOT NULL` and still use it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_task_runs_parent", table_name="task_runs")
    where = sa.text("parent_id IS NOT NULL")
    op.create_index(
        "ix_task_runs_parent",
        "task_runs",
        ["parent_id"],
        unique=False,
        sqlite_where=where,
        postgresql_where=where,
    )


def downgrade() -> None:
    op.drop_index("ix_task_runs_parent", table_name="task_runs")
    op.create_index("ix_task_runs_parent", "task_runs", ["parent_id"], unique=False)
