"""A lease on each active pipeline update (issue 13): the process that owns an update (the
worker running its pipeline_task, the server or CLI that started it) renews `lease_until`; an
update whose owner died is failed once its lease expires, instead of blocking later updates.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pipeline_updates") as batch:
        batch.add_column(sa.Column("lease_until", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pipeline_updates") as batch:
        batch.drop_column("lease_until")
