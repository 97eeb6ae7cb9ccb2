"""Runs, task runs, repairs and attempts: every query behind a named function."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from headrace.errors import AttemptEnded, InvalidTransition, NotFound
from headrace.states import ACTIVE, RUN_ALLOWED, LifeCycle, Result, sources_of
from headrace.store import health_timers
from headrace.store.columns import RUN_COLUMNS, insert, insert_many
from headrace.store.records import Attempt, Run, TaskRun
from headrace.store.sql import Tx as Connection
from headrace.store.sql import set_clause

_ACTIVE_STATES = [s.value for s in ACTIVE]
# State names are fixed words: written into the SQL, they cost no parameters.
_ACTIVE_IN = "(" + ", ".join(f"'{s}'" for s in sorted(_ACTIVE_STATES)) + ")"
_WAITING_FOR_RETRY = LifeCycle.WAITING_FOR_RETRY.value

# SQL text that SQLite (sqlite3) and PostgreSQL both run (issue 18: no SQLAlchemy on the hot
# path). Bound parameters are prefixed `b_` so they never clash with SET columns; a list
# parameter expands to an IN list (store/sql.py).
_GET_RUN = f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = :b_run_id"
_LOCK_RUN_FOR_UPDATE = _GET_RUN + " FOR UPDATE"
_LOCK_RUN_FOR_SHARE = _GET_RUN + " FOR SHARE"
_GET_RUNS = f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id IN :b_ids"
_UPDATE_JOB_PARAMETERS = "UPDATE runs SET job_parameters = :job_parameters WHERE run_id = :b_run_id"
_GET_TASK_RUN = "SELECT * FROM task_runs WHERE task_run_id = :b_id"
_CURRENT = 'task_runs.run_id = :b_run_id AND task_runs."current" = TRUE'
_RELEASE_CHILDREN = (
    "UPDATE task_runs SET waiting_on = waiting_on - 1"
    f" WHERE {_CURRENT} AND parent_id IS NULL AND task_key IN :b_keys"
    " RETURNING task_key, waiting_on"
)
_CURRENT_BY_KEYS = (
    f"SELECT * FROM task_runs WHERE {_CURRENT} AND parent_id IS NULL AND task_key IN :b_keys"
    " ORDER BY task_run_id"
)
_COUNT_OPEN = (
    f"SELECT count(*) FROM task_runs WHERE {_CURRENT}"
    f" AND life_cycle_state IN {_ACTIVE_IN} AND parent_id IS NULL"
)
_COUNT_OPEN_ITERATIONS = (
    f"SELECT count(*) FROM task_runs WHERE {_CURRENT}"
    f" AND life_cycle_state IN {_ACTIVE_IN} AND parent_id = :b_parent"
)
_VALUES_OF_RUN = (
    f"SELECT task_key, task_values FROM task_runs WHERE {_CURRENT}"
    " AND parent_id IS NULL AND task_values IS NOT NULL"
)
_EXECUTION_COUNT = (
    "SELECT count(*) FROM attempts JOIN task_runs"
    " ON attempts.task_run_id = task_runs.task_run_id"
    " WHERE task_runs.run_id = :b_run_id AND task_runs.task_key = :b_key"
    " AND task_runs.parent_id IS NULL"
)
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


def allocate_ids(conn: Connection, n: int) -> range:
    """Reserve `n` consecutive ids from the id space shared by runs, task runs and repairs."""
    stmt = "UPDATE counters SET value = value + :n WHERE name = 'run_id' RETURNING value"
    last = conn.execute(stmt, {"n": n}).scalar_one()
    return range(last - n + 1, last + 1)


def insert_run(conn: Connection, **values: Any) -> None:
    """Insert a run row."""
    conn.execute(*insert("runs", values))


def insert_runs(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert many runs with one statement (each row a dict of the same columns)."""
    if rows:
        conn.execute(*insert_many("runs", list(rows)))


def get_runs(conn: Connection, run_ids: Sequence[int]) -> dict[int, Run]:
    """The runs `run_ids` (those that exist), by id."""
    out: dict[int, Run] = {}
    for start in range(0, len(run_ids), 500):  # SQLite allows a limited number of variables
        chunk = list(run_ids[start : start + 500])
        for row in conn.execute(_GET_RUNS, {"b_ids": chunk}):
            run = Run.from_row(row)
            out[run.run_id] = run
    return out


