"""The pure planner: from a DAG and its task states to decisions. No I/O, no clock.

Semantics follow Databricks Jobs (reference doc §6.2-6.6): `run_if` is evaluated once every
upstream task is terminal; a condition task's outcome gates the edges that name an `outcome`;
a task whose upstream edges are all excluded is excluded; the run's result is derived from
its leaf tasks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from headrace.states import ACTIVE, SUCCESSFUL, TERMINAL, LifeCycle, Result


class RunIf(StrEnum):
    """When a task runs, given its upstream tasks' outcomes."""

    ALL_SUCCESS = "ALL_SUCCESS"
    AT_LEAST_ONE_SUCCESS = "AT_LEAST_ONE_SUCCESS"
    NONE_FAILED = "NONE_FAILED"
    ALL_DONE = "ALL_DONE"
    AT_LEAST_ONE_FAILED = "AT_LEAST_ONE_FAILED"
    ALL_FAILED = "ALL_FAILED"


class Outcome(StrEnum):
    """How one upstream edge counts for run_if (reference doc §6.3)."""

    SUCCEEDED = "S"
    FAILED = "F"
    CANCELED = "C"
    EXCLUDED = "X"
    DISABLED = "D"
    NOT_TAKEN = "N"  # a condition edge whose outcome did not come out


@dataclass(frozen=True)
class Edge:
    """A dependency on `task_key`; `outcome` set only for condition-task upstreams."""

    task_key: str
    outcome: str | None = None


@dataclass(frozen=True)
class TaskNode:
    """What the planner needs to know of one task."""

    key: str
    depends_on: tuple[Edge, ...] = ()
    run_if: RunIf = RunIf.ALL_SUCCESS
    disabled: bool = False


@dataclass(frozen=True)
class Dag:
    """Tasks by key with their children and leaves precomputed."""

    nodes: Mapping[str, TaskNode]
    children: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    leaves: frozenset[str] = frozenset()

    @classmethod
    def of(cls, nodes: Iterable[TaskNode]) -> Dag:
        """Build a Dag from nodes (assumed already validated: no cycles, known keys)."""
        by_key = {n.key: n for n in nodes}
        children: dict[str, list[str]] = {k: [] for k in by_key}
        for node in by_key.values():
            for edge in node.depends_on:
                children[edge.task_key].append(node.key)
        leaves = frozenset(k for k, c in children.items() if not c)
        return cls(by_key, {k: tuple(v) for k, v in children.items()}, leaves)


@dataclass(frozen=True)
class TaskState:
    """The current state of one task run, as the planner sees it."""

    life_cycle: LifeCycle = LifeCycle.BLOCKED
    result: Result | None = None
    outcome: str | None = None  # a condition task's "true"/"false"
    retry_at: int | None = None  # epoch ms, while WAITING_FOR_RETRY

    @property
    def terminal(self) -> bool:
        return self.life_cycle in TERMINAL


@dataclass(frozen=True)
class StartTask:
    """All upstreams are done and run_if holds: the task may start its first attempt."""

    key: str


@dataclass(frozen=True)
class RetryTask:
    """The retry interval has passed: start the next attempt."""

    key: str


@dataclass(frozen=True)
class SkipTask:
    """The task will not run; it ends with `result` and `message`."""

    key: str
    result: Result
    message: str


@dataclass(frozen=True)
class FinishRun:
    """Every task is terminal: the run ends with `result`."""

    result: Result
    message: str


Decision = StartTask | RetryTask | SkipTask


def edge_outcome(edge: Edge, upstream: TaskState) -> Outcome:
    """Classify one terminal upstream edge for run_if evaluation."""
    result = upstream.result
    if result in SUCCESSFUL:
        if edge.outcome is not None and upstream.outcome != edge.outcome:
            return Outcome.NOT_TAKEN
        return Outcome.SUCCEEDED
    if result in (Result.FAILED, Result.TIMEDOUT, Result.UPSTREAM_FAILED):
        return Outcome.FAILED
    if upstream.life_cycle is LifeCycle.INTERNAL_ERROR or result is None:
        return Outcome.FAILED
    if result in (Result.CANCELED, Result.UPSTREAM_CANCELED):
        return Outcome.CANCELED
    if result is Result.DISABLED:
        return Outcome.DISABLED
    return Outcome.EXCLUDED


_NOT_RUN = {
    Outcome.CANCELED: (Result.UPSTREAM_CANCELED, "an upstream task was canceled"),
    Outcome.FAILED: (Result.UPSTREAM_FAILED, "an upstream task failed"),
    Outcome.DISABLED: (Result.DISABLED, "an upstream task is disabled"),
    Outcome.EXCLUDED: (Result.EXCLUDED, "its upstream tasks were excluded"),
}


def _blocking_cause(outcomes: list[Outcome]) -> Outcome:
    """The most important reason among upstream outcomes that kept a task from running."""
    for cause in (Outcome.CANCELED, Outcome.FAILED, Outcome.DISABLED):
        if cause in outcomes:
            return cause
    return Outcome.EXCLUDED


