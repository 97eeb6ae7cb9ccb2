"""What each page shows, read from the engine and the store (no rule is decided here).

Runs come as the Jobs API JSON (`engine.run_view`), so the UI shows exactly what `runs/get`
answers; permissions come from `engine.jobs` / `engine.actions`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from sqlalchemy import Connection

from headrace.engine import actions, overhead
from headrace.engine import jobs as job_service
from headrace.engine.jobs import Principal, effective_level, level_rank
from headrace.engine.overhead import PHASE_LABELS, EdgeOverhead, RunOverhead, TaskOverhead
from headrace.engine.run_view import run_to_api
from headrace.states import LifeCycle, Result
from headrace.store import jobs as job_store
from headrace.store import runs as run_store
from headrace.store.db import Store
from headrace.store.records import Job, Run
from headrace.store.runs import RunCell
from headrace.ui import cron_words
from headrace.ui.graph import Graph, layout
from headrace.ui.status import Status, status_of

RECENT_RUNS = 10
MATRIX_RUNS = 15
RUNS_PAGE = 25


def may(level: str | None, needed: str) -> bool:
    return level_rank(level) >= level_rank(needed)


def run_status(run: Run | RunCell) -> Status:
    return status_of(run.life_cycle, run.result)


def api_status(obj: dict[str, Any]) -> Status:
    """The look of a Jobs API run or task object's `state`."""
    state = obj.get("state", {})
    result = state.get("result_state")
    return status_of(LifeCycle(state["life_cycle_state"]), Result(result) if result else None)


def fmt_time(ms: int | None) -> str:
    if not ms:
        return "—"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def fmt_duration(ms: int | None) -> str:
    if ms is None or ms < 0:
        return "—"
    if ms < 1000:
        return f"{ms} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


# --- jobs ------------------------------------------------------------------------------------


@dataclass
class JobRow:
    job: Job
    trigger: str
    paused: bool
    next_fire: int | None
    recent: list[RunCell]  # oldest first, so the newest cell is on the right
    level: str | None

    @property
    def can_run(self) -> bool:
        return may(self.level, "CAN_MANAGE_RUN")


JOB_STATES = {
    "succeeded": "Last run succeeded",
    "failed": "Last run failed",
    "active": "Running now",
    "canceled": "Last run canceled",
    "never": "Never run",
}


@dataclass
class JobFilters:
    """The jobs list's search: name (substring), tag (`key` or `key:value`), owner, state."""

    name: str = ""
    tag: str = ""
    owner: str = ""
    state: str = ""

    def keeps(self, job: Job) -> bool:
        if self.name.strip() and self.name.strip().lower() not in job.name.lower():
            return False
        owner = self.owner.strip().lower()
        if owner and owner not in (job.creator_user_name or "").lower():
            return False
        return self.keeps_tags(job.settings.get("tags") or {})

    def keeps_tags(self, tags: dict[str, Any]) -> bool:
        tag = self.tag.strip()
        if not tag:
            return True
        key, sep, value = tag.partition(":")
        have = {str(k).lower(): str(v).lower() for k, v in tags.items()}
        key, value = key.strip().lower(), value.strip().lower()
        return key in have and (not sep or have[key] == value)

    def keeps_runs(self, recent: list[RunCell]) -> bool:
        """`recent`: newest first."""
        if not self.state:
            return True
        if self.state == "never":
            return not recent
        if self.state == "active":
            return any(_matches_state(r, "active") for r in recent)
        return bool(recent) and _matches_state(recent[0], self.state)


