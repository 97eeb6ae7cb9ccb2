"""What the coordinating loop (`headrace server`) reads on every pass, in one statement.

A busy server passes every MIN_WAKE_GAP_SECONDS (any run's end anywhere wakes it), and each
pass used to read with eight statements: runs with a due timeout, retry or duration warning,
the earliest of each, the jobs with queued runs, the running backfills. On PostgreSQL a
statement costs ~0.2 ms of Python and ~0.1 ms of the backend, so one UNION ALL of the same
queries (issue 18) saves most of a pass. The answers are those of `runs.runs_with_due_timers`,
`runs.next_timer_at` and `runs.queued_job_ids` (tests/integration/test_loop_look.py), read
from one snapshot instead of several.
"""

from __future__ import annotations

from dataclasses import dataclass

from headrace.states import LifeCycle
from headrace.store.health_timers import _JOIN_ACTIVE
from headrace.store.sql import Tx as Connection
from headrace.store.task_runs import _ACTIVE_IN, _WAITING_FOR_RETRY

_DUE, _NEXT, _QUEUED, _BACKFILLS = 0, 1, 2, 3
_TIMEOUTS = f"FROM runs WHERE life_cycle_state IN {_ACTIVE_IN} AND stop_reason IS NULL"
# No join with runs (runs.runs_with_due_timers joins for its coordinator filter, which the
# loop does not use; the foreign key keeps every task run's run): without fresh statistics
# PostgreSQL planned the join as a sequential scan of every run ever kept, ~18 ms a pass at
# 10,000 runs.
_RETRIES = f"FROM task_runs WHERE task_runs.life_cycle_state = '{_WAITING_FOR_RETRY}'"
# Each member is one of the loop's former queries; the first column says which.
_LOOK = " UNION ALL ".join(
    [
        f"SELECT {_DUE}, run_id {_TIMEOUTS} AND timeout_at <= :b_now",
        f"SELECT {_DUE}, task_runs.run_id {_RETRIES} AND task_runs.retry_at <= :b_now",
        f"SELECT {_DUE}, health_timers.run_id {_JOIN_ACTIVE} AND health_timers.due_at <= :b_now",
        f"SELECT {_NEXT}, min(timeout_at) {_TIMEOUTS}",
        f"SELECT {_NEXT}, min(task_runs.retry_at) {_RETRIES}",
        f"SELECT {_NEXT}, min(health_timers.due_at) {_JOIN_ACTIVE}",
        f"SELECT DISTINCT {_QUEUED}, job_id FROM runs"
        f" WHERE life_cycle_state = '{LifeCycle.QUEUED.value}' AND job_id IS NOT NULL",
        f"SELECT {_BACKFILLS}, count(*) FROM backfills WHERE state = 'RUNNING'",
    ]
)


@dataclass(frozen=True)
class Look:
    """One pass's view of the store (every coordinator's runs)."""

    due: list[int]  # active runs with a retry, a run timeout or a duration warning due
    next_at: int | None  # the earliest such timer of any active run
    queued_jobs: list[int]  # jobs with queued runs
    backfills: bool  # whether any backfill is still starting runs


def look(conn: Connection, now_ms: int) -> Look:
    """The due timers, the next timer, the queued jobs and the running backfills."""
    due: set[int] = set()
    timers: list[int] = []
    queued: list[int] = []
    backfills = False
    for kind, value in conn.execute(_LOOK, {"b_now": now_ms}):
        if kind == _DUE:
            due.add(value)
        elif kind == _NEXT:
            if value is not None:
                timers.append(value)
        elif kind == _QUEUED:
            queued.append(value)
        else:
            backfills = value > 0
    return Look(sorted(due), min(timers) if timers else None, sorted(queued), backfills)


__all__ = ["Look", "look"]
