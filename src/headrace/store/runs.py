"""Runs, task runs, repairs and attempts: every query behind a named function."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, or_, select, update

from headrace.errors import AttemptEnded, InvalidTransition, NotFound
from headrace.states import ACTIVE, RUN_ALLOWED, LifeCycle, Result, sources_of
from headrace.store import health_timers
from headrace.store.records import Attempt, Run, TaskRun
from headrace.store.schema import attempts, counters, repairs, runs, task_runs

_RUN_COLUMNS = [c for c in runs.c if c.name != "settings"]
_ACTIVE_STATES = [s.value for s in ACTIVE]

# Hot statements are built once: constructing SQLAlchemy expressions costs more than running
# them on SQLite. Bound parameters are prefixed `b_` so they never clash with SET columns.
_GET_RUN = select(*_RUN_COLUMNS).where(runs.c.run_id == bindparam("b_run_id"))
_LOCK_RUN_FOR_UPDATE = _GET_RUN.with_for_update()
_LOCK_RUN_FOR_SHARE = _GET_RUN.with_for_update(read=True)
_GET_RUNS = select(*_RUN_COLUMNS).where(runs.c.run_id.in_(bindparam("b_ids", expanding=True)))
_INSERT_RUN = insert(runs)
_UPDATE_RUN = update(runs).where(runs.c.run_id == bindparam("b_run_id"))
_GET_TASK_RUN = select(task_runs).where(task_runs.c.task_run_id == bindparam("b_id"))
_MOVE_TASK_RUN = update(task_runs).where(
    task_runs.c.task_run_id == bindparam("b_id"),
    task_runs.c.life_cycle_state.in_(bindparam("b_from", expanding=True)),
)
_UPDATE_TASK_RUN = update(task_runs).where(task_runs.c.task_run_id == bindparam("b_id"))
_CURRENT = (task_runs.c.run_id == bindparam("b_run_id"), task_runs.c.current.is_(True))
_RELEASE_CHILDREN = (
    update(task_runs)
    .where(
        *_CURRENT,
        task_runs.c.parent_id.is_(None),
        task_runs.c.task_key.in_(bindparam("b_keys", expanding=True)),
    )
    .values(waiting_on=task_runs.c.waiting_on - 1)
    .returning(task_runs.c.task_key, task_runs.c.waiting_on)
)
_CURRENT_BY_KEYS = (
    select(task_runs)
    .where(
        *_CURRENT,
        task_runs.c.parent_id.is_(None),
        task_runs.c.task_key.in_(bindparam("b_keys", expanding=True)),
    )
    .order_by(task_runs.c.task_run_id)
)
_COUNT_OPEN = select(func.count()).where(
    *_CURRENT,
    task_runs.c.life_cycle_state.in_(_ACTIVE_STATES),
    task_runs.c.parent_id.is_(None),
)
_VALUES_OF_RUN = select(task_runs.c.task_key, task_runs.c.task_values).where(
    *_CURRENT, task_runs.c.parent_id.is_(None), task_runs.c.task_values.is_not(None)
)
_EXECUTION_COUNT = (
    select(func.count())
    .select_from(attempts.join(task_runs, attempts.c.task_run_id == task_runs.c.task_run_id))
    .where(
        task_runs.c.run_id == bindparam("b_run_id"),
        task_runs.c.task_key == bindparam("b_key"),
        task_runs.c.parent_id.is_(None),
    )
)
_INSERT_ATTEMPT = insert(attempts)
# Highest priority first, aged by waiting (issue 16): see insert_attempt.
_PICK_PENDING = (
    select(attempts)
    .where(attempts.c.state == "PENDING")
    .order_by(attempts.c.claim_key, attempts.c.attempt_id)
    .limit(1)
)
_PICK_PENDING_OF_COORDINATOR = _PICK_PENDING.where(
    attempts.c.run_id.in_(
        select(runs.c.run_id).where(runs.c.coordinator_id == bindparam("b_coordinator"))
    )
)
# A worker serving pools claims attempts that ask for none of them or for one of its pools.
_IN_POOLS = or_(
    attempts.c.pool.is_(None), attempts.c.pool.in_(bindparam("b_pools", expanding=True))
)
_PICK_PENDING_IN_POOLS = _PICK_PENDING.where(_IN_POOLS)
_PICK_PENDING_OF_COORDINATOR_IN_POOLS = _PICK_PENDING_OF_COORDINATOR.where(_IN_POOLS)
_CLAIM = update(attempts).where(
    attempts.c.attempt_id == bindparam("b_id"), attempts.c.state == "PENDING"
)
_END_ATTEMPT = update(attempts).where(
    attempts.c.attempt_id == bindparam("b_id"),
    attempts.c.state.in_(bindparam("b_from", expanding=True)),
)


def allocate_ids(conn: Connection, n: int) -> range:
    """Reserve `n` consecutive ids from the id space shared by runs, task runs and repairs."""
    stmt = (
        update(counters)
        .where(counters.c.name == "run_id")
        .values(value=counters.c.value + n)
        .returning(counters.c.value)
    )
    last = conn.execute(stmt).scalar_one()
    return range(last - n + 1, last + 1)


def insert_run(conn: Connection, **values: Any) -> None:
    """Insert a run row."""
    conn.execute(insert(runs).values(**values))


def insert_runs(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert many runs with one statement (each row a dict of the same columns)."""
    if rows:
        conn.execute(_INSERT_RUN, list(rows))


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
        conn.execute(_UPDATE_RUN, rows)


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
    return conn.execute(select(runs.c.settings).where(runs.c.run_id == run_id)).scalar_one()


