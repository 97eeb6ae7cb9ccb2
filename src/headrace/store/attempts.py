"""Attempts: every query behind a named function (re-exported by `store.runs`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from headrace.errors import AttemptEnded, NotFound
from headrace.store.columns import insert
from headrace.store.records import Attempt
from headrace.store.sql import Tx as Connection
from headrace.store.sql import set_clause

# Highest priority first, aged by waiting (issue 16): see insert_attempt.
_OF_COORDINATOR = " AND run_id IN (SELECT run_id FROM runs WHERE coordinator_id = :b_coordinator)"
# A worker serving pools claims attempts that ask for none of them or for one of its pools.
_IN_POOLS = " AND (pool IS NULL OR pool IN :b_pools)"


def _pick_pending(of_coordinator: bool, in_pools: bool, lock: bool) -> str:
    where = (_OF_COORDINATOR if of_coordinator else "") + (_IN_POOLS if in_pools else "")
    sql = f"SELECT * FROM attempts WHERE state = 'PENDING'{where}"
    sql += " ORDER BY claim_key, attempt_id LIMIT 1"
    return sql + (" FOR UPDATE SKIP LOCKED" if lock else "")


_PICK_PENDING = {
    (c, p, lock): _pick_pending(c, p, lock)
    for c in (False, True)
    for p in (False, True)
    for lock in (False, True)
}
_CLAIM = (
    "UPDATE attempts SET state = :state, worker_id = :worker_id, start_time = :start_time,"
    " log_path = :log_path WHERE attempt_id = :b_id AND state = 'PENDING'"
)


# One priority point is worth this much waiting: a priority-5 attempt goes before priority-0
# attempts queued up to 5 minutes after it, and after those queued longer before it.
PRIORITY_AGING_MS = 60_000


def insert_attempt(conn: Connection, *, priority: int = 0, **values: Any) -> int:
    """Insert an attempt; returns its id. Workers claim in the order of its claim key."""
    values["claim_key"] = values["created_time"] - priority * PRIORITY_AGING_MS
    return conn.execute(*insert("attempts", values, returning="attempt_id")).scalar_one()


def claim_next_attempt(
    conn: Connection,
    worker_id: str,
    now_ms: int,
    log_path: Callable[[Attempt], str],
    coordinator_id: str | None = None,
    pools: frozenset[str] | None = None,
) -> Attempt | None:
    """Take the oldest pending attempt for `worker_id` (only of runs that `coordinator_id`
    drives, if given; only pool-less ones and those of `pools`, unless `pools` is None), or
    None."""
    lock = conn.dialect.name != "sqlite"
    pick = _PICK_PENDING[(coordinator_id is not None, pools is not None, lock)]
    params: dict[str, Any] = {} if coordinator_id is None else {"b_coordinator": coordinator_id}
    if pools is not None:
        params["b_pools"] = sorted(pools)
    row = conn.execute(pick, params).first()
    if row is None:
        return None
    pending = Attempt.from_row(row)
    path = log_path(pending)
    values = {"state": "RUNNING", "worker_id": worker_id, "start_time": now_ms, "log_path": path}
    claimed = conn.execute(_CLAIM, {"b_id": pending.attempt_id, **values}).rowcount
    if claimed != 1:
        return None
    return replace(pending, state="RUNNING", worker_id=worker_id, start_time=now_ms, log_path=path)


def get_attempt(conn: Connection, attempt_id: int) -> Attempt:
    """The attempt `attempt_id`. Raises: NotFound."""
    stmt = "SELECT * FROM attempts WHERE attempt_id = :b_id"
    row = conn.execute(stmt, {"b_id": attempt_id}).first()
    if row is None:
        raise NotFound(f"attempt {attempt_id} does not exist")
    return Attempt.from_row(row)


def update_attempt(conn: Connection, attempt_id: int, **values: Any) -> None:
    """Change columns of an attempt."""
    stmt = f"UPDATE attempts SET {set_clause(values)} WHERE attempt_id = :b_id"
    conn.execute(stmt, {**values, "b_id": attempt_id})


def end_attempt(
    conn: Connection, attempt_id: int, *, from_states: Sequence[str], **values: Any
) -> None:
    """Mark an attempt TERMINATED if it is in `from_states`. Raises: InvalidTransition."""
    values = {"state": "TERMINATED", **values}
    stmt = f"UPDATE attempts SET {set_clause(values)} WHERE attempt_id = :b_id AND state IN :b_from"
    params = {**values, "b_id": attempt_id, "b_from": list(from_states)}
    if conn.execute(stmt, params).rowcount != 1:
        raise AttemptEnded(f"attempt {attempt_id} has already ended")


def attempts_of_run(conn: Connection, run_id: int) -> list[Attempt]:
    """Every attempt of a run."""
    stmt = "SELECT * FROM attempts WHERE run_id = :b_run_id ORDER BY attempt_id"
    return [Attempt.from_row(r) for r in conn.execute(stmt, {"b_run_id": run_id})]


def open_attempts_of_run(conn: Connection, run_id: int) -> list[Attempt]:
    """Attempts of a run that are pending or running."""
    stmt = "SELECT * FROM attempts WHERE run_id = :b_run_id AND state IN ('PENDING', 'RUNNING')"
    return [Attempt.from_row(r) for r in conn.execute(stmt, {"b_run_id": run_id})]
