"""What the run pages show: one run (graph, timeline, tasks, overhead, repair history,
notifications) and the runs list with its filters; read from the engine and the store, as
`views.py` does for jobs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from sqlalchemy import Connection

from headrace.engine import actions, overhead
from headrace.engine import jobs as job_service
from headrace.engine.jobs import Principal
from headrace.engine.overhead import PHASE_LABELS, EdgeOverhead, RunOverhead, TaskOverhead
from headrace.engine.run_view import run_to_api
from headrace.states import LifeCycle, Result
from headrace.store import jobs as job_store
from headrace.store import runs as run_store
from headrace.store.db import Store
from headrace.store.records import Job, Run
from headrace.ui.graph import Graph, layout
from headrace.ui.status import Status, status_of
from headrace.ui.views import (
    JobFilters,
    api_status,
    fmt_duration,
    matches_state,
    may,
    run_status,
)

RUNS_PAGE = 25


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
            if matches_state(r, state)
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
