"""Whether a run can still progress: the query behind the coordinator's invariant (issue 11).

A running run must always have a task that is pending, running, waiting to retry or being
stopped; blocked tasks with nothing upstream left to end would wait forever.
"""

from __future__ import annotations

from headrace.states import LifeCycle
from headrace.store.records import TaskRun
from headrace.store.sql import Tx as Connection

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
# The live states as SQL (also asked by store/task_runs.py's count-down on PostgreSQL).
LIVE_IN = "(" + ", ".join(f"'{s}'" for s in _LIVE_STATES) + ")"
_TOP_LEVEL = 'run_id = :b_run_id AND "current" = TRUE AND parent_id IS NULL'
_ANY_LIVE = (
    f"SELECT task_run_id FROM task_runs WHERE {_TOP_LEVEL} AND life_cycle_state IN {LIVE_IN}"
    " LIMIT 1"
)
_BLOCKED = (
    f"SELECT * FROM task_runs WHERE {_TOP_LEVEL}"
    f" AND life_cycle_state = '{LifeCycle.BLOCKED.value}' ORDER BY task_run_id"
)


def stuck_task_runs(conn: Connection, run_id: int) -> list[TaskRun]:
    """The blocked task runs of a run in which nothing else is live (empty: it can progress)."""
    if conn.execute(_ANY_LIVE, {"b_run_id": run_id}).first() is not None:
        return []
    return [TaskRun.from_row(r) for r in conn.execute(_BLOCKED, {"b_run_id": run_id})]
