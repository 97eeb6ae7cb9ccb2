"""The coordinator: applies the planner's decisions to the store, one transaction per event.

Every entry point locks the run, changes states with guarded writes, decides what becomes
ready in the same transaction (so no downstream task is ever lost between two commits), and
tells its listeners afterwards so workers and progress views wake at once.

`Coordinator` is assembled from one part per concern, each in its own module:

| module | part | what it does |
|---|---|---|
| `transaction` | `CoordinatorCore` | a run's transaction (`RunTx`): lock the run, its cached plan; listeners |
| `runs` | `RunLifecycle` | start a run (max_concurrent_runs, the queue), admit queued runs |
| `run_ends` | `RunEnds` | end a run when every task is terminal or it cannot progress; free its slot |
| `attempts` | `Attempts` | claim / finish attempts, retries, end tasks, plan what is now ready |
| `task_starts` | `TaskStarts` | start a ready task: condition tasks inline, process tasks' attempts queued |
| `for_each` | `ForEach` | for_each tasks and their iterations |
| `child_runs` | `ChildRuns` | run_job tasks: the other job's run, its end, stopping it |
| `stopping` | `Stopping` | timers (retries, the job timeout), cancellation, lost workers and runs |
| `repair` | `Repair` | rerun chosen tasks of an ended run |
| `alerts` | `Alerts` | notifications in the outbox, duration (health) timers |

The parts call each other through `self`; only this class combines them. Other packages
import from this module only.
"""

from __future__ import annotations

from headrace.clock import now_ms  # re-exported: many callers import it from here
from headrace.engine.alerts import Alerts
from headrace.engine.attempts import Attempts
from headrace.engine.child_runs import MAX_RUN_JOB_DEPTH, ChildRuns
from headrace.engine.for_each import ForEach
from headrace.engine.repair import Repair
from headrace.engine.run_ends import RunEnds
from headrace.engine.runs import Admission, NewRun, RunLifecycle, resolve_job_parameters
from headrace.engine.stopping import Stopping
from headrace.engine.task_starts import (
    ENVIRONMENT_TASK_TYPES,
    LIBRARY_TASK_TYPES,
    NOT_YET_SUPPORTED,
    PROCESS_TASK_TYPES,
    TaskStarts,
)
from headrace.engine.transaction import (
    STOP_CANCELED,
    STOP_LOST,
    STOP_TIMEDOUT,
    AttemptOutcome,
    Change,
    CoordinatorCore,
    RunTx,
)
from headrace.errors import HeadraceError


class Coordinator(
    RunLifecycle,
    RunEnds,
    Attempts,
    TaskStarts,
    ForEach,
    ChildRuns,
    Stopping,
    Repair,
    Alerts,
    CoordinatorCore,
):
    """Advances runs: start, finish attempts, retry, time out, cancel, repair, recover."""

    def _now(self) -> int:
        # Looked up in this module at each call, so tests can set `coordinator.now_ms`.
        return now_ms()


__all__ = [
    "ENVIRONMENT_TASK_TYPES",
    "LIBRARY_TASK_TYPES",
    "MAX_RUN_JOB_DEPTH",
    "NOT_YET_SUPPORTED",
    "PROCESS_TASK_TYPES",
    "STOP_CANCELED",
    "STOP_LOST",
    "STOP_TIMEDOUT",
    "Admission",
    "AttemptOutcome",
    "Change",
    "Coordinator",
    "HeadraceError",
    "NewRun",
    "RunTx",
    "now_ms",
    "resolve_job_parameters",
]