def job_rows(store: Store, who: Principal, query: str | JobFilters, now: int) -> list[JobRow]:
    """Jobs the user may see that match the search (a string: the name, case-insensitive).

    A fixed number of queries whatever the number of jobs: the recent runs and the permissions
    of all listed jobs are read in one batch each.
    """
    filters = query if isinstance(query, JobFilters) else JobFilters(name=query)
    visible, _ = job_service.list_jobs(store, who, name=None, after_id=0, limit=10_000)
    kept = [job for job in visible if filters.keeps(job)]
    ids = [job.job_id for job in kept]
    rows = []
    with store.read() as conn:
        recent_of = run_store.recent_runs_of_jobs(conn, ids, RECENT_RUNS)
        acl_of = job_store.permissions_of_jobs(conn, ids)
    for job in kept:
        recent = recent_of[job.job_id]
        if not filters.keeps_runs(recent):
            continue
        rows.append(
            JobRow(
                job=job,
                trigger=cron_words.describe_trigger(job.settings),
                paused=actions.is_paused(job.settings),
                next_fire=cron_words.next_fire_ms(job.settings, now),
                recent=list(reversed(recent)),
                level=job_service.level_from_entries(acl_of[job.job_id], who),
            )
        )
    return rows


@dataclass
class MatrixRow:
    task_key: str
    cells: list[tuple[Run, dict[str, Any] | None]]  # per run: that task's API object or None


@dataclass
class JobPage:
    job: Job
    level: str | None
    trigger: str
    paused: bool
    has_trigger: bool
    next_fire: int | None
    settings_yaml: str
    graph: Graph
    runs: list[Run]
    matrix: list[MatrixRow] = field(default_factory=list)
    parameters: list[dict[str, Any]] = field(default_factory=list)


def job_page(store: Store, who: Principal, job_id: int, now: int) -> JobPage:
    """Raises: NotFound, PermissionDenied."""
    import yaml

    with store.read() as conn:
        job = job_service.require(conn, who, job_id, "CAN_VIEW")
        level = effective_level(conn, who, job_id)
        runs = run_store.list_runs(conn, job_id=job_id, limit=MATRIX_RUNS)
        views = {r.run_id: run_to_api(conn, r.run_id, now=now, include_history=False) for r in runs}
    tasks = job.settings.get("tasks", [])
    keys = [t["task_key"] for t in tasks]
    for view in views.values():  # tasks removed since still show in older runs
        keys += [t["task_key"] for t in view["tasks"] if t["task_key"] not in keys]
    matrix = []
    for key in keys:
        cells = []
        for run in runs:
            found = next((t for t in views[run.run_id]["tasks"] if t["task_key"] == key), None)
            cells.append((run, found))
        matrix.append(MatrixRow(key, cells))
    return JobPage(
        job=job,
        level=level,
        trigger=cron_words.describe_trigger(job.settings),
        paused=actions.is_paused(job.settings),
        has_trigger=actions.trigger_key(job.settings) is not None,
        next_fire=cron_words.next_fire_ms(job.settings, now),
        settings_yaml=yaml.safe_dump(
            _without_empty(job.settings), sort_keys=False, allow_unicode=True, width=100
        ),
        graph=layout(tasks),
        runs=runs,
        matrix=matrix,
        parameters=job.settings.get("parameters", []),
    )


def _without_empty(value: Any) -> Any:
    """Settings minus the fields that say nothing (empty, null, false, 0): stored settings
    carry every default, and the page should show what the job sets."""
    if isinstance(value, dict):
        kept = {k: _without_empty(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, [], {}, False)}  # 0 == False
    if isinstance(value, list):
        return [_without_empty(v) for v in value]
    return value


# --- runs ------------------------------------------------------------------------------------


@dataclass
class Bar:
    """One attempt on the timeline, as percentages of the run's span."""

    left: float
    width: float
    status: Status
    label: str


@dataclass
class TimelineRow:
    task_key: str
    task_run_id: int
    bars: list[Bar]


@dataclass
class OverheadRow:
    task: TaskOverhead
    segments: list[tuple[str, str, int, float]]  # phase, label, ms, % of the task's time
    waits: list[EdgeOverhead]  # its upstream edges


