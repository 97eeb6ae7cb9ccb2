"""Duration-warning timers (health.rules RUN_DURATION_SECONDS): armed when a run or task
starts, taken when due by the coordinator's timer loop, dropped when it ends.

Apart from `store.notifications` so that every `headrace run` (which asks for its next timer)
loads only these small queries, not the outbox's records.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from headrace.states import ACTIVE
from headrace.store.schema import health_timers, runs

_ACTIVE_STATES = [s.value for s in ACTIVE]


def _of(coordinator_id: str | None) -> Any:
    return True if coordinator_id is None else runs.c.coordinator_id == coordinator_id


def runs_with_due_health(
    conn: Connection, now_ms: int, coordinator_id: str | None = None
) -> set[int]:
    """Active runs with a duration warning due (of one coordinator, if given)."""
    stmt = (
        select(health_timers.c.run_id)
        .join(runs, runs.c.run_id == health_timers.c.run_id)
        .where(
            health_timers.c.due_at <= now_ms,
            runs.c.life_cycle_state.in_(_ACTIVE_STATES),
            _of(coordinator_id),
        )
    )
    return {r[0] for r in conn.execute(stmt)}


def next_health_at(conn: Connection, coordinator_id: str | None = None) -> int | None:
    """The earliest duration warning of any active run (of one coordinator, if given)."""
    stmt = (
        select(func.min(health_timers.c.due_at))
        .join(runs, runs.c.run_id == health_timers.c.run_id)
        .where(runs.c.life_cycle_state.in_(_ACTIVE_STATES), _of(coordinator_id))
    )
    return conn.execute(stmt).scalar()


def add_health_timer(
    conn: Connection, run_id: int, task_run_id: int | None, due_at: int, threshold: int
) -> None:
    """Arm a duration warning for a run (task_run_id None) or one of its task runs."""
    conn.execute(
        insert(health_timers).values(
            run_id=run_id, task_run_id=task_run_id, due_at=due_at, threshold_seconds=threshold
        )
    )


def take_due_health_timers(
    conn: Connection, run_id: int, now_ms: int
) -> list[tuple[int | None, int]]:
    """Remove and return the run's due timers as (task_run_id or None, threshold seconds)."""
    rows = conn.execute(
        select(
            health_timers.c.timer_id, health_timers.c.task_run_id, health_timers.c.threshold_seconds
        ).where(health_timers.c.run_id == run_id, health_timers.c.due_at <= now_ms)
    ).all()
    if rows:
        conn.execute(
            delete(health_timers).where(health_timers.c.timer_id.in_([r[0] for r in rows]))
        )
    return [(r[1], r[2]) for r in rows]


def disarm_health_timers(conn: Connection, run_id: int, task_run_id: int | None = None) -> None:
    """Drop the timers of an ended run (all of them) or of one ended task run."""
    stmt = delete(health_timers).where(health_timers.c.run_id == run_id)
    if task_run_id is not None:
        stmt = stmt.where(health_timers.c.task_run_id == task_run_id)
    conn.execute(stmt)
