"""Where a run's time goes: each task's orchestration overhead, each dependency's hand-over
time, and the run's critical path (issue 17).

From what the store already records, nothing added:

* a task run's `start_time`: when the coordinator found it ready (its upstreams done) and
  queued its first attempt (or, for an in-process task, started it); `end_time`: when the
  coordinator recorded its end;
* each attempt's `created_time` (queued), `start_time` (claimed by a worker) and `end_time`
  (the worker reported the end).

So a process task's time splits into: **queued** (attempt created -> claimed: waiting for a
concurrency slot, a worker or a pool), **on worker** (claimed -> reported: environment or
cluster start, process start and the run itself, which the store does not tell apart),
**retry wait** (an attempt's end -> the next attempt queued) and **reporting** (the last
attempt's end -> the task's end recorded). An in-process task (condition, run-job, for-each)
is all **run**. An edge's time is its upstream's end -> its downstream's start; the latest
upstream gates the downstream task.

The critical path walks back from the task that ended last through, at each step, the upstream
that ended last (the one the task waited for), to a root, which waited for the run's start.
`analyse` is pure; `of_run` reads one run's times from the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

from headrace.store.sql import Tx as Connection

PHASES = (
    "ready",
    "queued",
    "environment",
    "cluster",
    "process",
    "worker",
    "run",
    "retry",
    "reporting",
)
PHASE_LABELS = {
    "ready": "Run start to ready",
    "queued": "Queued (slot / worker)",
    "environment": "Environment (files, Python environment)",
    "cluster": "Cluster start / attach",
    "process": "Process start",
    "worker": "On worker (not split)",
    "retry": "Retry wait",
    "reporting": "Reporting",
    "run": "Run",
}
OVERHEAD_PHASES = ("ready", "queued", "environment", "cluster", "process", "retry", "reporting")
# The worker's marks in an attempt's output (worker.supervisor.TIMING_KEY), in their order.
MARKS = ("prepared", "environment", "cluster", "spawned", "exited")


@dataclass(frozen=True)
class AttemptTimes:
    created: int
    started: int | None  # claimed by a worker
    ended: int | None
    marks: dict[str, int] | None = None  # the worker's marks (MARKS), when it wrote them


@dataclass(frozen=True)
class TaskTimes:
    key: str
    upstream: tuple[str, ...]
    started: int | None  # ready and started by the coordinator
    ended: int | None
    attempts: tuple[AttemptTimes, ...] = ()


@dataclass
class TaskOverhead:
    key: str
    phases: dict[str, int]  # phase -> ms (only the phases that apply)
    started: int | None
    ended: int | None
    gated_by: str | None = None  # the upstream that ended last
    critical: bool = False

    @property
    def overhead(self) -> int:
        return sum(v for k, v in self.phases.items() if k in OVERHEAD_PHASES)

    @property
    def total(self) -> int:
        return sum(self.phases.values())


@dataclass
class EdgeOverhead:
    source: str
    target: str
    gap: int | None  # ms from the upstream's end to the downstream's start; None: not both yet
    gating: bool  # the downstream waited for this upstream (it ended last)
    critical: bool = False


@dataclass
class RunOverhead:
    tasks: list[TaskOverhead] = field(default_factory=list)
    edges: list[EdgeOverhead] = field(default_factory=list)
    critical_path: list[str] = field(default_factory=list)  # root first
    span: int = 0  # the run's start -> its end (or now)
    critical_work: int = 0  # ms on the critical path spent running (on worker / in process)

    @property
    def critical_overhead(self) -> int:
        """The part of the run's span not spent running a task of the critical path."""
        return max(self.span - self.critical_work, 0)

    def task(self, key: str) -> TaskOverhead | None:
        return next((t for t in self.tasks if t.key == key), None)


def _gap(a: int | None, b: int | None) -> int:
    return max(b - a, 0) if a is not None and b is not None else 0


def _phases(task: TaskTimes, run_start: int, now: int) -> dict[str, int]:
    phases: dict[str, int] = {}
    if not task.upstream and task.started is not None:
        phases["ready"] = _gap(run_start, task.started)
    if not task.attempts:
        if task.started is not None:
            phases["run"] = _gap(task.started, task.ended if task.ended is not None else now)
        return phases
    sums = dict.fromkeys(("queued", "retry", "reporting"), 0)
    previous_end: int | None = None
    for a in task.attempts:
        if previous_end is not None:
            sums["retry"] += _gap(previous_end, a.created)
        claimed = a.started if a.started is not None else (a.ended if a.ended is not None else now)
        sums["queued"] += _gap(a.created, claimed)
        if a.started is not None:
            for name, ms in _on_worker(a, now).items():
                sums[name] = sums.get(name, 0) + ms
        previous_end = a.ended
    phases.update({k: v for k, v in sums.items() if v or k in ("queued", "worker", "run")})
    if "worker" not in phases and "run" not in phases:
        phases["worker"] = 0
    last = task.attempts[-1]
    if last.ended is not None and task.ended is not None:
        phases["reporting"] = phases.get("reporting", 0) + _gap(last.ended, task.ended)
    return {k: phases[k] for k in PHASES if k in phases}  # in the order they happen