def update_run(conn: Connection, run_id: int, **values: Any) -> None:
    """Change columns of a run."""
    conn.execute(update(runs).where(runs.c.run_id == run_id).values(**values))


def set_run_state(conn: Connection, run_id: int, target: LifeCycle, **values: Any) -> None:
    """Move a run to `target` if its state allows. Raises: InvalidTransition."""
    allowed = [s.value for s in sources_of(target, RUN_ALLOWED)]
    stmt = (
        update(runs)
        .where(runs.c.run_id == run_id, runs.c.life_cycle_state.in_(allowed))
        .values(life_cycle_state=target.value, **values)
    )
    if conn.execute(stmt).rowcount != 1:
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
    stmt = select(*_RUN_COLUMNS).order_by(runs.c.start_time.desc(), runs.c.run_id.desc())
    if job_id is not None:
        stmt = stmt.where(runs.c.job_id == job_id)
    if active_only:
        stmt = stmt.where(runs.c.life_cycle_state.in_(_ACTIVE_STATES))
    if completed_only:
        stmt = stmt.where(runs.c.life_cycle_state.not_in(_ACTIVE_STATES))
    if run_type is not None:
        stmt = stmt.where(runs.c.run_type == run_type)
    if start_time_from is not None:
        stmt = stmt.where(runs.c.start_time >= start_time_from)
    if start_time_to is not None:
        stmt = stmt.where(runs.c.start_time <= start_time_to)
    rows = conn.execute(stmt.limit(limit).offset(offset)).all()
    return [Run.from_row(r) for r in rows]


@dataclass(frozen=True, slots=True)
class RunCell:
    """What a list shows of one run: its id, start and state."""

    run_id: int
    start_time: int
    life_cycle: LifeCycle
    result: Result | None


def recent_runs_of_jobs(
    conn: Connection, job_ids: Sequence[int], per_job: int
) -> dict[int, list[RunCell]]:
    """The newest `per_job` runs of each job, newest first, in one query per 900 jobs."""
    found: dict[int, list[RunCell]] = {j: [] for j in job_ids}
    ids = list(job_ids)
    cols = [runs.c.job_id, runs.c.run_id, runs.c.start_time]
    cols += [runs.c.life_cycle_state, runs.c.result_state]
    for i in range(0, len(ids), 900):
        rank = (
            func.row_number()
            .over(
                partition_by=runs.c.job_id,
                order_by=(runs.c.start_time.desc(), runs.c.run_id.desc()),
            )
            .label("rank")
        )
        inner = select(*cols, rank).where(runs.c.job_id.in_(ids[i : i + 900])).subquery()
        stmt = (
            select(*[inner.c[c.name] for c in cols])
            .where(inner.c.rank <= per_job)
            .order_by(inner.c.job_id, inner.c.rank)
        )
        lives = {s.value: s for s in LifeCycle}
        for job_id, run_id, start, life, result in conn.execute(stmt):
            cell = RunCell(run_id, start, lives[life], Result(result) if result else None)
            found[job_id].append(cell)
    return found