def set_job_parameters(conn: Connection, resolved: dict[int, str]) -> None:
    """Store each run's resolved job parameters (JSON), one statement for all."""
    if resolved:
        rows = [{"b_run_id": run_id, "job_parameters": text} for run_id, text in resolved.items()]
        conn.execute(_UPDATE_JOB_PARAMETERS, rows)


def get_run(conn: Connection, run_id: int) -> Run:
    """The run `run_id`. Raises: NotFound."""
    row = conn.execute(_GET_RUN, {"b_run_id": run_id}).first()
    if row is None:
        raise NotFound(f"Run {run_id} does not exist.")
    return Run.from_row(row)


def lock_run(conn: Connection, run_id: int, *, shared: bool = False) -> Run:
    """The run `run_id`, locked for this transaction (SQLite's write lock already is)."""
    if conn.dialect.name == "sqlite":
        stmt = _GET_RUN
    else:
        stmt = _LOCK_RUN_FOR_SHARE if shared else _LOCK_RUN_FOR_UPDATE
    row = conn.execute(stmt, {"b_run_id": run_id}).first()
    if row is None:
        raise NotFound(f"Run {run_id} does not exist.")
    return Run.from_row(row)


def run_settings(conn: Connection, run_id: int) -> str:
    """The JSON settings snapshot a run executes."""
    stmt = "SELECT settings FROM runs WHERE run_id = :b_run_id"
    return conn.execute(stmt, {"b_run_id": run_id}).scalar_one()


def run_settings_unlocked(conn: Connection, run_id: int) -> tuple[int, str]:
    """(repair_count, settings JSON) of a run, read without locking it: which lock to take
    depends on the plan (see Attempts.finish_attempt). Raises: NotFound."""
    stmt = "SELECT repair_count, settings FROM runs WHERE run_id = :b_run_id"
    row = conn.execute(stmt, {"b_run_id": run_id}).first()
    if row is None:
        raise NotFound(f"Run {run_id} does not exist.")
    return row[0], row[1]


def update_run(conn: Connection, run_id: int, **values: Any) -> None:
    """Change columns of a run."""
    stmt = f"UPDATE runs SET {set_clause(values)} WHERE run_id = :b_run_id"
    conn.execute(stmt, {**values, "b_run_id": run_id})


def set_run_state(conn: Connection, run_id: int, target: LifeCycle, **values: Any) -> None:
    """Move a run to `target` if its state allows. Raises: InvalidTransition."""
    allowed = sorted(s.value for s in sources_of(target, RUN_ALLOWED))
    values = {"life_cycle_state": target.value, **values}
    stmt = (
        f"UPDATE runs SET {set_clause(values)}"
        " WHERE run_id = :b_run_id AND life_cycle_state IN :b_allowed"
    )
    params = {**values, "b_run_id": run_id, "b_allowed": allowed}
    if conn.execute(stmt, params).rowcount != 1:
        raise InvalidTransition(f"run {run_id} cannot move to {target.value}")


def list_runs(
    conn: Connection,
    *,
    job_id: int | None = None,
    active_only: bool = False,
    completed_only: bool = False,
    run_type: str | None = None,
    start_time_from: int | None = None,
    start_time_to: int | None = None,
    limit: int = 25,
    offset: int = 0,
) -> list[Run]:
    """Runs, newest first."""
    where = ["1 = 1"]
    params: dict[str, Any] = {"b_limit": limit, "b_offset": offset}
    if job_id is not None:
        where.append("job_id = :b_job_id")
        params["b_job_id"] = job_id
    if active_only:
        where.append(f"life_cycle_state IN {_ACTIVE_IN}")
    if completed_only:
        where.append(f"life_cycle_state NOT IN {_ACTIVE_IN}")
    if run_type is not None:
        where.append("run_type = :b_run_type")
        params["b_run_type"] = run_type
    if start_time_from is not None:
        where.append("start_time >= :b_from")
        params["b_from"] = start_time_from
    if start_time_to is not None:
        where.append("start_time <= :b_to")
        params["b_to"] = start_time_to
    stmt = (
        f"SELECT {RUN_COLUMNS} FROM runs WHERE {' AND '.join(where)}"
        " ORDER BY start_time DESC, run_id DESC LIMIT :b_limit OFFSET :b_offset"
    )
    return [Run.from_row(r) for r in conn.execute(stmt, params)]


