"""Worker processes: registration and heartbeats (their liveness is their lease)."""

from __future__ import annotations

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
) -> None:
    """Record a worker process as alive."""
    conn.execute(
        insert(workers).values(
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
