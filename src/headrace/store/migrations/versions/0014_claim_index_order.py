"""ix_attempts_claim covers the claim's whole order (issue 18): (state, claim_key, attempt_id).

A worker claims `WHERE state = 'PENDING' ORDER BY claim_key, attempt_id LIMIT 1 FOR UPDATE
SKIP LOCKED`. On (state, claim_key) PostgreSQL sorted incrementally and fetched every PENDING
row of the first claim_key groups (at least 32) for each claim; with attempt_id in the index
the first live entry is the answer.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_attempts_claim", table_name="attempts")
    op.create_index(
        "ix_attempts_claim", "attempts", ["state", "claim_key", "attempt_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_attempts_claim", table_name="attempts")
    op.create_index("ix_attempts_claim", "attempts", ["state", "claim_key"], unique=False)
