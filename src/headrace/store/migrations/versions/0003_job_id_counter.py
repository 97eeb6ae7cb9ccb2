"""Job ids come from a counter, so a deleted job's id is never given to a new job.

SQLite hands out max(rowid) + 1, which reuses the id of the newest job once it is deleted;
a run_job_task naming that id would then start somebody else's job.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    last = conn.execute(sa.text("SELECT COALESCE(MAX(job_id), 0) FROM jobs")).scalar()
    conn.execute(
        sa.text("INSERT INTO counters (name, value) VALUES ('job_id', :v)"), {"v": int(last)}
    )


def downgrade() -> None:
    op.get_bind().execute(sa.text("DELETE FROM counters WHERE name = 'job_id'"))
