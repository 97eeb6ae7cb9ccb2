"""Run and task-run states: the Jobs API's own enums and the one table of legal transitions."""

from __future__ import annotations

from enum import StrEnum


class LifeCycle(StrEnum):
    """`life_cycle_state` of a run or task run (Jobs API RunLifeCycleState)."""

    QUEUED = "QUEUED"  # run waits for a max_concurrent_runs slot
    PENDING = "PENDING"  # ready to start; waits for a worker slot
    BLOCKED = "BLOCKED"  # task waits for its upstream tasks
    RUNNING = "RUNNING"  # an attempt is executing
    WAITING_FOR_RETRY = "WAITING_FOR_RETRY"  # an attempt failed; the next starts at retry_at
    TERMINATING = "TERMINATING"  # cancel or timeout requested; killing what runs
    TERMINATED = "TERMINATED"  # ran and ended; result_state says how
    SKIPPED = "SKIPPED"  # never ran (excluded, upstream failed, disabled, concurrency)
    INTERNAL_ERROR = "INTERNAL_ERROR"  # Headrace itself failed


class Result(StrEnum):
    """`result_state` of a terminal run or task run (Jobs API RunResultState)."""

    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    TIMEDOUT = "TIMEDOUT"
    CANCELED = "CANCELED"
    EXCLUDED = "EXCLUDED"  # its run_if / condition branch did not select it
    UPSTREAM_FAILED = "UPSTREAM_FAILED"
    UPSTREAM_CANCELED = "UPSTREAM_CANCELED"
    DISABLED = "DISABLED"
    SUCCESS_WITH_FAILURES = "SUCCESS_WITH_FAILURES"  # some tasks failed, every leaf succeeded
    MAXIMUM_CONCURRENT_RUNS_REACHED = "MAXIMUM_CONCURRENT_RUNS_REACHED"


ACTIVE = frozenset(
    {
        LifeCycle.QUEUED,
        LifeCycle.PENDING,
        LifeCycle.BLOCKED,
        LifeCycle.RUNNING,
        LifeCycle.WAITING_FOR_RETRY,
        LifeCycle.TERMINATING,
    }
)
TERMINAL = frozenset({LifeCycle.TERMINATED, LifeCycle.SKIPPED, LifeCycle.INTERNAL_ERROR})

# The results that a task that did not run carries; all others come from running it.
NOT_RUN_RESULTS = frozenset(
    {Result.EXCLUDED, Result.UPSTREAM_FAILED, Result.UPSTREAM_CANCELED, Result.DISABLED}
)
SUCCESSFUL = frozenset({Result.SUCCESS, Result.SUCCESS_WITH_FAILURES})

# Legal transitions of task runs. A terminal task run never changes again: a repair creates
# new task runs and keeps the old ones as history.
ALLOWED: dict[LifeCycle, frozenset[LifeCycle]] = {
    LifeCycle.QUEUED: frozenset(
        {LifeCycle.PENDING, LifeCycle.BLOCKED, LifeCycle.RUNNING, LifeCycle.TERMINATING, *TERMINAL}
    ),
    LifeCycle.BLOCKED: frozenset({LifeCycle.PENDING, LifeCycle.RUNNING, *TERMINAL}),
    LifeCycle.PENDING: frozenset({LifeCycle.RUNNING, LifeCycle.TERMINATING, *TERMINAL}),
    LifeCycle.RUNNING: frozenset({LifeCycle.WAITING_FOR_RETRY, LifeCycle.TERMINATING, *TERMINAL}),
    LifeCycle.WAITING_FOR_RETRY: frozenset({LifeCycle.PENDING, LifeCycle.TERMINATING, *TERMINAL}),
    LifeCycle.TERMINATING: frozenset(TERMINAL),
    LifeCycle.TERMINATED: frozenset(),
    LifeCycle.SKIPPED: frozenset(),
    LifeCycle.INTERNAL_ERROR: frozenset(),
}
# Runs follow the same table, except that a repair takes an ended run back to RUNNING.
RUN_ALLOWED: dict[LifeCycle, frozenset[LifeCycle]] = {
    **ALLOWED,
    **{state: frozenset({LifeCycle.RUNNING}) for state in TERMINAL},
}


def sources_of(
    target: LifeCycle, table: dict[LifeCycle, frozenset[LifeCycle]] = ALLOWED
) -> frozenset[LifeCycle]:
    """States from which `target` may be entered (for guarded `UPDATE ... WHERE state IN`)."""
    return frozenset(s for s, targets in table.items() if target in targets)


def life_cycle_for(result: Result) -> LifeCycle:
    """The terminal life cycle state that goes with a task result."""
    return LifeCycle.SKIPPED if result in NOT_RUN_RESULTS else LifeCycle.TERMINATED