@dataclass
class RunPage:
    run: Run
    view: dict[str, Any]
    status: Status
    job_name: str | None
    level: str | None  # the user's level on the run (by its job, or as its starter)
    graph: Graph
    tasks: list[dict[str, Any]]
    task_status: dict[str, Status]
    timeline: list[TimelineRow]
    duration: str
    repair_defaults: list[str]
    now: int
    span_label: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)
    # Deliveries of this run's notifications (state, attempts, last error), newest first.
    notifications: list[dict[str, Any]] = field(default_factory=list)
    overhead: RunOverhead | None = None  # where the time goes (engine.overhead)

    @property
    def critical(self) -> dict[str, Any]:
        """The critical path for the graph and timeline: task keys and (upstream, task) pairs."""
        path = self.overhead.critical_path if self.overhead else []
        return {"nodes": set(path), "edges": set(pairwise(path))}

    @property
    def overhead_rows(self) -> list[OverheadRow]:
        """The overhead panel's rows, in the run's task order, critical path first."""
        if self.overhead is None:
            return []
        rows = []
        for t in self.overhead.tasks:
            total = max(t.total, 1)
            segments = [
                (phase, PHASE_LABELS[phase], ms, round(100 * ms / total, 2))
                for phase, ms in t.phases.items()
                if ms > 0
            ]
            waits = [e for e in self.overhead.edges if e.target == t.key]
            rows.append(OverheadRow(t, segments, waits))
        return sorted(rows, key=lambda r: not r.task.critical)

    @property
    def active(self) -> bool:
        return self.status.active

    @property
    def can_manage_run(self) -> bool:
        return may(self.level, "CAN_MANAGE_RUN")


def run_level(conn: Connection, who: Principal, run: Run) -> str | None:
    """The highest level `who` holds on a run, by the engine's run access rule."""
    best = None
    for level in job_service.LEVELS:
        if actions.run_allowed(conn, who, run, level):
            best = level
    return best


def run_page(store: Store, who: Principal, run_id: int, now: int) -> RunPage:
    """Raises: NotFound, PermissionDenied."""
    with store.read() as conn:
        run = actions.require_run(conn, who, run_id, "CAN_VIEW")
        level = run_level(conn, who, run)
        view = run_to_api(conn, run_id, now=now, include_history=True)
        settings = json.loads(run_store.run_settings(conn, run_id))
        names = job_store.job_names(conn, {run.job_id}) if run.job_id is not None else {}
        defaults = actions.default_repair_tasks(conn, run_id) if not _active(run) else []
        deliveries = _notifications_of(conn, run_id)
        spent = overhead.of_run(conn, run_id, now)
    tasks = view["tasks"]
    task_status = {t["task_key"]: api_status(t) for t in tasks}
    start = view["start_time"] or now
    end = view["end_time"] or now
    return RunPage(
        run=run,
        view=view,
        status=run_status(run),
        job_name=names.get(run.job_id) if run.job_id is not None else None,
        level=level,
        graph=layout(settings.get("tasks", [])),
        tasks=tasks,
        task_status=task_status,
        timeline=timeline(tasks, start, max(end, start + 1), now),
        duration=fmt_duration(end - start if view["start_time"] else None),
        repair_defaults=defaults,
        now=now,
        span_label=fmt_duration(max(end, start + 1) - start),
        history=_history(view),
        notifications=deliveries,
        overhead=spent,
    )


def _notifications_of(conn: Connection, run_id: int) -> list[dict[str, Any]]:
    """The run's notification deliveries as the API shows them (no webhook URLs)."""
    from headrace.notify.views import notification_to_api
    from headrace.store import notifications as outbox

    return [notification_to_api(n) for n in outbox.list_notifications(conn, run_ids=[run_id])]


def _history(view: dict[str, Any]) -> list[dict[str, Any]]:
    """The original run and each repair, with their look (shown once a run was repaired)."""
    items = view.get("repair_history", [])
    if len(items) < 2:
        return []
    return [
        {
            "kind": "Original run" if it["type"] == "ORIGINAL" else f"Repair {it.get('id', '')}",
            "status": api_status(it),
            "start_time": it.get("start_time"),
            "end_time": it.get("end_time"),
            "tasks": it.get("rerun_tasks", []),
        }
        for it in items
    ]