@dataclass(frozen=True, slots=True)
class RunCell:
    """What a list shows of one run: its id, start and state."""

    run_id: int
    start_time: int
    life_cycle: LifeCycle
    result: Result | None


_RECENT_RUNS = (
    "SELECT job_id, run_id, start_time, life_cycle_state, result_state FROM ("
    "SELECT job_id, run_id, start_time, life_cycle_state, result_state, row_number() OVER"
    " (PARTITION BY job_id ORDER BY start_time DESC, run_id DESC) AS recency"
    " FROM runs WHERE job_id IN :b_ids) AS ranked"
    " WHERE recency <= :b_per_job ORDER BY job_id, recency"
)


def recent_runs_of_jobs(
    conn: Connection, job_ids: Sequence[int], per_job: int
) -> dict[int, list[RunCell]]:
    """The newest `per_job` runs of each job, newest first, in one query per 900 jobs."""
    found: dict[int, list[RunCell]] = {j: [] for j in job_ids}
    ids = list(job_ids)
    lives = {s.value: s for s in LifeCycle}
    for i in range(0, len(ids), 900):
        params = {"b_ids": ids[i : i + 900], "b_per_job": per_job}
        for job_id, run_id, start, life, result in conn.execute(_RECENT_RUNS, params):
            cell = RunCell(run_id, start, lives[life], Result(result) if result else None)
            found[job_id].append(cell)
    return found


def count_admitted_runs(conn: Connection, job_id: int) -> int:
    """Active runs of a job that hold a max_concurrent_runs slot (all but the queued)."""
    admitted = sorted(s.value for s in ACTIVE if s is not LifeCycle.QUEUED)
    stmt = "SELECT count(*) FROM runs WHERE job_id = :b_job_id AND life_cycle_state IN :b_states"
    return conn.execute(stmt, {"b_job_id": job_id, "b_states": admitted}).scalar_one()


def queued_runs(conn: Connection, job_id: int) -> list[Run]:
    """A job's queued runs, first come first."""
    stmt = (
        f"SELECT {RUN_COLUMNS} FROM runs WHERE job_id = :b_job_id"
        " AND life_cycle_state = :b_state ORDER BY run_id"
    )
    params = {"b_job_id": job_id, "b_state": LifeCycle.QUEUED.value}
    return [Run.from_row(r) for r in conn.execute(stmt, params)]


def run_with_token(conn: Connection, token: str, run_as: str | None) -> Run | None:
    """The run `run_as` created with this idempotency token, if any (tokens are per user)."""
    who = "run_as IS NULL" if run_as is None else "run_as = :b_run_as"
    stmt = f"SELECT {RUN_COLUMNS} FROM runs WHERE idempotency_token = :b_token AND {who}"
    params = {"b_token": token} if run_as is None else {"b_token": token, "b_run_as": run_as}
    row = conn.execute(stmt, params).first()
    return Run.from_row(row) if row is not None else None


def delete_run(conn: Connection, run_id: int) -> None:
    """Remove a run with its task runs, attempts and repairs."""
    for table in ("attempts", "task_runs", "repairs", "runs"):
        conn.execute(f"DELETE FROM {table} WHERE run_id = :b_run_id", {"b_run_id": run_id})


def _of(coordinator_id: str | None) -> str:
    """Runs driven by `coordinator_id` (every run when None)."""
    return "1 = 1" if coordinator_id is None else "runs.coordinator_id = :b_coordinator"


def runs_with_due_timers(
    conn: Connection, now_ms: int, coordinator_id: str | None = None
) -> list[int]:
    """Active runs with a retry, a run timeout or a duration warning due (of one coordinator, if given)."""
    params = {"b_now": now_ms, "b_coordinator": coordinator_id}
    if coordinator_id is None:
        del params["b_coordinator"]
    timed_out = (
        f"SELECT run_id FROM runs WHERE life_cycle_state IN {_ACTIVE_IN}"
        f" AND stop_reason IS NULL AND timeout_at <= :b_now AND {_of(coordinator_id)}"
    )
    retrying = (
        "SELECT task_runs.run_id FROM task_runs JOIN runs ON runs.run_id = task_runs.run_id"
        f" WHERE task_runs.life_cycle_state = '{_WAITING_FOR_RETRY}'"
        f" AND task_runs.retry_at <= :b_now AND {_of(coordinator_id)}"
    )
    found = {r[0] for r in conn.execute(timed_out, params)}
    found |= {r[0] for r in conn.execute(retrying, params)}
    found |= health_timers.runs_with_due_health(conn, now_ms, coordinator_id)  # duration warnings
    return sorted(found)


