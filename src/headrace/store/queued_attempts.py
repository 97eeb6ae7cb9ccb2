"""Queued attempts in batches: a fan-out's consecutive starts in one statement on PostgreSQL
(issue 18), with `store.attempts.queue_attempt`'s effects for each (re-exported by
`store.runs`)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, NamedTuple

from headrace.errors import InvalidTransition
from headrace.store.attempts import _PENDING_FROM, PRIORITY_AGING_MS, queue_attempt
from headrace.store.columns import json_rows
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


_BATCH = 1000  # attempts per statement (a bound on one statement's JSON, ~1-2 kB an attempt)


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
    PostgreSQL one statement for (up to 1,000) consecutive items whose task run values name
    the same columns, with their ids in the items' order (which breaks claim-key ties). Raises:
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
    """One statement: the attempts and their task runs' values as two JSON parameters that
    `json_populate_recordset` reads with the tables' own column types. Its text depends on
    `columns` only, not on the number of items, so psycopg caches its conversion and
    prepares it (a VALUES list of casts was ~3,500 characters and ~100 parameters for 8)."""
    attempts = []
    task_runs = []
    for item in items:
        attempts.append(
            {
                "task_run_id": item.task_run_id,
                "run_id": item.run_id,
                "attempt_number": item.attempt_number,
                "payload": item.payload,
                "created_time": item.created_time,
                "pool": item.pool,
                "claim_key": item.created_time - item.priority * PRIORITY_AGING_MS,
            }
        )
        task_runs.append({**item.task_run_values, "task_run_id": item.task_run_id})
    params = {
        "b_attempts": json_rows(attempts),
        "b_task_runs": json_rows(task_runs),
        "b_from": _PENDING_FROM,
    }
    queued = dict(conn.execute(_queue_many_sql(tuple(columns)), params).all())
    by_task_run = {task_run_id: attempt_id for attempt_id, task_run_id in queued.items()}
    missing = [i.task_run_id for i in items if i.task_run_id not in by_task_run]
    if missing:
        raise InvalidTransition(f"task run {missing[0]} cannot move to PENDING")
    return [by_task_run[i.task_run_id] for i in items]


@lru_cache(maxsize=64)
def _queue_many_sql(columns: tuple[str, ...]) -> str:
    """`_queue_many`'s statement for task run values of `columns`. The attempts are inserted
    in the items' order (WITH ORDINALITY), so their ids are too."""
    moved = "".join(f', "{column}" = v."{column}"' for column in columns)
    return (
        "WITH a AS (SELECT * FROM json_populate_recordset(NULL::attempts,"
        " CAST(:b_attempts AS json)) WITH ORDINALITY),"
        " v AS (SELECT * FROM json_populate_recordset(NULL::task_runs,"
        " CAST(:b_task_runs AS json))),"
        f" moved AS (UPDATE task_runs SET life_cycle_state = 'PENDING'{moved} FROM v"
        " WHERE task_runs.task_run_id = v.task_run_id AND task_runs.life_cycle_state IN :b_from"
        " RETURNING task_runs.task_run_id)"
        " INSERT INTO attempts (task_run_id, run_id, attempt_number, state, payload,"
        " created_time, pool, claim_key) SELECT a.task_run_id, a.run_id, a.attempt_number,"
        " 'PENDING', a.payload, a.created_time, a.pool, a.claim_key"
        " FROM a JOIN moved ON moved.task_run_id = a.task_run_id ORDER BY a.ordinality"
        " RETURNING attempt_id, task_run_id"
    )