def _on_worker(a: AttemptTimes, now: int) -> dict[str, int]:
    """An attempt's time on its worker: split by the worker's marks when it wrote them all
    (claimed -> prepared -> environment ready = environment; -> cluster attached = cluster;
    -> process started = process; -> process ended = run; -> end recorded = reporting),
    else one figure."""
    end = a.ended if a.ended is not None else now
    m = a.marks or {}
    if a.started is None or a.ended is None or not all(isinstance(m.get(k), int) for k in MARKS):
        return {"worker": _gap(a.started, end)}
    return {
        "environment": _gap(a.started, m["environment"]),
        "cluster": _gap(m["environment"], m["cluster"]),
        "process": _gap(m["cluster"], m["spawned"]),
        "run": _gap(m["spawned"], m["exited"]),
        "reporting": _gap(m["exited"], end),
    }


def analyse(run_start: int, run_end: int | None, tasks: list[TaskTimes], now: int) -> RunOverhead:
    """Per-task phases, per-edge hand-over times and the critical path of one run."""
    by_key = {t.key: t for t in tasks}
    out = RunOverhead(span=_gap(run_start, run_end if run_end is not None else now))
    ends = {t.key: (t.ended if t.ended is not None else None) for t in tasks}
    for t in tasks:
        ups = [u for u in t.upstream if u in by_key]
        ended_ups = [u for u in ups if ends[u] is not None]
        gate = max(ended_ups, key=lambda u: (ends[u], u)) if ended_ups else None
        for u in ups:
            gap = (
                _gap(ends[u], t.started) if ends[u] is not None and t.started is not None else None
            )
            out.edges.append(EdgeOverhead(u, t.key, gap, gating=u == gate))
        out.tasks.append(
            TaskOverhead(
                key=t.key,
                phases=_phases(t, run_start, now),
                started=t.started,
                ended=t.ended,
                gated_by=gate,
            )
        )
    out.critical_path = _critical_path(out, now)
    on_path = set(out.critical_path)
    pairs = set(pairwise(out.critical_path))
    for task in out.tasks:
        task.critical = task.key in on_path
        if task.critical:
            out.critical_work += task.phases.get("worker", 0) + task.phases.get("run", 0)
    for edge in out.edges:
        edge.critical = (edge.source, edge.target) in pairs
    return out


def _critical_path(out: RunOverhead, now: int) -> list[str]:
    started = [t for t in out.tasks if t.started is not None]
    if not started:
        return []
    last = max(started, key=lambda t: (t.ended if t.ended is not None else now, t.key))
    by_key = {t.key: t for t in out.tasks}
    path = [last.key]
    seen = {last.key}
    node = last
    while node.gated_by is not None and node.gated_by not in seen:
        node = by_key[node.gated_by]
        path.append(node.key)
        seen.add(node.key)
    return list(reversed(path))


def _marks(output: dict | None) -> dict[str, int] | None:
    marks = (output or {}).get("headrace_timing")
    return marks if isinstance(marks, dict) else None


def of_run(conn: Connection, run_id: int, now: int) -> RunOverhead:
    """The analysis of a run's current task runs (the latest repair's), from the store."""
    import json

    from headrace.store import runs as run_store

    run = run_store.get_run(conn, run_id)
    settings = json.loads(run_store.run_settings(conn, run_id))
    upstream = {
        t["task_key"]: tuple(d["task_key"] for d in t.get("depends_on") or [])
        for t in settings.get("tasks", [])
    }
    current = [
        tr for tr in run_store.all_task_runs(conn, run_id) if tr.current and tr.parent_id is None
    ]
    tries: dict[int, list[AttemptTimes]] = {}
    for a in run_store.attempts_of_run(conn, run_id):
        tries.setdefault(a.task_run_id, []).append(
            AttemptTimes(a.created_time, a.start_time, a.end_time, _marks(a.output))
        )
    tasks = [
        TaskTimes(
            key=tr.task_key,
            upstream=upstream.get(tr.task_key, ()),
            started=tr.start_time,
            ended=tr.end_time,
            attempts=tuple(tries.get(tr.task_run_id, [])),
        )
        for tr in current
    ]
    return analyse(run.start_time, run.end_time, tasks, now)