def _active(run: Run) -> bool:
    return run_status(run).active or run.life_cycle in (LifeCycle.QUEUED, LifeCycle.PENDING)


def timeline(tasks: list[dict[str, Any]], start: int, end: int, now: int) -> list[TimelineRow]:
    """A row per task, a bar per attempt (retries side by side), tasks in order of start."""
    span = end - start
    rows = []
    ordered = sorted(tasks, key=lambda t: (t.get("start_time") or 2**62, t["task_key"]))
    for task in ordered:
        bars = []
        for a in task.get("attempts", []):
            if not a.get("start_time"):
                continue
            a_end = a.get("end_time") or now
            result = a.get("result_state")
            if result:
                look = status_of(LifeCycle.TERMINATED, Result(result))
            elif a.get("state") in ("RUNNING", "CLAIMED", "STARTING"):
                look = status_of(LifeCycle.RUNNING, None)
            else:
                look = status_of(LifeCycle.PENDING, None)
            left = max(0.0, (a["start_time"] - start) / span * 100)
            width = max(0.4, (a_end - a["start_time"]) / span * 100)
            label = f"attempt {a['attempt_number'] + 1}: {look.label}, {fmt_duration(a_end - a['start_time'])}"
            bars.append(Bar(round(left, 2), round(min(width, 100 - left), 2), look, label))
        rows.append(TimelineRow(task["task_key"], task["run_id"], bars))
    return rows


@dataclass
class RunsPage:
    rows: list[tuple[Run, str | None]]  # run, job name
    page: int
    has_more: bool
    jobs: list[Job] = field(default_factory=list)  # the jobs one may filter by


STATE_FILTERS = {
    "active": "Active",
    "succeeded": "Succeeded",
    "failed": "Failed",
    "canceled": "Canceled",
}


def _matches_state(run: Run | RunCell, state: str) -> bool:
    look = run_status(run)
    if state == "active":
        return run.life_cycle not in (
            LifeCycle.TERMINATED,
            LifeCycle.SKIPPED,
            LifeCycle.INTERNAL_ERROR,
        )
    if state == "succeeded":
        return look.css in ("ok", "warn")
    if state == "failed":
        return look.css == "fail"
    if state == "canceled":
        return look.css in ("cancel", "skip")
    return True


@dataclass
class RunSearch:
    """The runs list's search: run name (substring), owner (who it runs as), job tag."""

    name: str = ""
    owner: str = ""
    tag: str = ""

    def keeps(self, run: Run) -> bool:
        name, owner = self.name.strip().lower(), self.owner.strip().lower()
        if name and name not in (run.run_name or "").lower():
            return False
        return not owner or owner in (run.run_as or "").lower()

    def keeps_tags(self, settings_json: str) -> bool:
        """Whether the run's settings carry the tag (`key` or `key:value`)."""
        tags = json.loads(settings_json).get("tags") or {}
        return JobFilters(tag=self.tag).keeps_tags(tags)


def runs_page(
    store: Store,
    who: Principal,
    *,
    job_id: int | None,
    state: str,
    start_from: int | None,
    start_to: int | None,
    page: int,
    search: RunSearch | None = None,
) -> RunsPage:
    """One page of the runs the user may see, newest first."""
    search = search or RunSearch()
    with store.read() as conn:
        candidates = run_store.list_runs(
            conn,
            job_id=job_id,
            active_only=state == "active",
            completed_only=state in ("succeeded", "failed", "canceled"),
            start_time_from=start_from,
            start_time_to=start_to,
            limit=10_000,
        )
        visible = [
            r
            for r in candidates
            if _matches_state(r, state)
            and search.keeps(r)
            and actions.run_allowed(conn, who, r, "CAN_VIEW")
        ]
        if search.tag.strip():
            visible = [
                r for r in visible if search.keeps_tags(run_store.run_settings(conn, r.run_id))
            ]
        chunk = visible[page * RUNS_PAGE : (page + 1) * RUNS_PAGE]
        names = job_store.job_names(conn, {r.job_id for r in chunk if r.job_id is not None})
    choices, _ = job_service.list_jobs(store, who, name=None, after_id=0, limit=10_000)
    return RunsPage(
        rows=[(r, names.get(r.job_id) if r.job_id is not None else None) for r in chunk],
        page=page,
        has_more=len(visible) > (page + 1) * RUNS_PAGE,
        jobs=sorted(choices, key=lambda j: j.name.lower()),
    )


