"""Queued attempts in batches: a fan-out's consecutive starts in one statement on PostgreSQL
(issue 18), with `store.attempts.queue_attempt`'s effects for each (re-exported by
`store.runs`)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, NamedTuple

from headrace.errors import InvalidTransition
from headrace.store.attempts import _PENDING_FROM, PRIORITY_AGING_MS, queue_attempt
from headrace.store.sql import Tx as Connection


class QueuedAttempt(NamedTuple):
    """One attempt for `queue_attempts`: `queue_attempt`'s arguments."""

    task_run_id: int
    task_run_values: dict[str, Any]
    run_id: int
    attempt_number: int
    payload: str
    created_time: int
    pool: str | None
    priority: int


# PostgreSQL types of the columns a batch of queued attempts carries (VALUES rows are typed by
# their casts: parameters alone would be text).
_ATTEMPT_TYPES = {
    "task_run_id": "BIGINT",
    "run_id": "BIGINT",
    "attempt_number": "INTEGER",
    "payload": "TEXT",
    "created_time": "BIGINT",
    "pool": "VARCHAR(64)",
    "claim_key": "BIGINT",
}
_BATCH = 100  # attempts per statement: a fan-out of 500 sends 5


@cache
def _task_run_type(column: str) -> str:
    from sqlalchemy.dialects import postgresql

    from headrace.store.schema import task_runs

    return str(task_runs.c[column].type.compile(dialect=postgresql.dialect()))


def queue_one(conn: Connection, item: QueuedAttempt) -> int:
    """`attempts.queue_attempt` of one prepared attempt: its id."""
    return queue_attempt(
        conn,
        item.task_run_id,
        item.task_run_values,
        run_id=item.run_id,
        attempt_number=item.attempt_number,
        payload=item.payload,
        created_time=item.created_time,
        pool=item.pool,
        priority=item.priority,
    )


def queue_attempts(conn: Connection, items: Sequence[QueuedAttempt]) -> list[int]:
    """`queue_attempt` for each of `items`, in order; returns their attempts' ids. On
    PostgreSQL one statement for (up to 100) items whose task run values name the same
    columns, with their ids in the items' order (which breaks claim-key ties). Raises:
    InvalidTransition (a task run cannot move to PENDING; nothing of the statement stays
    once the transaction rolls back, as after the one-by-one statements)."""
    if conn.dialect.name == "sqlite" or len(items) == 1:
        return [queue_one(conn, i) for i in items]
    ids: list[int] = []
    start = 0
    while start < len(items):
        columns = items[start].task_run_values.keys()
        end = start + 1
        while end < len(items) and end - start < _BATCH:
            if items[end].task_run_values.keys() != columns:
                break
            end += 1
        ids += _queue_many(conn, items[start:end], list(columns))
        start = end
    return ids


def _queue_many(conn: Connection, items: Sequence[QueuedAttempt], columns: list[str]) -> list[int]:
    params: dict[str, Any] = {"b_from": _PENDING_FROM}
    rows = []
    for n, item in enumerate(items):
        values = {
            "task_run_id": item.task_run_id,
            "run_id": item.run_id,
            "attempt_number": item.attempt_number,
            "payload": item.payload,
            "created_time": item.created_time,
            "pool": item.pool,
            "claim_key": item.created_time - item.priority * PRIORITY_AGING_MS,
        }
        cells = [str(n)]
        for name, value in values.items():
            params[f"v{n}_{name}"] = value
            cells.append(f"CAST(:v{n}_{name} AS {_ATTEMPT_TYPES[name]})")
        for c, column in enumerate(columns):
            params[f"v{n}_t{c}"] = item.task_run_values[column]
            cells.append(f"CAST(:v{n}_t{c} AS {_task_run_type(column)})")
        rows.append("(" + ", ".join(cells) + ")")
    names = ["ord", *_ATTEMPT_TYPES, *(f"t{c}" for c in range(len(columns)))]
    moved = ", ".join(f'"{column}" = v.t{c}' for c, column in enumerate(columns))
    stmt = (
        f"WITH v ({', '.join(names)}) AS (VALUES {', '.join(rows)}),"
        f" moved AS (UPDATE task_runs SET life_cycle_state = 'PENDING', {moved} FROM v"
        " WHERE task_runs.task_run_id = v.task_run_id AND task_runs.life_cycle_state IN :b_from"
        " RETURNING task_runs.task_run_id)"
        " INSERT INTO attempts (task_run_id, run_id, attempt_number, state, payload,"
        " created_time, pool, claim_key) SELECT v.task_run_id, v.run_id, v.attempt_number,"
        " 'PENDING', v.payload, v.created_time, v.pool, v.claim_key"
        " FROM v JOIN moved ON moved.task_run_id = v.task_run_id ORDER BY v.ord"
        " RETURNING attempt_id, task_run_id"
    )
    queued = dict(conn.execute(stmt, params).all())
    by_task_run = {task_run_id: attempt_id for attempt_id, task_run_id in queued.items()}
    missing = [i.task_run_id for i in items if i.task_run_id not in by_task_run]
    if missing:
        raise InvalidTransition(f"task run {missing[0]} cannot move to PENDING")
    return [by_task_run[i.task_run_id] for i in items]
