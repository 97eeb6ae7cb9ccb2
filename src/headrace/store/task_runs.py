"""Task runs and repairs: every query behind a named function (re-exported by `store.runs`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from headrace.errors import InvalidTransition, NotFound
from headrace.states import ACTIVE, LifeCycle, sources_of
from headrace.store.columns import (
    JSON_ROWS_PER_STATEMENT,
    insert,
    insert_many,
    json_insert_sql,
    json_rows,
    with_defaults,
)
from headrace.store.progress import LIVE_IN
from headrace.store.records import TaskRun
from headrace.store.sql import Tx as Connection
from headrace.store.sql import set_clause

_ACTIVE_STATES = [s.value for s in ACTIVE]
# State names are fixed words: written into the SQL, they cost no parameters.
_ACTIVE_IN = "(" + ", ".join(f"'{s}'" for s in sorted(_ACTIVE_STATES)) + ")"
_WAITING_FOR_RETRY = LifeCycle.WAITING_FOR_RETRY.value

# SQL text that SQLite (sqlite3) and PostgreSQL both run (see store/runs.py).
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
# The same rows and those of any other key that hold task values (usually none).
_CURRENT_BY_KEYS_AND_VALUES = (
    f"SELECT * FROM task_runs WHERE {_CURRENT} AND parent_id IS NULL"
    " AND (task_key IN :b_keys OR task_values IS NOT NULL) ORDER BY task_run_id"
)
# PostgreSQL: a top-level task's end and its dependents' count-down (`{}`: the SET list).
_END_AND_RELEASE = (
    "WITH ended AS (UPDATE task_runs SET {}"
    " WHERE task_run_id = :b_id AND life_cycle_state IN :b_from RETURNING task_run_id),"
    " released AS (UPDATE task_runs SET waiting_on = waiting_on - 1"
    f" WHERE {_CURRENT} AND parent_id IS NULL AND task_key IN :b_keys"
    " AND EXISTS (SELECT 1 FROM ended) RETURNING task_run_id, task_key, waiting_on)"
    " SELECT (SELECT count(*) FROM ended), (SELECT array_agg(task_key ORDER BY task_run_id)"
    " FROM released WHERE waiting_on <= 0)"
)
# The same, also answering whether another task run was live (store/progress.py's _ANY_LIVE
# without the ending one, which the statement's snapshot still sees live).
_END_AND_RELEASE_LIVE = _END_AND_RELEASE + (
    f", EXISTS (SELECT 1 FROM task_runs WHERE {_CURRENT} AND parent_id IS NULL"
    f" AND life_cycle_state IN {LIVE_IN} AND task_run_id <> :b_id)"
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


def insert_task_runs(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert task runs (each row a dict of the same columns). On PostgreSQL many rows are one
    statement of one JSON parameter (columns.json_insert_sql), not one INSERT per row."""
    if len(rows) > 1 and conn.dialect.name == "postgresql":
        full = [with_defaults("task_runs", r) for r in rows]
        sql = json_insert_sql("task_runs", tuple(full[0]), "b_rows")
        for start in range(0, len(full), JSON_ROWS_PER_STATEMENT):
            chunk = full[start : start + JSON_ROWS_PER_STATEMENT]
            conn.execute(sql, {"b_rows": json_rows(chunk)})
    elif rows:
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


def current_task_runs_and_values(
    conn: Connection, run_id: int, keys: Iterable[str]
) -> tuple[list[TaskRun], dict[str, dict[str, Any]]]:
    """`current_task_runs(run_id, keys)` and `task_values_of_run(run_id)` in one statement:
    the rows of `keys` read with those of the other keys that hold task values."""
    wanted = set(keys)
    rows = conn.execute(_CURRENT_BY_KEYS_AND_VALUES, {"b_run_id": run_id, "b_keys": list(wanted)})
    found, values = [], {}
    for row in rows:
        tr = TaskRun.from_row(row)
        if tr.task_key in wanted:
            found.append(tr)
        if row._mapping["task_values"] is not None:  # as _VALUES_OF_RUN: even an empty "{}"
            values[tr.task_key] = tr.task_values
    return found, values


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


def end_task_and_release_children(
    conn: Connection,
    task_run_id: int,
    target: LifeCycle,
    run_id: int,
    children: Sequence[str],
    *,
    ask_live: bool = False,
    **values: Any,
) -> tuple[list[str], bool]:
    """`set_task_state(task_run_id, target, **values)` for a top-level task's end, then
    `release_children(run_id, children)`: on PostgreSQL one statement (issue 18), which is
    the count-down's own (see docs/architecture.md, "Locks on PostgreSQL"). Answers (the
    keys now unblocked, whether another current top-level task run of the run was live
    before the statement); the latter only with `ask_live`, on PostgreSQL, with `children`
    (else False: not asked). Raises: InvalidTransition."""
    if not children or conn.dialect.name == "sqlite":
        set_task_state(conn, task_run_id, target, **values)
        return release_children(conn, run_id, children), False
    values = {"life_cycle_state": target.value, **values}
    stmt = _END_AND_RELEASE_LIVE if ask_live else _END_AND_RELEASE
    stmt = stmt.format(set_clause(values))
    params = {**values, "b_id": task_run_id, "b_from": _sources(target)}
    params.update(b_run_id=run_id, b_keys=list(children))
    row = conn.execute(stmt, params).one()
    if row[0] != 1:
        raise InvalidTransition(f"task run {task_run_id} cannot move to {target.value}")
    return list(row[1] or ()), bool(ask_live and row[2])


def count_open_task_runs(conn: Connection, run_id: int, *, parent_id: int | None = None) -> int:
    """How many current task runs (or iterations of `parent_id`) are not yet terminal."""
    if parent_id is None:
        return conn.execute(_COUNT_OPEN, {"b_run_id": run_id}).scalar_one()
    params = {"b_run_id": run_id, "b_parent": parent_id}
    return conn.execute(_COUNT_OPEN_ITERATIONS, params).scalar_one()


# PostgreSQL: the open count, and the run's current top-level task runs only when it is 0
# (one row of NULLs besides the count otherwise), in one statement and one snapshot.
_RUN_END_ROWS = (
    "SELECT o.headrace_open, t.* FROM (SELECT count(*) AS headrace_open FROM task_runs"
    f" WHERE {_CURRENT} AND life_cycle_state IN {_ACTIVE_IN} AND parent_id IS NULL) AS o"
    " LEFT JOIN task_runs AS t ON o.headrace_open = 0 AND t.run_id = :b_run_id"
    ' AND t."current" = TRUE AND t.parent_id IS NULL ORDER BY t.task_run_id'
)


def task_runs_if_none_open(conn: Connection, run_id: int) -> list[TaskRun] | None:
    """`current_task_runs(run_id)` if `count_open_task_runs(run_id)` is 0, else None: what a
    run's end is decided from; on PostgreSQL one statement instead of two (issue 18)."""
    if conn.dialect.name == "sqlite":
        if count_open_task_runs(conn, run_id):
            return None
        return current_task_runs(conn, run_id)
    rows = conn.execute(_RUN_END_ROWS, {"b_run_id": run_id}).all()
    if rows[0][0]:
        return None
    return [TaskRun.from_row(r) for r in rows if r._mapping["task_run_id"] is not None]


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
