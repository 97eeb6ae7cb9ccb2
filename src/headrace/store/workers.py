"""Worker processes: registration and heartbeats (their liveness is their lease)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from headrace.store.records import Worker
from headrace.store.schema import workers


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
        insert(workers).values(
            pools=pools,
            worker_id=worker_id,
            host=host,
            pid=pid,
            proc_start=proc_start,
            slots=slots,
            started_at=now_ms,
            heartbeat_at=now_ms,
        )
    )


def heartbeat(conn: Connection, worker_id: str, now_ms: int) -> None:
    """Renew a worker's lease."""
    conn.execute(
        update(workers).where(workers.c.worker_id == worker_id).values(heartbeat_at=now_ms)
    )


def stop_worker(conn: Connection, worker_id: str, now_ms: int) -> None:
    """Record that a worker exited cleanly."""
    conn.execute(update(workers).where(workers.c.worker_id == worker_id).values(stopped_at=now_ms))


def get_workers(conn: Connection, worker_ids: set[str]) -> dict[str, Worker]:
    """Workers by id."""
    if not worker_ids:
        return {}
    rows = conn.execute(select(workers).where(workers.c.worker_id.in_(worker_ids)))
    return {w.worker_id: w for w in (Worker.from_row(r) for r in rows)}


def all_workers(conn: Connection) -> list[Worker]:
    """Every worker ever registered, newest first."""
    rows = conn.execute(select(workers).order_by(workers.c.started_at.desc()))
    return [Worker.from_row(r) for r in rows]


def running_attempts_by_worker(conn: Connection) -> dict[str, list[tuple[int, str]]]:
    """(run id, task key) of each running attempt, by the worker running it."""
    from headrace.store.schema import attempts, task_runs

    stmt = (
        select(attempts.c.worker_id, attempts.c.run_id, task_runs.c.task_key)
        .join(task_runs, task_runs.c.task_run_id == attempts.c.task_run_id)
        .where(attempts.c.state == "RUNNING")
        .order_by(attempts.c.attempt_id)
    )
    out: dict[str, list[tuple[int, str]]] = {}
    for worker_id, run_id, task_key in conn.execute(stmt):
        out.setdefault(worker_id or "", []).append((run_id, task_key))
    return out


def running_attempts(conn: Connection) -> list[Any]:
    """Every running attempt (as records), oldest first."""
    from headrace.store.records import Attempt
    from headrace.store.schema import attempts

    stmt = select(attempts).where(attempts.c.state == "RUNNING").order_by(attempts.c.attempt_id)
    return [Attempt.from_row(r) for r in conn.execute(stmt)]