def next_timer_at(conn: Connection, coordinator_id: str | None = None) -> int | None:
    """The earliest retry, run timeout or duration warning of any active run (of one coordinator, if given)."""
    params = {} if coordinator_id is None else {"b_coordinator": coordinator_id}
    timeout = conn.execute(
        f"SELECT min(timeout_at) FROM runs WHERE life_cycle_state IN {_ACTIVE_IN}"
        f" AND stop_reason IS NULL AND {_of(coordinator_id)}",
        params,
    ).scalar()
    retry = conn.execute(
        "SELECT min(task_runs.retry_at) FROM task_runs JOIN runs ON runs.run_id = task_runs.run_id"
        f" WHERE task_runs.life_cycle_state = '{_WAITING_FOR_RETRY}' AND {_of(coordinator_id)}",
        params,
    ).scalar()
    health = health_timers.next_health_at(conn, coordinator_id)  # duration warnings
    present = [t for t in (timeout, retry, health) if t is not None]
    return min(present) if present else None


def active_runs(conn: Connection) -> list[Run]:
    """Every run that has not ended."""
    stmt = f"SELECT {RUN_COLUMNS} FROM runs WHERE life_cycle_state IN {_ACTIVE_IN}"
    return [Run.from_row(r) for r in conn.execute(stmt)]


# --- task runs -------------------------------------------------------------------------------


