"""Whether a run can still progress: the query behind the coordinator's invariant (issue 11).

A running run must always have a task that is pending, running, waiting to retry or being
stopped; blocked tasks with nothing upstream left to end would wait forever.
"""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, select

from headrace.states import LifeCycle
from headrace.store.records import TaskRun
from headrace.store.schema import task_runs

_LIVE_STATES = [
    s.value
    for s in (
        LifeCycle.QUEUED,
        LifeCycle.PENDING,
        LifeCycle.RUNNING,
        LifeCycle.WAITING_FOR_RETRY,
        LifeCycle.TERMINATING,
    )
]
_TOP_LEVEL = (
    task_runs.c.run_id == bindparam("b_run_id"),
    task_runs.c.current.is_(True),
    task_runs.c.parent_id.is_(None),
)
_ANY_LIVE = (
    select(task_runs.c.task_run_id)
    .where(*_TOP_LEVEL, task_runs.c.life_cycle_state.in_(_LIVE_STATES))
    .limit(1)
)
_BLOCKED = (
    select(task_runs)
    .where(*_TOP_LEVEL, task_runs.c.life_cycle_state == LifeCycle.BLOCKED.value)
    .order_by(task_runs.c.task_run_id)
)


def stuck_task_runs(conn: Connection, run_id: int) -> list[TaskRun]:
    """The blocked task runs of a run in which nothing else is live (empty: it can progress)."""
    if conn.execute(_ANY_LIVE, {"b_run_id": run_id}).first() is not None:
        return []
    return [TaskRun.from_row(r) for r in conn.execute(_BLOCKED, {"b_run_id": run_id})]
