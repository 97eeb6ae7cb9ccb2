"""Worker processes: registration and heartbeats (their liveness is their lease)."""

from __future__ import annotations

from typing import Any

from headrace.store.records import Worker
from headrace.store.sql import Tx as Connection


def register_worker(
    conn: Connection,
    *,
    worker_id: str,
    host: str,
    pid: int,
    proc_start: str | None,
    slots: int,
    now_ms: int,
    pools: str | None = None,
) -> None:
    """Record a worker process as alive."""
    conn.execute(
        "INSERT INTO workers (worker_id, host, pid, proc_start, slots, started_at,"
        " heartbeat_at, pools) VALUES (:worker_id, :host, :pid, :proc_start, :slots, :now,"
        " :now, :pools)",
        {
            "worker_id": worker_id,
            "host": host,
            "pid": pid,
            "proc_start": proc_start,
            "slots": slots,
            "now": now_ms,
            "pools": pools,
        },
    )


def heartbeat(conn: Connection, worker_id: str, now_ms: int) -> None:
    """Renew a worker's lease."""
    stmt = "UPDATE workers SET heartbeat_at = :now WHERE worker_id = :worker_id"
    conn.execute(stmt, {"now": now_ms, "worker_id": worker_id})


def stop_worker(conn: Connection, worker_id: str, now_ms: int) -> None:
    """Record that a worker exited cleanly."""
    stmt = "UPDATE workers SET stopped_at = :now WHERE worker_id = :worker_id"
    conn.execute(stmt, {"now": now_ms, "worker_id": worker_id})


def get_workers(conn: Connection, worker_ids: set[str]) -> dict[str, Worker]:
    """Workers by id."""
    if not worker_ids:
        return {}
    stmt = "SELECT * FROM workers WHERE worker_id IN :ids"
    rows = conn.execute(stmt, {"ids": sorted(worker_ids)})
    return {w.worker_id: w for w in (Worker.from_row(r) for r in rows)}


def all_workers(conn: Connection) -> list[Worker]:
    """Every worker ever registered, newest first."""
    rows = conn.execute("SELECT * FROM workers ORDER BY started_at DESC")
    return [Worker.from_row(r) for r in rows]


def running_attempts_by_worker(conn: Connection) -> dict[str, list[tuple[int, str]]]:
    """(run id, task key) of each running attempt, by the worker running it."""
    stmt = (
        "SELECT attempts.worker_id, attempts.run_id, task_runs.task_key FROM attempts"
        " JOIN task_runs ON task_runs.task_run_id = attempts.task_run_id"
        " WHERE attempts.state = 'RUNNING' ORDER BY attempts.attempt_id"
    )
    out: dict[str, list[tuple[int, str]]] = {}
    for worker_id, run_id, task_key in conn.execute(stmt):
        out.setdefault(worker_id or "", []).append((run_id, task_key))
    return out


def running_attempts(conn: Connection) -> list[Any]:
    """Every running attempt (as records), oldest first."""
    from headrace.store.records import Attempt

    stmt = "SELECT * FROM attempts WHERE state = 'RUNNING' ORDER BY attempt_id"
    return [Attempt.from_row(r) for r in conn.execute(stmt)]


def running_attempts_of(conn: Connection, worker_id: str, started_before_ms: int) -> list[Any]:
    """The running attempts of one worker claimed before a time (as records), oldest first
    (a literal state: the partial index ix_attempts_state serves it)."""
    from headrace.store.records import Attempt

    stmt = (
        "SELECT * FROM attempts WHERE state = 'RUNNING' AND worker_id = :b_worker"
        " AND start_time < :b_before ORDER BY attempt_id"
    )
    rows = conn.execute(stmt, {"b_worker": worker_id, "b_before": started_before_ms})
    return [Attempt.from_row(r) for r in rows]