def insert_task_runs(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert task runs (each row a dict of columns)."""
    if rows:
        conn.execute(*insert_many("task_runs", list(rows)))


def task_run(conn: Connection, task_run_id: int) -> TaskRun:
    """The task run `task_run_id`. Raises: NotFound."""
    row = conn.execute(_GET_TASK_RUN, {"b_id": task_run_id}).first()
    if row is None:
        raise NotFound(f"Run {task_run_id} does not exist.")
    return TaskRun.from_row(row)


def current_task_runs(
    conn: Connection,
    run_id: int,
    keys: Iterable[str] | None = None,
    *,
    parent_id: int | None = None,
) -> list[TaskRun]:
    """The current (not repaired-away) top-level task runs of a run, or a for_each's iterations."""
    if keys is not None and parent_id is None:
        rows = conn.execute(_CURRENT_BY_KEYS, {"b_run_id": run_id, "b_keys": list(keys)})
        return [TaskRun.from_row(r) for r in rows]
    params: dict[str, Any] = {"b_run_id": run_id}
    stmt = f"SELECT * FROM task_runs WHERE {_CURRENT}"
    if parent_id is None:
        stmt += " AND parent_id IS NULL"
    else:
        stmt += " AND parent_id = :b_parent"
        params["b_parent"] = parent_id
    if keys is not None:
        stmt += " AND task_key IN :b_keys"
        params["b_keys"] = list(keys)
    stmt += " ORDER BY task_run_id"
    return [TaskRun.from_row(r) for r in conn.execute(stmt, params)]


def all_task_runs(conn: Connection, run_id: int) -> list[TaskRun]:
    """Every task run of a run, including iterations and those replaced by repairs."""
    stmt = "SELECT * FROM task_runs WHERE run_id = :b_run_id ORDER BY task_run_id"
    return [TaskRun.from_row(r) for r in conn.execute(stmt, {"b_run_id": run_id})]


@cache
def _sources(target: LifeCycle) -> list[str]:
    return sorted(s.value for s in sources_of(target))


def set_task_state(conn: Connection, task_run_id: int, target: LifeCycle, **values: Any) -> None:
    """Move a task run to `target` if its state allows. Raises: InvalidTransition."""
    values = {"life_cycle_state": target.value, **values}
    stmt = (
        f"UPDATE task_runs SET {set_clause(values)}"
        " WHERE task_run_id = :b_id AND life_cycle_state IN :b_from"
    )
    params = {**values, "b_id": task_run_id, "b_from": _sources(target)}
    if conn.execute(stmt, params).rowcount != 1:
        raise InvalidTransition(f"task run {task_run_id} cannot move to {target.value}")


def update_task_run(conn: Connection, task_run_id: int, **values: Any) -> None:
    """Change columns of a task run (no state change)."""
    stmt = f"UPDATE task_runs SET {set_clause(values)} WHERE task_run_id = :b_id"
    conn.execute(stmt, {**values, "b_id": task_run_id})


def release_children(conn: Connection, run_id: int, keys: Sequence[str]) -> list[str]:
    """One upstream of each of `keys` ended: count it down; return the keys now unblocked."""
    if not keys:
        return []
    rows = conn.execute(_RELEASE_CHILDREN, {"b_run_id": run_id, "b_keys": list(keys)})
    return [key for key, waiting in rows if waiting <= 0]


def count_open_task_runs(conn: Connection, run_id: int, *, parent_id: int | None = None) -> int:
    """How many current task runs (or iterations of `parent_id`) are not yet terminal."""
    if parent_id is None:
        return conn.execute(_COUNT_OPEN, {"b_run_id": run_id}).scalar_one()
    params = {"b_run_id": run_id, "b_parent": parent_id}
    return conn.execute(_COUNT_OPEN_ITERATIONS, params).scalar_one()


def due_retries(conn: Connection, run_id: int, now_ms: int) -> list[TaskRun]:
    """Retry-waiting task runs of a run whose retry time has come."""
    stmt = (
        "SELECT * FROM task_runs WHERE run_id = :b_run_id"
        f" AND life_cycle_state = '{_WAITING_FOR_RETRY}' AND retry_at <= :b_now"
    )
    rows = conn.execute(stmt, {"b_run_id": run_id, "b_now": now_ms})
    return [TaskRun.from_row(r) for r in rows]


def retry_waiting(conn: Connection, run_id: int) -> list[TaskRun]:
    """Current task runs and iterations of a run that wait to be retried."""
    stmt = f"SELECT * FROM task_runs WHERE {_CURRENT} AND life_cycle_state = '{_WAITING_FOR_RETRY}'"
    return [TaskRun.from_row(r) for r in conn.execute(stmt, {"b_run_id": run_id})]


def next_retry_at(conn: Connection, run_id: int) -> int | None:
    """The earliest pending retry time in a run."""
    stmt = (
        "SELECT min(retry_at) FROM task_runs WHERE run_id = :b_run_id"
        f" AND life_cycle_state = '{_WAITING_FOR_RETRY}'"
    )
    return conn.execute(stmt, {"b_run_id": run_id}).scalar()


def task_values_of_run(conn: Connection, run_id: int) -> dict[str, dict[str, Any]]:
    """Task values set so far in a run, by task key (current task runs only)."""
    rows = conn.execute(_VALUES_OF_RUN, {"b_run_id": run_id})
    return {key: json.loads(values) for key, values in rows}


def execution_count(conn: Connection, run_id: int, task_key: str) -> int:
    """Attempts made of a task in a run, counting retries and repairs."""
    params = {"b_run_id": run_id, "b_key": task_key}
    return conn.execute(_EXECUTION_COUNT, params).scalar_one()


# --- repairs ---------------------------------------------------------------------------------


def insert_repair(conn: Connection, **values: Any) -> None:
    """Insert a repair row."""
    conn.execute(*insert("repairs", values))


def repairs_of(conn: Connection, run_id: int) -> list[dict[str, Any]]:
    """The repairs of a run, oldest first, as plain dicts."""
    stmt = "SELECT * FROM repairs WHERE run_id = :b_run_id ORDER BY repair_id"
    return [dict(r._mapping) for r in conn.execute(stmt, {"b_run_id": run_id})]


def finish_open_repair(conn: Connection, run_id: int, **values: Any) -> None:
    """End the run's repair that is still in progress, if any."""
    stmt = f"UPDATE repairs SET {set_clause(values)} WHERE run_id = :b_run_id AND end_time IS NULL"
    conn.execute(stmt, {**values, "b_run_id": run_id})


def retire_task_runs(conn: Connection, task_run_ids: Sequence[int]) -> None:
    """Mark task runs as replaced by a repair (kept for history)."""
    if task_run_ids:
        stmt = 'UPDATE task_runs SET "current" = FALSE WHERE task_run_id IN :b_ids'
        conn.execute(stmt, {"b_ids": list(task_run_ids)})


def retire_iterations(conn: Connection, parent_ids: Sequence[int]) -> None:
    """Mark the iterations of for_each task runs as replaced by a repair."""
    if parent_ids:
        stmt = 'UPDATE task_runs SET "current" = FALSE WHERE parent_id IN :b_ids'
        conn.execute(stmt, {"b_ids": list(parent_ids)})


# --- attempts --------------------------------------------------------------------------------


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