# --- one task run ----------------------------------------------------------------------------


@dataclass
class TaskPage:
    run: Run
    level: str | None
    task: dict[str, Any]
    status: Status
    attempts: list[dict[str, Any]]
    attempt: dict[str, Any] | None  # the attempt whose log/error/output is shown
    log_text: str | None
    log_offset: int
    log_truncated: bool
    error: str | None
    error_trace: str | None
    output: dict[str, Any]
    task_values: dict[str, Any]


LOG_TAIL_PAGE = 64 * 1024


def task_page(
    store: Store,
    who: Principal,
    run_id: int,
    task_run_id: int,
    attempt_number: int | None,
    now: int,
) -> TaskPage:
    """Raises: NotFound, PermissionDenied."""
    from headrace.errors import NotFound

    with store.read() as conn:
        run = actions.require_run(conn, who, run_id, "CAN_VIEW")
        level = run_level(conn, who, run)
        view = run_to_api(conn, run_id, now=now, include_history=False)
        tr = run_store.task_run(conn, task_run_id)
        if tr.run_id != run_id:
            raise NotFound(f"Run {task_run_id} does not exist.")
        attempts = [
            a for a in run_store.attempts_of_run(conn, run_id) if a.task_run_id == task_run_id
        ]
    task = _find_task(view["tasks"], task_run_id) or {
        "task_key": tr.task_key,
        "run_id": task_run_id,
        "state": {
            "life_cycle_state": tr.life_cycle.value,
            "result_state": tr.result.value if tr.result else None,
            "state_message": tr.state_message,
        },
        "start_time": tr.start_time or 0,
        "run_duration": 0,
    }
    chosen = attempts[-1] if attempts else None
    if attempt_number is not None:
        chosen = next((a for a in attempts if a.attempt_number == attempt_number), chosen)
    text, truncated, offset = None, False, 0
    if chosen is not None and chosen.log_path:
        text, truncated = actions.read_log_tail(chosen.log_path, LOG_TAIL_PAGE, store=store)
        offset = _size(chosen.log_path)
    error = chosen.error if chosen is not None else None
    if (
        error is None
        and tr.result is not None
        and tr.result.value != "SUCCESS"
        and tr.state_message
    ):
        error = tr.state_message
    return TaskPage(
        run=run,
        level=level,
        task=task,
        status=status_of(tr.life_cycle, tr.result),
        attempts=task.get("attempts", []),
        attempt={"attempt_number": chosen.attempt_number, "log_path": chosen.log_path}
        if chosen
        else None,
        log_text=text,
        log_offset=offset,
        log_truncated=truncated,
        error=error,
        error_trace=chosen.error_trace if chosen is not None else None,
        output=(chosen.output or {}) if chosen is not None else {},
        task_values=tr.task_values,
    )


def _find_task(tasks: list[dict[str, Any]], task_run_id: int) -> dict[str, Any] | None:
    for t in tasks:
        if t["run_id"] == task_run_id:
            return t
        for it in t.get("iterations", []):
            if it["run_id"] == task_run_id:
                return it
    return None


def _size(path: str) -> int:
    from pathlib import Path

    try:
        return Path(path).stat().st_size
    except OSError:
        return 0
