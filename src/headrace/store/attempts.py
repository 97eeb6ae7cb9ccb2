"""Attempts: every query behind a named function (re-exported by `store.runs`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from headrace.errors import AttemptEnded, InvalidTransition, NotFound
from headrace.states import LifeCycle, sources_of
from headrace.store.columns import RUN_COLUMNS, insert
from headrace.store.records import Attempt, Run, TaskRun
from headrace.store.sql import Tx as Connection
from headrace.store.sql import set_clause
from headrace.store.task_runs import set_task_state, task_run

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
# PostgreSQL: the claim and its task run's move to RUNNING in one statement, which answers
# (attempts claimed, task runs moved).
_RUNNING_FROM = sorted(s.value for s in sources_of(LifeCycle.RUNNING))


def _claim_and_start(pooled: bool) -> str:
    message = ", state_message = ''" if pooled else ""  # no longer waiting for a pool
    return (
        f"WITH claimed AS ({_CLAIM} RETURNING attempt_id),"
        f" started AS (UPDATE task_runs SET life_cycle_state = 'RUNNING'{message}"
        " WHERE task_run_id = :b_task_run AND life_cycle_state IN :b_from"
        " AND EXISTS (SELECT 1 FROM claimed) RETURNING task_run_id)"
        " SELECT (SELECT count(*) FROM claimed), (SELECT count(*) FROM started)"
    )


_CLAIM_AND_START = _claim_and_start(False)
_CLAIM_AND_START_POOLED = _claim_and_start(True)


class LogPaths:
    """Where a claimed attempt's output goes, under the worker's logs folder:
    `logs_dir/run_id/task_key[iteration]/task_run_id-attempt_number/output.log` (`[iteration]`
    for a for_each iteration only; task key and iteration as the attempt's payload has them).

    Given as a claim's `log_path`, it lets PostgreSQL pick and claim in one statement: the
    same rule in SQL (`_LOG_PATH_SQL`) computes the path from the picked row, so the worker
    need not see the row first. tests/integration/test_claim_log_paths.py proves both equal.
    """

    __slots__ = ("prefix",)

    def __init__(self, logs_dir: str | os.PathLike[str]) -> None:
        # The folder as Path spells it, with one separator after it ("/" stays "/").
        self.prefix = str(Path(logs_dir) / "_")[:-1]

    def folder(self, attempt: Attempt) -> str:
        """The folder of an attempt's log, context and task values."""
        payload = attempt.payload
        key = payload["task_key"]
        if "iteration" in payload:
            key = f"{key}[{payload['iteration']}]"
        return f"{self.prefix}{attempt.run_id}/{key}/{attempt.task_run_id}-{attempt.attempt_number}"

    def __call__(self, attempt: Attempt) -> str:
        return self.folder(attempt) + "/output.log"


# LogPaths's rule on the attempts row being claimed (PostgreSQL; `json ->>` gives NULL for
# an absent key, so an attempt without an iteration gets no brackets).
_PAYLOAD_JSON = "CAST(attempts.payload AS json)"
_LOG_PATH_SQL = (
    f"CAST(:b_prefix AS TEXT) || attempts.run_id || '/' || ({_PAYLOAD_JSON} ->> 'task_key')"
    f" || COALESCE('[' || ({_PAYLOAD_JSON} ->> 'iteration') || ']', '') || '/'"
    " || attempts.task_run_id || '-' || attempts.attempt_number || '/output.log'"
)


def _pick_and_claim(of_coordinator: bool, in_pools: bool) -> str:
    """PostgreSQL: pick the next pending attempt, claim it (never started before it was
    queued: see claim_next_attempt) and move its task run to RUNNING, in one statement that
    answers (task runs moved, the claimed attempt's columns...) or no row. The pick locks
    the row it takes (SKIP LOCKED) before the update, as the two statements did; a pooled
    attempt's task run no longer waits for a pool: its state message is cleared."""
    pick = _pick_pending(of_coordinator, in_pools, True).replace("SELECT *", "SELECT attempt_id")
    return (
        "WITH claimed AS (UPDATE attempts SET state = 'RUNNING', worker_id = :worker_id,"
        " start_time = GREATEST(CAST(:start_time AS BIGINT), created_time),"
        f" log_path = {_LOG_PATH_SQL} WHERE attempt_id = ({pick}) AND state = 'PENDING'"
        " RETURNING attempts.*),"
        " started AS (UPDATE task_runs SET life_cycle_state = 'RUNNING', state_message ="
        " CASE WHEN claimed.pool IS NULL THEN task_runs.state_message ELSE '' END"
        " FROM claimed WHERE task_runs.task_run_id = claimed.task_run_id"
        " AND task_runs.life_cycle_state IN :b_from RETURNING task_runs.task_run_id)"
        " SELECT (SELECT count(*) FROM started) AS headrace_started, claimed.* FROM claimed"
    )


_PICK_AND_CLAIM = {(c, p): _pick_and_claim(c, p) for c in (False, True) for p in (False, True)}

# PostgreSQL: a pending attempt inserted in the statement that moves its task run to PENDING
# (the casts give the SELECT's parameters their columns' types).
_PENDING_FROM = sorted(s.value for s in sources_of(LifeCycle.PENDING))
_INSERT_QUEUED = (
    "INSERT INTO attempts (task_run_id, run_id, attempt_number, state, payload, created_time,"
    " pool, claim_key) SELECT moved.task_run_id, CAST(:a_run_id AS BIGINT),"
    " CAST(:a_attempt_number AS INTEGER), 'PENDING', CAST(:a_payload AS TEXT),"
    " CAST(:a_created_time AS BIGINT), CAST(:a_pool AS VARCHAR(64)),"
    " CAST(:a_claim_key AS BIGINT) FROM moved RETURNING attempt_id"
)
# PostgreSQL: an ended attempt's log, kept in the statement that ends it.
_KEEP_LOG = (
    ", logged AS (INSERT INTO attempt_logs (attempt_id, content, size)"
    " SELECT attempt_id, :b_log, :b_log_size FROM ended)"
)


# One priority point is worth this much waiting: a priority-5 attempt goes before priority-0
# attempts queued up to 5 minutes after it, and after those queued longer before it.
PRIORITY_AGING_MS = 60_000


def insert_attempt(conn: Connection, *, priority: int = 0, **values: Any) -> int:
    """Insert an attempt; returns its id. Workers claim in the order of its claim key."""
    values["claim_key"] = values["created_time"] - priority * PRIORITY_AGING_MS
    return conn.execute(*insert("attempts", values, returning="attempt_id")).scalar_one()


def queue_attempt(
    conn: Connection,
    task_run_id: int,
    task_run_values: dict[str, Any],
    *,
    run_id: int,
    attempt_number: int,
    payload: str,
    created_time: int,
    pool: str | None,
    priority: int = 0,
) -> int:
    """Move a task run to PENDING with `task_run_values` (Raises: InvalidTransition) and
    insert its pending attempt; returns the attempt's id. On PostgreSQL one statement."""
    attempt = {
        "task_run_id": task_run_id,
        "run_id": run_id,
        "attempt_number": attempt_number,
        "state": "PENDING",
        "payload": payload,
        "created_time": created_time,
        "pool": pool,
    }
    if conn.dialect.name == "sqlite":
        set_task_state(conn, task_run_id, LifeCycle.PENDING, **task_run_values)
        return insert_attempt(conn, priority=priority, **attempt)
    values = {"life_cycle_state": LifeCycle.PENDING.value, **task_run_values}
    stmt = (
        f"WITH moved AS (UPDATE task_runs SET {set_clause(values)}"
        " WHERE task_run_id = :b_id AND life_cycle_state IN :b_from RETURNING task_run_id)"
        f" {_INSERT_QUEUED}"
    )
    params = {**values, "b_id": task_run_id, "b_from": _PENDING_FROM}
    params.update({f"a_{k}": v for k, v in attempt.items()})
    params["a_claim_key"] = created_time - priority * PRIORITY_AGING_MS
    attempt_id = conn.execute(stmt, params).scalar()
    if attempt_id is None:
        raise InvalidTransition(f"task run {task_run_id} cannot move to PENDING")
    return attempt_id


def claim_next_attempt(
    conn: Connection,
    worker_id: str,
    now_ms: int,
    log_path: Callable[[Attempt], str],
    coordinator_id: str | None = None,
    pools: frozenset[str] | None = None,
    *,
    start_task: bool = False,
) -> Attempt | None:
    """Take the oldest pending attempt for `worker_id` (only of runs that `coordinator_id`
    drives, if given; only pool-less ones and those of `pools`, unless `pools` is None), or
    None. With `start_task`, its task run moves to RUNNING too (no longer waiting for a pool:
    its state message is cleared). With `start_task` and a `LogPaths` as `log_path`, on
    PostgreSQL one statement (the log path computed in SQL), else two.
    Raises: InvalidTransition (the task run cannot run)."""
    lock = conn.dialect.name != "sqlite"
    params: dict[str, Any] = {} if coordinator_id is None else {"b_coordinator": coordinator_id}
    if pools is not None:
        params["b_pools"] = sorted(pools)
    if start_task and lock and isinstance(log_path, LogPaths):
        return _pick_and_claim_one(conn, worker_id, now_ms, log_path, coordinator_id, params)
    pick = _PICK_PENDING[(coordinator_id is not None, pools is not None, lock)]
    row = conn.execute(pick, params).first()
    if row is None:
        return None
    pending = Attempt.from_row(row)
    path = log_path(pending)
    # Never before the attempt was queued: `now_ms` was read before the pick, whose snapshot
    # (PostgreSQL) may see a queueing transaction that read its clock later and committed
    # meanwhile; a retry's created_time is its failed attempt's end_time (soak: a retry
    # claimed 1 ms before its lost attempt's end).
    start = max(now_ms, pending.created_time)
    values = {"state": "RUNNING", "worker_id": worker_id, "start_time": start, "log_path": path}
    if start_task and lock:  # PostgreSQL: the attempt and its task run in one statement
        stmt = _CLAIM_AND_START_POOLED if pending.pool else _CLAIM_AND_START
        params = {"b_id": pending.attempt_id, "b_task_run": pending.task_run_id, **values}
        claimed, started = conn.execute(stmt, {**params, "b_from": _RUNNING_FROM}).one()
        if claimed == 1 and started != 1:
            raise InvalidTransition(f"task run {pending.task_run_id} cannot move to RUNNING")
    else:
        claimed = conn.execute(_CLAIM, {"b_id": pending.attempt_id, **values}).rowcount
        if claimed == 1 and start_task:
            found = {"state_message": ""} if pending.pool else {}
            set_task_state(conn, pending.task_run_id, LifeCycle.RUNNING, **found)
    if claimed != 1:
        return None
    return replace(pending, state="RUNNING", worker_id=worker_id, start_time=start, log_path=path)


def _pick_and_claim_one(
    conn: Connection,
    worker_id: str,
    now_ms: int,
    log_paths: LogPaths,
    coordinator_id: str | None,
    params: dict[str, Any],
) -> Attempt | None:
    """claim_next_attempt's pick, claim and start on PostgreSQL in one statement."""
    stmt = _PICK_AND_CLAIM[(coordinator_id is not None, "b_pools" in params)]
    params.update(
        worker_id=worker_id, start_time=now_ms, b_prefix=log_paths.prefix, b_from=_RUNNING_FROM
    )
    row = conn.execute(stmt, params).first()
    if row is None:
        return None
    claimed = Attempt.from_row(row)
    if row[0] != 1:
        raise InvalidTransition(f"task run {claimed.task_run_id} cannot move to RUNNING")
    return claimed


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
    """Mark an attempt TERMINATED if it is in `from_states`. Raises: AttemptEnded."""
    values = {"state": "TERMINATED", **values}
    stmt = f"UPDATE attempts SET {set_clause(values)} WHERE attempt_id = :b_id AND state IN :b_from"
    params = {**values, "b_id": attempt_id, "b_from": list(from_states)}
    if conn.execute(stmt, params).rowcount != 1:
        raise AttemptEnded(f"attempt {attempt_id} has already ended")


def end_attempt_of_task_run(
    conn: Connection,
    attempt_id: int,
    task_run_id: int,
    *,
    from_states: Sequence[str],
    log: tuple[bytes, int] | None = None,
    **values: Any,
) -> TaskRun:
    """`end_attempt`, keep its `log` (gzipped content, whole size) if given, and return its
    task run: on PostgreSQL one statement instead of three (issue 18).
    Raises: AttemptEnded, NotFound."""
    if conn.dialect.name == "sqlite":
        end_attempt(conn, attempt_id, from_states=from_states, **values)
        if log is not None:
            from headrace.store.logs import save_log  # a headrace run (SQLite) keeps none

            save_log(conn, attempt_id, *log)
        return task_run(conn, task_run_id)
    values = {"state": "TERMINATED", **values}
    keep_log = _KEEP_LOG if log is not None else ""
    stmt = (
        f"WITH ended AS (UPDATE attempts SET {set_clause(values)}"
        " WHERE attempt_id = :b_id AND state IN :b_from RETURNING attempt_id)"
        f"{keep_log} SELECT (SELECT count(*) FROM ended) AS headrace_ended, task_runs.*"
        " FROM task_runs WHERE task_run_id = :b_task_run"
    )
    params = {**values, "b_id": attempt_id, "b_from": list(from_states)}
    params["b_task_run"] = task_run_id
    if log is not None:
        params["b_log"], params["b_log_size"] = log
    row = conn.execute(stmt, params).first()
    if row is None:
        raise NotFound(f"Run {task_run_id} does not exist.")
    if row[0] != 1:
        raise AttemptEnded(f"attempt {attempt_id} has already ended")
    return TaskRun.from_row(row)


_RUN_COLUMN_NAMES = tuple(c.strip() for c in RUN_COLUMNS.split(","))
# The run's columns under names of their own (task_runs has run_id, start_time, ... too).
_RUN_ALIASED = ", ".join(f"{c} AS headrace_run_{c}" for c in _RUN_COLUMN_NAMES)
_RUN_KEYS = tuple((c, f"headrace_run_{c}") for c in _RUN_COLUMN_NAMES)
# What Attempt.from_row reads, and the claimed attempt's columns under names of their own.
_ATTEMPT_COLUMN_NAMES = (
    *("attempt_id", "task_run_id", "run_id", "attempt_number", "state", "result_state"),
    *("payload", "worker_id", "pid", "kill_reason", "exit_code", "error", "error_trace"),
    *("output", "log_path", "pool", "created_time", "start_time", "end_time"),
)
_CLAIM_ALIASED = ", ".join(f"claimed.{c} AS headrace_claim_{c}" for c in _ATTEMPT_COLUMN_NAMES)
_CLAIM_KEYS = tuple((c, f"headrace_claim_{c}") for c in _ATTEMPT_COLUMN_NAMES)


class _Aliased:
    """What a record's from_row reads (`_mapping`), from a row's aliased columns."""

    __slots__ = ("_mapping",)

    def __init__(self, m: Any, keys: tuple[tuple[str, str], ...]) -> None:
        self._mapping = {c: m[alias] for c, alias in keys}


def _claim_after_end(of_coordinator: bool, in_pools: bool) -> str:
    """`_pick_and_claim` as CTEs (`claimed`, `started`) of the statement that ends an attempt
    (lock_run_and_end_attempt with `claim`). Its pick names `ended`, so it runs only after the
    attempt's end, which waits on the run's lock: the run's row is still locked before any
    attempt's (an uncorrelated EXISTS is an InitPlan, evaluated before the pick's first row
    reaches its row lock), and an attempt that had already ended claims nothing."""
    where = " AND EXISTS (SELECT 1 FROM ended)"
    where += (_OF_COORDINATOR if of_coordinator else "") + (_IN_POOLS if in_pools else "")
    pick = (
        f"SELECT attempt_id FROM attempts WHERE state = 'PENDING'{where}"
        " ORDER BY claim_key, attempt_id LIMIT 1 FOR UPDATE SKIP LOCKED"
    )
    log_path = _LOG_PATH_SQL.replace(":b_prefix", ":c_prefix")
    return (
        ", claimed AS (UPDATE attempts SET state = 'RUNNING', worker_id = :c_worker_id,"
        " start_time = GREATEST(CAST(:c_start_time AS BIGINT), created_time),"
        f" log_path = {log_path} WHERE attempt_id = ({pick}) AND state = 'PENDING'"
        " RETURNING attempts.*),"
        " started AS (UPDATE task_runs SET life_cycle_state = 'RUNNING', state_message ="
        " CASE WHEN claimed.pool IS NULL THEN task_runs.state_message ELSE '' END"
        " FROM claimed WHERE task_runs.task_run_id = claimed.task_run_id"
        " AND task_runs.life_cycle_state IN :c_from RETURNING task_runs.task_run_id)"
    )


_CLAIM_AFTER_END = {(c, p): _claim_after_end(c, p) for c in (False, True) for p in (False, True)}


class ClaimAfterEnd:
    """What lock_run_and_end_attempt's claim needs: claim_next_attempt's arguments on
    PostgreSQL with a LogPaths (the pick, the claim and its task run's start)."""

    __slots__ = ("coordinator_id", "log_paths", "now_ms", "pools", "worker_id")

    def __init__(
        self,
        worker_id: str,
        now_ms: int,
        log_paths: LogPaths,
        coordinator_id: str | None = None,
        pools: frozenset[str] | None = None,
    ) -> None:
        self.worker_id = worker_id
        self.now_ms = now_ms
        self.log_paths = log_paths
        self.coordinator_id = coordinator_id
        self.pools = pools


def lock_run_and_end_attempt(
    conn: Connection,
    run_id: int,
    attempt_id: int,
    task_run_id: int,
    *,
    shared: bool = True,
    from_states: Sequence[str],
    log: tuple[bytes, int] | None = None,
    **values: Any,
) -> tuple[Run, TaskRun, bool]:
    """PostgreSQL: `lock_run(run_id, shared=shared)` and `end_attempt_of_task_run` in one
    statement (issue 18): (the run, the attempt's task run, whether the attempt ended; False:
    it had already, and nothing changed).

    The run's row is locked first, as the two statements did: the attempt's update waits on
    it (EXISTS). A statement's snapshot is taken before it waits for that lock, so the rows
    it answers are the newest ones: the run's and the task run's through their row locks
    (the task run's FOR NO KEY UPDATE: this transaction changes it anyway, ending or
    retrying it), the attempt's through its update. Raises: NotFound."""
    run, tr, ended, _ = lock_run_end_attempt_and_claim(
        conn,
        run_id,
        attempt_id,
        task_run_id,
        None,
        shared=shared,
        from_states=from_states,
        log=log,
        **values,
    )
    return run, tr, ended


def lock_run_end_attempt_and_claim(
    conn: Connection,
    run_id: int,
    attempt_id: int,
    task_run_id: int,
    claim: ClaimAfterEnd | None,
    *,
    shared: bool = True,
    from_states: Sequence[str],
    log: tuple[bytes, int] | None = None,
    **values: Any,
) -> tuple[Run, TaskRun, bool, Attempt | None]:
    """`lock_run_and_end_attempt`, and with `claim` the worker's next attempt claimed in the
    same statement once the attempt has ended (claim_next_attempt's pick, claim and task run
    start; none if it had already ended): (run, task run, ended, the claimed attempt or None).
    Raises: NotFound, InvalidTransition (the claimed attempt's task run cannot run)."""
    values = {"state": "TERMINATED", **values}
    keep_log = _KEEP_LOG if log is not None else ""
    params = {**values, "b_id": attempt_id, "b_from": list(from_states)}
    params.update(b_run_id=run_id, b_task_run=task_run_id)
    if log is not None:
        params["b_log"], params["b_log_size"] = log
    if claim is None:
        claiming = answer = claimed = ""
    else:
        if claim.coordinator_id is not None:
            params["b_coordinator"] = claim.coordinator_id
        if claim.pools is not None:
            params["b_pools"] = sorted(claim.pools)
        claiming = _CLAIM_AFTER_END[(claim.coordinator_id is not None, claim.pools is not None)]
        answer = f" (SELECT count(*) FROM started) AS headrace_started, {_CLAIM_ALIASED},"
        claimed = " LEFT JOIN claimed ON TRUE"
        params.update(
            c_worker_id=claim.worker_id,
            c_start_time=claim.now_ms,
            c_prefix=claim.log_paths.prefix,
            c_from=_RUNNING_FROM,
        )
    stmt = (
        f"WITH locked AS (SELECT {_RUN_ALIASED} FROM runs WHERE run_id = :b_run_id"
        f" {'FOR SHARE' if shared else 'FOR UPDATE'}),"
        f" ended AS (UPDATE attempts SET {set_clause(values)}"
        " WHERE attempt_id = :b_id AND state IN :b_from AND EXISTS (SELECT 1 FROM locked)"
        f" RETURNING attempt_id){keep_log}{claiming}"
        f" SELECT (SELECT count(*) FROM ended) AS headrace_ended,{answer} locked.*, task_runs.*"
        f" FROM locked JOIN task_runs ON task_runs.task_run_id = :b_task_run{claimed}"
        " FOR NO KEY UPDATE OF task_runs"
    )
    row = conn.execute(stmt, params).first()
    if row is None:  # no run (NotFound naming it) or no task run
        from headrace.store.runs import lock_run

        lock_run(conn, run_id, shared=shared)
        raise NotFound(f"Run {task_run_id} does not exist.")
    m = row._mapping
    next_attempt = None
    if claim is not None and m["headrace_claim_attempt_id"] is not None:
        next_attempt = Attempt.from_row(_Aliased(m, _CLAIM_KEYS))
        if m["headrace_started"] != 1:
            raise InvalidTransition(f"task run {next_attempt.task_run_id} cannot move to RUNNING")
    run = Run.from_row(_Aliased(m, _RUN_KEYS))
    return run, TaskRun.from_row(row), m["headrace_ended"] == 1, next_attempt


# A run's attempts through its task runs: attempts has no run_id index, and `run_id = ...`
# alone read the whole table (runs/get, the UI's run page, a run's deletion; issue 18).
OF_RUN = (
    "run_id = :b_run_id"
    " AND task_run_id IN (SELECT task_run_id FROM task_runs WHERE run_id = :b_run_id)"
)


def attempts_of_run(conn: Connection, run_id: int) -> list[Attempt]:
    """Every attempt of a run."""
    stmt = f"SELECT * FROM attempts WHERE {OF_RUN} ORDER BY attempt_id"
    return [Attempt.from_row(r) for r in conn.execute(stmt, {"b_run_id": run_id})]


def open_attempts_of_run(conn: Connection, run_id: int) -> list[Attempt]:
    """Attempts of a run that are pending or running."""
    stmt = "SELECT * FROM attempts WHERE run_id = :b_run_id AND state IN ('PENDING', 'RUNNING')"
    return [Attempt.from_row(r) for r in conn.execute(stmt, {"b_run_id": run_id})]
