"""Duration-warning timers (health.rules RUN_DURATION_SECONDS): armed when a run or task
starts, taken when due by the coordinator's timer loop, dropped when it ends.

Apart from `store.notifications` so that every `headrace run` (which asks for its next timer)
loads only these small queries, not the outbox's records.
"""

from __future__ import annotations

from typing import Any

from headrace.states import ACTIVE
from headrace.store.sql import Tx as Connection

_ACTIVE_IN = "(" + ", ".join(sorted(f"'{s.value}'" for s in ACTIVE)) + ")"
_JOIN_ACTIVE = (
    "FROM health_timers JOIN runs ON runs.run_id = health_timers.run_id"
    f" WHERE runs.life_cycle_state IN {_ACTIVE_IN}"
)


def _of(coordinator_id: str | None) -> tuple[str, dict[str, Any]]:
    if coordinator_id is None:
        return "", {}
    return " AND runs.coordinator_id = :b_coordinator", {"b_coordinator": coordinator_id}


def runs_with_due_health(
    conn: Connection, now_ms: int, coordinator_id: str | None = None
) -> set[int]:
    """Active runs with a duration warning due (of one coordinator, if given)."""
    where, params = _of(coordinator_id)
    stmt = f"SELECT health_timers.run_id {_JOIN_ACTIVE} AND health_timers.due_at <= :b_now{where}"
    return {r[0] for r in conn.execute(stmt, {**params, "b_now": now_ms})}


def next_health_at(conn: Connection, coordinator_id: str | None = None) -> int | None:
    """The earliest duration warning of any active run (of one coordinator, if given)."""
    where, params = _of(coordinator_id)
    return conn.execute(f"SELECT min(health_timers.due_at) {_JOIN_ACTIVE}{where}", params).scalar()


def add_health_timer(
    conn: Connection, run_id: int, task_run_id: int | None, due_at: int, threshold: int
) -> None:
    """Arm a duration warning for a run (task_run_id None) or one of its task runs."""
    conn.execute(
        "INSERT INTO health_timers (run_id, task_run_id, due_at, threshold_seconds)"
        " VALUES (:run_id, :task_run_id, :due_at, :threshold)",
        {"run_id": run_id, "task_run_id": task_run_id, "due_at": due_at, "threshold": threshold},
    )


def take_due_health_timers(
    conn: Connection, run_id: int, now_ms: int
) -> list[tuple[int | None, int]]:
    """Remove and return the run's due timers as (task_run_id or None, threshold seconds)."""
    rows = conn.execute(
        "SELECT timer_id, task_run_id, threshold_seconds FROM health_timers"
        " WHERE run_id = :b_run_id AND due_at <= :b_now",
        {"b_run_id": run_id, "b_now": now_ms},
    ).all()
    if rows:
        ids = [r[0] for r in rows]
        conn.execute("DELETE FROM health_timers WHERE timer_id IN :b_ids", {"b_ids": ids})
    return [(r[1], r[2]) for r in rows]


def disarm_health_timers(conn: Connection, run_id: int, task_run_id: int | None = None) -> None:
    """Drop the timers of an ended run (all of them) or of one ended task run."""
    if task_run_id is None:
        stmt = "DELETE FROM health_timers WHERE run_id = :b_run_id"
        conn.execute(stmt, {"b_run_id": run_id})
    else:
        stmt = "DELETE FROM health_timers WHERE run_id = :b_run_id AND task_run_id = :b_task"
        conn.execute(stmt, {"b_run_id": run_id, "b_task": task_run_id})
