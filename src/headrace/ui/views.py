"""What each page shows, read from the engine and the store (no rule is decided here).

Runs come as the Jobs API JSON (`engine.run_view`), so the UI shows exactly what `runs/get`
answers; permissions come from `engine.jobs` / `engine.actions`. This module: the looks and formats
every page uses and the jobs pages; `run_views.py` the run pages, `task_views.py` a task run's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from headrace.engine import actions
from headrace.engine import jobs as job_service
from headrace.engine.jobs import Principal, effective_level, level_rank
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


def matches_state(run: Run | RunCell, state: str) -> bool:
    """Whether a run is in a state filter's group (STATE_FILTERS of the runs list)."""
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
            return any(matches_state(r, "active") for r in recent)
        return bool(recent) and matches_state(recent[0], self.state)


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