def count_admitted_runs(conn: Connection, job_id: int) -> int:
    """Active runs of a job that hold a max_concurrent_runs slot (all but the queued)."""
    admitted = [s.value for s in ACTIVE if s is not LifeCycle.QUEUED]
    stmt = select(func.count()).where(
        runs.c.job_id == job_id, runs.c.life_cycle_state.in_(admitted)
    )
    return conn.execute(stmt).scalar_one()


def queued_runs(conn: Connection, job_id: int) -> list[Run]:
    """A job's queued runs, first come first."""
    stmt = (
        select(*_RUN_COLUMNS)
        .where(runs.c.job_id == job_id, runs.c.life_cycle_state == LifeCycle.QUEUED.value)
        .order_by(runs.c.run_id)
    )
    return [Run.from_row(r) for r in conn.execute(stmt)]


def run_with_token(conn: Connection, token: str, run_as: str | None) -> Run | None:
    """The run `run_as` created with this idempotency token, if any (tokens are per user)."""
    who = runs.c.run_as.is_(None) if run_as is None else runs.c.run_as == run_as
    row = conn.execute(select(*_RUN_COLUMNS).where(runs.c.idempotency_token == token, who)).first()
    return Run.from_row(row) if row is not None else None


def delete_run(conn: Connection, run_id: int) -> None:
    """Remove a run with its task runs, attempts and repairs."""
    conn.execute(attempts.delete().where(attempts.c.run_id == run_id))
    conn.execute(task_runs.delete().where(task_runs.c.run_id == run_id))
    conn.execute(repairs.delete().where(repairs.c.run_id == run_id))
    conn.execute(runs.delete().where(runs.c.run_id == run_id))


def _of(coordinator_id: str | None) -> Any:
    """Runs driven by `coordinator_id` (every run when None)."""
    if coordinator_id is None:
        return runs.c.run_id.is_not(None)
    return runs.c.coordinator_id == coordinator_id


def runs_with_due_timers(
    conn: Connection, now_ms: int, coordinator_id: str | None = None
) -> list[int]:
    """Active runs with a retry, a run timeout or a duration warning due (of one coordinator, if given)."""
    timed_out = select(runs.c.run_id).where(
        runs.c.life_cycle_state.in_(_ACTIVE_STATES),
        runs.c.stop_reason.is_(None),
        runs.c.timeout_at <= now_ms,
        _of(coordinator_id),
    )
    retrying = (
        select(task_runs.c.run_id)
        .join(runs, runs.c.run_id == task_runs.c.run_id)
        .where(
            task_runs.c.life_cycle_state == LifeCycle.WAITING_FOR_RETRY.value,
            task_runs.c.retry_at <= now_ms,
            _of(coordinator_id),
        )
    )
    found = {r[0] for r in conn.execute(timed_out)} | {r[0] for r in conn.execute(retrying)}
    found |= health_timers.runs_with_due_health(conn, now_ms, coordinator_id)  # duration warnings
    return sorted(found)


def next_timer_at(conn: Connection, coordinator_id: str | None = None) -> int | None:
    """The earliest retry, run timeout or duration warning of any active run (of one coordinator, if given)."""
    timeout = conn.execute(
        select(func.min(runs.c.timeout_at)).where(
            runs.c.life_cycle_state.in_(_ACTIVE_STATES),
            runs.c.stop_reason.is_(None),
            _of(coordinator_id),
        )
    ).scalar()
    retry = conn.execute(
        select(func.min(task_runs.c.retry_at))
        .join(runs, runs.c.run_id == task_runs.c.run_id)
        .where(
            task_runs.c.life_cycle_state == LifeCycle.WAITING_FOR_RETRY.value,
            _of(coordinator_id),
        )
    ).scalar()
    health = health_timers.next_health_at(conn, coordinator_id)  # duration warnings
    present = [t for t in (timeout, retry, health) if t is not None]
    return min(present) if present else None


