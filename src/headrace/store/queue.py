"""The attempts waiting for a worker, in the order workers claim them (issue 16's UI queue)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, literal_column, select

from headrace.store.runs import PRIORITY_AGING_MS
from headrace.store.schema import attempts, runs


def pending_in_claim_order(conn: Connection, limit: int = 200) -> list[dict[str, Any]]:
    """Pending attempts, next to be claimed first, with the priority their claim key holds."""
    query = (
        select(
            attempts.c.attempt_id,
            attempts.c.run_id,
            attempts.c.attempt_number,
            attempts.c.pool,
            attempts.c.claim_key,
            attempts.c.created_time,
            attempts.c.payload,
            runs.c.job_id,
            runs.c.run_name,
        )
        .join(runs, runs.c.run_id == attempts.c.run_id)
        # A literal, not a bound parameter: a generic plan (a prepared statement's, after
        # five runs) can read the partial index of pending attempts only when the statement
        # itself names the state (ix_attempts_claim, migration 0015).
        .where(attempts.c.state == literal_column("'PENDING'"))
        .order_by(attempts.c.claim_key, attempts.c.attempt_id)
        .limit(limit)
    )
    out = []
    for row in conn.execute(query):
        payload = json.loads(row.payload)
        key = row.claim_key if row.claim_key is not None else row.created_time
        out.append(
            {
                "attempt_id": row.attempt_id,
                "run_id": row.run_id,
                "job_id": row.job_id,
                "run_name": row.run_name,
                "task_key": payload.get("task_key"),
                "attempt_number": row.attempt_number,
                "pool": row.pool,
                "priority": (row.created_time - key) // PRIORITY_AGING_MS,
                "created_time": row.created_time,
            }
        )
    return out
