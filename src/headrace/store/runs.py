"""Runs: every query behind a named function. Task runs and repairs are in
`store/task_runs.py`, attempts in `store/attempts.py`; their functions are re-exported here, so
`store.runs` stays the one name callers use for all of them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from headrace.errors import InvalidTransition, NotFound
from headrace.states import ACTIVE, RUN_ALLOWED, LifeCycle, Result, sources_of
from headrace.store import health_timers
from headrace.store.attempts import OF_RUN as _ATTEMPTS_OF_RUN
from headrace.store.attempts import (  # re-exported: callers know them as store.runs.*
    PRIORITY_AGING_MS as PRIORITY_AGING_MS,
)
from headrace.store.attempts import attempts_of_run as attempts_of_run
from headrace.store.attempts import claim_next_attempt as claim_next_attempt
from headrace.store.attempts import end_attempt as end_attempt
from headrace.store.attempts import end_attempt_of_task_run as end_attempt_of_task_run
from headrace.store.attempts import get_attempt as get_attempt
from headrace.store.attempts import insert_attempt as insert_attempt
from headrace.store.attempts import lock_run_and_end_attempt as lock_run_and_end_attempt
from headrace.store.attempts import open_attempts_of_run as open_attempts_of_run
from headrace.store.attempts import queue_attempt as queue_attempt
from headrace.store.attempts import update_attempt as update_attempt
from headrace.store.columns import (
    JSON_ROWS_PER_STATEMENT,
    RUN_COLUMNS,
    insert,
    insert_many,
    json_insert_sql,
    json_rows,
    with_defaults,
)
from headrace.store.records import Run, TaskRun
from headrace.store.signals import COORDINATE, WORK
from headrace.store.sql import Tx as Connection
from headrace.store.sql import set_clause
from headrace.store.task_runs import _ACTIVE_IN, _WAITING_FOR_RETRY
from headrace.store.task_runs import all_task_runs as all_task_runs
from headrace.store.task_runs import count_open_task_runs as count_open_task_runs
from headrace.store.task_runs import current_task_runs as current_task_runs
from headrace.store.task_runs import (
    current_task_runs_and_values as current_task_runs_and_values,
)
from headrace.store.task_runs import due_retries as due_retries
from headrace.store.task_runs import (
    end_task_and_release_children as end_task_and_release_children,
)
from headrace.store.task_runs import execution_count as execution_count
from headrace.store.task_runs import finish_open_repair as finish_open_repair
from headrace.store.task_runs import insert_repair as insert_repair
from headrace.store.task_runs import insert_task_runs as insert_task_runs
from headrace.store.task_runs import next_retry_at as next_retry_at
from headrace.store.task_runs import release_children as release_children
from headrace.store.task_runs import repairs_of as repairs_of
from headrace.store.task_runs import retire_iterations as retire_iterations
from headrace.store.task_runs import retire_task_runs as retire_task_runs
from headrace.store.task_runs import retry_waiting as retry_waiting
from headrace.store.task_runs import set_task_state as set_task_state
from headrace.store.task_runs import task_run as task_run
from headrace.store.task_runs import task_values_of_run as task_values_of_run
from headrace.store.task_runs import update_task_run as update_task_run

# SQL text that SQLite (sqlite3) and PostgreSQL both run (issue 18: no SQLAlchemy on the hot
# path). Bound parameters are prefixed `b_` so they never clash with SET columns; a list
# parameter expands to an IN list (store/sql.py).
_GET_RUN = f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = :b_run_id"
_LOCK_RUN_FOR_UPDATE = _GET_RUN + " FOR UPDATE"
_LOCK_RUN_FOR_SHARE = _GET_RUN + " FOR SHARE"
_GET_RUNS = f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id IN :b_ids"
_UPDATE_JOB_PARAMETERS = "UPDATE runs SET job_parameters = :job_parameters WHERE run_id = :b_run_id"


def allocate_ids(conn: Connection, n: int) -> range:
    """Reserve `n` consecutive ids from the id space shared by runs, task runs and repairs."""
    stmt = "UPDATE counters SET value = value + :n WHERE name = 'run_id' RETURNING value"
    last = conn.execute(stmt, {"n": n}).scalar_one()
    return range(last - n + 1, last + 1)


# allocate_ids with admitted_and_queued's answers (issue 18: one statement of a run start, not
# two). The subqueries read the statement's snapshot, taken when it starts: after lock_job.
_ALLOCATE_AND_COUNT = (
    "UPDATE counters SET value = value + :n WHERE name = 'run_id' RETURNING value,"
    " (SELECT count(*) FROM runs WHERE job_id = :b_job_id AND life_cycle_state IN :b_admitted),"
    " (SELECT count(*) FROM runs WHERE job_id = :b_job_id AND life_cycle_state = :b_queued)"
)


def allocate_ids_and_count(conn: Connection, n: int, job_id: int) -> tuple[range, int, bool]:
    """`allocate_ids(n)` and `admitted_and_queued(job_id)` in one statement. Call it holding
    the job's lock (jobs.lock_job, a statement before), so the count sees every run start
    of the job that committed before ours."""
    admitted = sorted(s.value for s in ACTIVE if s is not LifeCycle.QUEUED)
    params = {
        "n": n,
        "b_job_id": job_id,
        "b_admitted": admitted,
        "b_queued": LifeCycle.QUEUED.value,
    }
    last, active, queued = conn.execute(_ALLOCATE_AND_COUNT, params).one()
    return range(last - n + 1, last + 1), active, queued > 0


def insert_run(conn: Connection, **values: Any) -> None:
    """Insert a run row."""
    conn.execute(*insert("runs", values))


def insert_runs(
    conn: Connection, rows: Sequence[dict[str, Any]], *, notify_work: bool = False
) -> None:
    """Insert many runs with one statement (each row a dict of the same columns).

    `notify_work` (PostgreSQL; SQLite has no one to tell): the statement also NOTIFYs the
    workers' channel, delivered when the transaction commits (identical notifications of one
    transaction are one)."""
    if rows:
        sql, params = insert_many("runs", list(rows))
        if notify_work and conn.dialect.name == "postgresql":
            sql += f" RETURNING pg_notify('{WORK}', '')"
        conn.execute(sql, params)


def insert_runs_and_task_runs(
    conn: Connection,
    rows: Sequence[dict[str, Any]],
    task_rows: Sequence[dict[str, Any]],
    *,
    notify_work: bool = False,
) -> None:
    """`insert_runs(rows, notify_work=...)` then `insert_task_runs(task_rows)`: on PostgreSQL
    one statement (the runs' INSERT in a WITH, so they exist for the task runs' foreign key
    checks at the statement's end), a run start's statement fewer (issue 18).

    Each table's rows travel as one JSON parameter that `json_populate_recordset` reads with
    the table's own column types: the statement's text depends on the column names only, not
    on how many rows there are, so psycopg caches its conversion and prepares it (a VALUES
    list of every cell was ~2,000 characters and ~250 parameters for one run of 10 tasks,
    converted again on every execute and never prepared)."""
    runs = [with_defaults("runs", r) for r in rows]
    tasks = [with_defaults("task_runs", r) for r in task_rows]
    size = len(runs) + len(tasks)  # a backfill's many runs: the two (chunked) inserts
    if conn.dialect.name != "postgresql" or not runs or not tasks or size > JSON_ROWS_PER_STATEMENT:
        insert_runs(conn, rows, notify_work=notify_work)
        insert_task_runs(conn, task_rows)
        return
    sql = _runs_and_task_runs_sql(tuple(runs[0]), tuple(tasks[0]), notify_work)
    conn.execute(sql, {"b_runs": json_rows(runs), "b_tasks": json_rows(tasks)})


@lru_cache(maxsize=64)
def _runs_and_task_runs_sql(
    run_columns: tuple[str, ...], task_columns: tuple[str, ...], notify_work: bool
) -> str:
    insert_runs = json_insert_sql("runs", run_columns, "b_runs")
    insert_tasks = json_insert_sql("task_runs", task_columns, "b_tasks")
    if notify_work:  # delivered at commit, as insert_runs' own
        return f"WITH r AS ({insert_runs}), t AS ({insert_tasks}) SELECT pg_notify('{WORK}', '')"
    return f"WITH r AS ({insert_runs}) {insert_tasks}"


def get_runs(conn: Connection, run_ids: Sequence[int]) -> dict[int, Run]:
    """The runs `run_ids` (those that exist), by id."""
    out: dict[int, Run] = {}
    for start in range(0, len(run_ids), 500):  # SQLite allows a limited number of variables
        chunk = list(run_ids[start : start + 500])
        for row in conn.execute(_GET_RUNS, {"b_ids": chunk}):
            run = Run.from_row(row)
            out[run.run_id] = run
    return out


_RUN_COLUMN_NAMES = tuple(c.strip() for c in RUN_COLUMNS.split(","))


class _Values:
    """What Run.from_row reads of a row (`_mapping`), from the values of an insert."""

    __slots__ = ("_mapping",)

    def __init__(self, values: dict[str, Any]) -> None:
        self._mapping = {c: values.get(c) for c in _RUN_COLUMN_NAMES}


def run_from_values(values: dict[str, Any]) -> Run:
    """The run that inserting `values` (as insert_runs does) stores: columns left out are
    NULL, as no column of `runs` has a database default."""
    return Run.from_row(_Values(values))


class _Inserted:
    """What TaskRun.from_row reads of a row (`_mapping`), from the values of an insert:
    columns left out are NULL (no column of `task_runs` has a database default)."""

    __slots__ = ("_mapping",)

    def __init__(self, values: dict[str, Any]) -> None:
        self._mapping = defaultdict(lambda: None, with_defaults("task_runs", values))


def task_run_from_values(values: dict[str, Any]) -> TaskRun:
    """The task run that inserting `values` (as insert_task_runs does) stores."""
    return TaskRun.from_row(_Inserted(values))


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


def end_run_state(
    conn: Connection,
    run_id: int,
    target: LifeCycle,
    job_id: int,
    *,
    notify_coordinate: bool = False,
    **values: Any,
) -> bool:
    """`set_run_state` of a run of job `job_id` that ends; returns whether the job has queued
    runs (its freed slot may admit one), read by the same statement (issue 18: one statement
    per run end fewer). `notify_coordinate` (PostgreSQL): the statement also NOTIFYs the
    coordinating server, delivered at commit. Raises: InvalidTransition."""
    allowed = sorted(s.value for s in sources_of(target, RUN_ALLOWED))
    values = {"life_cycle_state": target.value, **values}
    stmt = (
        f"UPDATE runs SET {set_clause(values)}"
        " WHERE run_id = :b_run_id AND life_cycle_state IN :b_allowed RETURNING"
        " (SELECT count(*) FROM runs WHERE job_id = :b_job_id AND life_cycle_state = :b_queued)"
    )
    if notify_coordinate and conn.dialect.name == "postgresql":
        stmt += f", pg_notify('{COORDINATE}', '')"
    params = {
        **values,
        "b_run_id": run_id,
        "b_allowed": allowed,
        "b_job_id": job_id,
        "b_queued": LifeCycle.QUEUED.value,
    }
    rows = conn.execute(stmt, params).all()
    if len(rows) != 1:
        raise InvalidTransition(f"run {run_id} cannot move to {target.value}")
    return rows[0][0] > 0


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


def admitted_and_queued(conn: Connection, job_id: int) -> tuple[int, bool]:
    """(count_admitted_runs, whether any run is queued) of a job, in one statement."""
    admitted = sorted(s.value for s in ACTIVE if s is not LifeCycle.QUEUED)
    stmt = (
        "SELECT count(*) FILTER (WHERE life_cycle_state IN :b_admitted),"
        " count(*) FILTER (WHERE life_cycle_state = :b_queued)"
        f" FROM runs WHERE job_id = :b_job_id AND life_cycle_state IN {_ACTIVE_IN}"
    )
    params = {"b_job_id": job_id, "b_admitted": admitted, "b_queued": LifeCycle.QUEUED.value}
    active, queued = conn.execute(stmt, params).one()
    return active, queued > 0


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
    conn.execute(f"DELETE FROM attempts WHERE {_ATTEMPTS_OF_RUN}", {"b_run_id": run_id})
    for table in ("task_runs", "repairs", "runs"):
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


def queued_job_ids(conn: Connection) -> list[int]:
    """The jobs that have queued runs (the coordinating loop admits them when they fit)."""
    stmt = "SELECT DISTINCT job_id FROM runs WHERE life_cycle_state = :b_state"
    rows = conn.execute(stmt, {"b_state": LifeCycle.QUEUED.value})
    return sorted(r[0] for r in rows if r[0] is not None)


def active_run_owners(conn: Connection) -> list[tuple[int, str | None]]:
    """(run id, coordinator id) of every run that has not ended."""
    stmt = f"SELECT run_id, coordinator_id FROM runs WHERE life_cycle_state IN {_ACTIVE_IN}"
    return [(run_id, owner) for run_id, owner in conn.execute(stmt)]


def active_runs(conn: Connection) -> list[Run]:
    """Every run that has not ended."""
    stmt = f"SELECT {RUN_COLUMNS} FROM runs WHERE life_cycle_state IN {_ACTIVE_IN}"
    return [Run.from_row(r) for r in conn.execute(stmt)]