def decide_run_if(node: TaskNode, outcomes: list[Outcome]) -> Decision:
    """Start or skip `node` given the outcomes of all its (terminal) upstream edges."""
    if node.disabled:
        return SkipTask(node.key, Result.DISABLED, "the task is disabled")
    if not outcomes:
        return StartTask(node.key)
    if all(o in (Outcome.EXCLUDED, Outcome.NOT_TAKEN) for o in outcomes):
        return SkipTask(node.key, Result.EXCLUDED, "all its upstream tasks were excluded")
    run_if = node.run_if
    if run_if is RunIf.ALL_SUCCESS and Outcome.NOT_TAKEN in outcomes:
        # The default run_if follows the branch: a condition that chose the other outcome
        # excludes this task whatever its other upstreams did (reference §6.4).
        return SkipTask(node.key, Result.EXCLUDED, "its condition branch was not taken")
    # Elsewhere an untaken branch counts as an excluded upstream.
    outcomes = [Outcome.EXCLUDED if o is Outcome.NOT_TAKEN else o for o in outcomes]
    count = outcomes.count
    if run_if is RunIf.ALL_DONE:
        return StartTask(node.key)
    if run_if is RunIf.ALL_SUCCESS:
        ok = all(o in (Outcome.SUCCEEDED, Outcome.EXCLUDED) for o in outcomes)
    elif run_if is RunIf.AT_LEAST_ONE_SUCCESS:
        ok = count(Outcome.SUCCEEDED) > 0
    elif run_if is RunIf.NONE_FAILED:
        bad = count(Outcome.FAILED) + count(Outcome.CANCELED)
        ok = bad == 0 and count(Outcome.SUCCEEDED) > 0
    elif run_if is RunIf.AT_LEAST_ONE_FAILED:
        if count(Outcome.FAILED) > 0:
            return StartTask(node.key)
        return SkipTask(node.key, Result.EXCLUDED, "run_if AT_LEAST_ONE_FAILED: no upstream failed")
    else:  # ALL_FAILED
        if all(o is Outcome.FAILED for o in outcomes):
            return StartTask(node.key)
        return SkipTask(node.key, Result.EXCLUDED, "run_if ALL_FAILED: not every upstream failed")
    if ok:
        return StartTask(node.key)
    result, why = _NOT_RUN[_blocking_cause(outcomes)]
    return SkipTask(node.key, result, f"run_if {run_if.value} not met: {why}")


def decide_tasks(
    dag: Dag,
    states: Mapping[str, TaskState],
    keys: Iterable[str] | None = None,
    *,
    now_ms: int,
    canceling: bool = False,
) -> list[Decision]:
    """Decisions for `keys` (default: every task) given the states known for them.

    `states` must hold every key considered and each of their upstreams. While the run is
    being canceled nothing new starts: blocked tasks become UPSTREAM_CANCELED and ready or
    retry-waiting ones CANCELED; running ones are left for the worker to kill.
    """
    decisions: list[Decision] = []
    for key in dag.nodes if keys is None else keys:
        state = states[key]
        life = state.life_cycle
        if canceling:
            if life is LifeCycle.BLOCKED:
                decisions.append(SkipTask(key, Result.UPSTREAM_CANCELED, "the run was canceled"))
            elif life in (LifeCycle.PENDING, LifeCycle.WAITING_FOR_RETRY, LifeCycle.QUEUED):
                decisions.append(SkipTask(key, Result.CANCELED, "the run was canceled"))
            continue
        if life is LifeCycle.WAITING_FOR_RETRY:
            if state.retry_at is None or state.retry_at <= now_ms:
                decisions.append(RetryTask(key))
            continue
        if life is not LifeCycle.BLOCKED:
            continue
        node = dag.nodes[key]
        upstream = [(e, states[e.task_key]) for e in node.depends_on]
        if all(s.terminal for _, s in upstream):
            decisions.append(decide_run_if(node, [edge_outcome(e, s) for e, s in upstream]))
    return decisions


def next_wakeup(states: Mapping[str, TaskState]) -> int | None:
    """The earliest retry time among retry-waiting tasks, if any."""
    times = [
        s.retry_at
        for s in states.values()
        if s.life_cycle is LifeCycle.WAITING_FOR_RETRY and s.retry_at is not None
    ]
    return min(times) if times else None


_LEAF_FAILURES = {
    Result.FAILED,
    Result.TIMEDOUT,
    Result.UPSTREAM_FAILED,
    Result.CANCELED,
    Result.UPSTREAM_CANCELED,
}
_ANY_FAILURES = _LEAF_FAILURES | {Result.MAXIMUM_CONCURRENT_RUNS_REACHED}


def decide_run_result(
    dag: Dag,
    states: Mapping[str, TaskState],
    *,
    canceled: bool = False,
    timed_out: bool = False,
) -> FinishRun | None:
    """The run's result once every task is terminal (the leaf rule), else None."""
    if any(s.life_cycle in ACTIVE for s in states.values()):
        return None
    if timed_out:
        return FinishRun(Result.TIMEDOUT, "the run exceeded its timeout_seconds")
    if canceled:
        return FinishRun(Result.CANCELED, "the run was canceled")
    failed = sorted(k for k, s in states.items() if _failed(s))
    if not failed:
        return FinishRun(Result.SUCCESS, "")
    failed_leaves = [k for k in failed if k in dag.leaves]
    if not failed_leaves:
        names = ", ".join(failed)
        return FinishRun(
            Result.SUCCESS_WITH_FAILURES, f"tasks failed but every leaf succeeded: {names}"
        )
    origin = [k for k in failed if states[k].result not in (Result.UPSTREAM_FAILED,)]
    names = ", ".join(origin or failed)
    return FinishRun(Result.FAILED, f"failed tasks: {names}")


def _failed(state: TaskState) -> bool:
    return state.life_cycle is LifeCycle.INTERNAL_ERROR or state.result in _ANY_FAILURES


def should_retry(
    *, result: Result, attempt_number: int, max_retries: int, retry_on_timeout: bool
) -> bool:
    """Whether a finished attempt (0-based `attempt_number`) gets another try."""
    if result is Result.TIMEDOUT and not retry_on_timeout:
        return False
    if result not in (Result.FAILED, Result.TIMEDOUT):
        return False
    return max_retries == -1 or attempt_number < max_retries