def active_runs(conn: Connection) -> list[Run]:
    """Every run that has not ended."""
    stmt = select(*_RUN_COLUMNS).where(runs.c.life_cycle_state.in_(_ACTIVE_STATES))
    return [Run.from_row(r) for r in conn.execute(stmt)]


# --- task runs -------------------------------------------------------------------------------


def insert_task_runs(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert task runs (each row a dict of columns)."""
    if rows:
        conn.execute(insert(task_runs), list(rows))


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
    stmt = select(task_runs).where(task_runs.c.run_id == run_id, task_runs.c.current.is_(True))
    if parent_id is None:
        stmt = stmt.where(task_runs.c.parent_id.is_(None))
    else:
        stmt = stmt.where(task_runs.c.parent_id == parent_id)
    if keys is not None:
        stmt = stmt.where(task_runs.c.task_key.in_(list(keys)))
    stmt = stmt.order_by(task_runs.c.task_run_id)
    return [TaskRun.from_row(r) for r in conn.execute(stmt)]


def all_task_runs(conn: Connection, run_id: int) -> list[TaskRun]:
    """Every task run of a run, including iterations and those replaced by repairs."""
    stmt = select(task_runs).where(task_runs.c.run_id == run_id).order_by(task_runs.c.task_run_id)
    return [TaskRun.from_row(r) for r in conn.execute(stmt)]


@cache
def _sources(target: LifeCycle) -> list[str]:
    return sorted(s.value for s in sources_of(target))


def set_task_state(conn: Connection, task_run_id: int, target: LifeCycle, **values: Any) -> None:
    """Move a task run to `target` if its state allows. Raises: InvalidTransition."""
    params = {"b_id": task_run_id, "b_from": _sources(target), "life_cycle_state": target.value}
    if conn.execute(_MOVE_TASK_RUN, {**params, **values}).rowcount != 1:
        raise InvalidTransition(f"task run {task_run_id} cannot move to {target.value}")


def update_task_run(conn: Connection, task_run_id: int, **values: Any) -> None:
    """Change columns of a task run (no state change)."""
    conn.execute(_UPDATE_TASK_RUN, {"b_id": task_run_id, **values})


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
    stmt = select(func.count()).where(
        task_runs.c.run_id == run_id,
        task_runs.c.current.is_(True),
        task_runs.c.life_cycle_state.in_(_ACTIVE_STATES),
    )
    if parent_id is None:
        stmt = stmt.where(task_runs.c.parent_id.is_(None))
    else:
        stmt = stmt.where(task_runs.c.parent_id == parent_id)
    return conn.execute(stmt).scalar_one()


def due_retries(conn: Connection, run_id: int, now_ms: int) -> list[TaskRun]:
    """Retry-waiting task runs of a run whose retry time has come."""
    stmt = select(task_runs).where(
        task_runs.c.run_id == run_id,
        task_runs.c.life_cycle_state == LifeCycle.WAITING_FOR_RETRY.value,
        task_runs.c.retry_at <= now_ms,
    )
    return [TaskRun.from_row(r) for r in conn.execute(stmt)]


def retry_waiting(conn: Connection, run_id: int) -> list[TaskRun]:
    """Current task runs and iterations of a run that wait to be retried."""
    stmt = select(task_runs).where(
        task_runs.c.run_id == run_id,
        task_runs.c.current.is_(True),
        task_runs.c.life_cycle_state == LifeCycle.WAITING_FOR_RETRY.value,
    )
    return [TaskRun.from_row(r) for r in conn.execute(stmt)]


def next_retry_at(conn: Connection, run_id: int) -> int | None:
    """The earliest pending retry time in a run."""
    stmt = select(func.min(task_runs.c.retry_at)).where(
        task_runs.c.run_id == run_id,
        task_runs.c.life_cycle_state == LifeCycle.WAITING_FOR_RETRY.value,
    )
    return conn.execute(stmt).scalar()


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
    conn.execute(insert(repairs).values(**values))


def repairs_of(conn: Connection, run_id: int) -> list[dict[str, Any]]:
    """The repairs of a run, oldest first, as plain dicts."""
    stmt = select(repairs).where(repairs.c.run_id == run_id).order_by(repairs.c.repair_id)
    return [dict(r._mapping) for r in conn.execute(stmt)]


def finish_open_repair(conn: Connection, run_id: int, **values: Any) -> None:
    """End the run's repair that is still in progress, if any."""
    conn.execute(
        update(repairs)
        .where(repairs.c.run_id == run_id, repairs.c.end_time.is_(None))
        .values(**values)
    )


def retire_task_runs(conn: Connection, task_run_ids: Sequence[int]) -> None:
    """Mark task runs as replaced by a repair (kept for history)."""
    if task_run_ids:
        conn.execute(
            update(task_runs)
            .where(task_runs.c.task_run_id.in_(list(task_run_ids)))
            .values(current=False)
        )


def retire_iterations(conn: Connection, parent_ids: Sequence[int]) -> None:
    """Mark the iterations of for_each task runs as replaced by a repair."""
    if parent_ids:
        conn.execute(
            update(task_runs)
            .where(task_runs.c.parent_id.in_(list(parent_ids)))
            .values(current=False)
        )


# --- attempts --------------------------------------------------------------------------------


# One priority point is worth this much waiting: a priority-5 attempt goes before priority-0
# attempts queued up to 5 minutes after it, and after those queued longer before it.
PRIORITY_AGING_MS = 60_000


def insert_attempt(conn: Connection, *, priority: int = 0, **values: Any) -> int:
    """Insert an attempt; returns its id. Workers claim in the order of its claim key."""
    values["claim_key"] = values["created_time"] - priority * PRIORITY_AGING_MS
    return conn.execute(_INSERT_ATTEMPT, values).inserted_primary_key[0]


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
    if pools is None:
        pick = _PICK_PENDING if coordinator_id is None else _PICK_PENDING_OF_COORDINATOR
    else:
        pick = (
            _PICK_PENDING_IN_POOLS
            if coordinator_id is None
            else _PICK_PENDING_OF_COORDINATOR_IN_POOLS
        )
    if conn.dialect.name != "sqlite":
        pick = pick.with_for_update(skip_locked=True)
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
    row = conn.execute(select(attempts).where(attempts.c.attempt_id == attempt_id)).first()
    if row is None:
        raise NotFound(f"attempt {attempt_id} does not exist")
    return Attempt.from_row(row)


def update_attempt(conn: Connection, attempt_id: int, **values: Any) -> None:
    """Change columns of an attempt."""
    conn.execute(update(attempts).where(attempts.c.attempt_id == attempt_id).values(**values))


def end_attempt(
    conn: Connection, attempt_id: int, *, from_states: Sequence[str], **values: Any
) -> None:
    """Mark an attempt TERMINATED if it is in `from_states`. Raises: InvalidTransition."""
    params = {"b_id": attempt_id, "b_from": list(from_states), "state": "TERMINATED", **values}
    if conn.execute(_END_ATTEMPT, params).rowcount != 1:
        raise AttemptEnded(f"attempt {attempt_id} has already ended")


def attempts_of_run(conn: Connection, run_id: int) -> list[Attempt]:
    """Every attempt of a run."""
    stmt = select(attempts).where(attempts.c.run_id == run_id).order_by(attempts.c.attempt_id)
    return [Attempt.from_row(r) for r in conn.execute(stmt)]


def open_attempts_of_run(conn: Connection, run_id: int) -> list[Attempt]:
    """Attempts of a run that are pending or running."""
    stmt = select(attempts).where(
        attempts.c.run_id == run_id, attempts.c.state.in_(["PENDING", "RUNNING"])
    )
    return [Attempt.from_row(r) for r in conn.execute(stmt)]
