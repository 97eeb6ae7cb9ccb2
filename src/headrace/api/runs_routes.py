"""jobs/runs/submit, get, list, cancel, cancel-all, delete, repair, get-output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import Connection

from headrace.api.auth import principal_of
from headrace.api.context import ctx_of
from headrace.api.params import (
    body_bool,
    body_int,
    body_str,
    body_str_list,
    body_str_map,
    json_body,
    query_bool,
    query_int,
    queue_override,
)
from headrace.engine import actions, run_overrides
from headrace.engine import jobs as job_service
from headrace.engine.actions import require_run, run_allowed
from headrace.engine.coordinator import now_ms
from headrace.engine.jobs import Principal
from headrace.engine.run_view import base_run_to_api, run_durations, run_to_api, task_to_api
from headrace.errors import Conflict, NotFound, SpecError, SpecIssue
from headrace.limits import MAX_JOB_NAME_BYTES
from headrace.spec.bounds import text_error
from headrace.spec.loader import parse_job_settings
from headrace.states import TERMINAL
from headrace.store import runs as run_store
from headrace.store.records import Run

router = APIRouter()
Who = Depends(principal_of)
JsonBody = Depends(json_body)
_SUBMIT_FIELDS = {
    "run_name", "tasks", "timeout_seconds", "idempotency_token", "queue", "environments",
    "git_source", "health", "email_notifications", "webhook_notifications",
    "notification_settings", "run_as", "access_control_list", "budget_policy_id",
    "usage_policy_id", "environment_variables",
}  # fmt: skip


@router.post("/jobs/runs/submit")
def submit(request: Request, body: dict[str, Any] = JsonBody, who: Principal = Who) -> Any:
    ctx = ctx_of(request)
    body = run_overrides.single_task_form(body)
    unknown = sorted(set(body) - _SUBMIT_FIELDS)
    if unknown:
        raise SpecError([SpecIssue(k, "unknown field for runs/submit") for k in unknown])
    spec = {
        k: v
        for k, v in body.items()
        if k not in ("run_name", "idempotency_token", "queue", "access_control_list", "run_as")
    }
    spec["name"] = body_str(body, "run_name") or "Untitled"
    too_long = text_error(spec["name"], MAX_JOB_NAME_BYTES)  # named as the caller sent it
    if too_long is not None:
        raise SpecError([SpecIssue("run_name", too_long)])
    settings = parse_job_settings(spec)
    if not settings.tasks:  # Databricks refuses a one-time run with nothing to run
        raise SpecError([SpecIssue("tasks", "required: a one-time run needs at least one task")])
    run_id = ctx.coordinator.start_run(
        settings,
        job_id=None,
        run_type="SUBMIT_RUN",
        run_name=spec["name"],
        run_as=who.user_name,
        idempotency_token=body_str(body, "idempotency_token", max_len=64),
        queue=queue_override(body),
    )
    return {"run_id": run_id}


@router.get("/jobs/runs/get")
def get(request: Request, who: Principal = Who) -> Any:
    ctx = ctx_of(request)
    run_id = query_int(request, "run_id")
    with ctx.store.read() as conn:
        run = _run_or_task(conn, run_id)
        require_run(conn, who, run.run_id, "CAN_VIEW")
        if run.run_id != run_id:  # a task run id: answer with that task (and its iterations)
            return _task_run_view(conn, run, run_id, ctx.base_url)
        return with_page_urls(
            run_to_api(conn, run_id, now=now_ms(), include_history=True), ctx.base_url
        )


def with_page_urls(view: dict[str, Any], base_url: str) -> dict[str, Any]:
    """A run view with `run_page_url` on the run and its tasks (the UI's pages)."""
    run_id = view["run_id"]
    view["run_page_url"] = f"{base_url}/runs/{run_id}"
    for task in view.get("tasks", []):
        task["run_page_url"] = f"{base_url}/runs/{run_id}/tasks/{task['run_id']}"
        for it in task.get("iterations", []):
            it["run_page_url"] = f"{base_url}/runs/{run_id}/tasks/{it['run_id']}"
    return view


def _run_or_task(conn: Connection, run_id: int) -> Run:
    try:
        return run_store.get_run(conn, run_id)
    except NotFound:
        tr = run_store.task_run(conn, run_id)  # NotFound says "Run N does not exist." too
        return run_store.get_run(conn, tr.run_id)


def _task_run_view(
    conn: Connection, run: Run, task_run_id: int, base_url: str = ""
) -> dict[str, Any]:
    view = with_page_urls(
        run_to_api(conn, run.run_id, now=now_ms(), include_history=False), base_url
    )
    for t in view["tasks"]:
        if t["run_id"] == task_run_id:
            return {**t, "job_id": run.job_id, "run_name": t["task_key"]}
        for it in t.get("iterations", []):
            if it["run_id"] == task_run_id:
                return {**it, "job_id": run.job_id, "run_name": it["task_key"]}
    raise NotFound(f"Run {task_run_id} does not exist.")


@router.get("/jobs/runs/list")
def list_runs(request: Request, who: Principal = Who) -> Any:
    ctx = ctx_of(request)
    limit = query_int(request, "limit", 20, minimum=0) or 25
    if limit > 25:
        raise SpecError([SpecIssue("limit", "must be at most 25")])
    active_only = query_bool(request, "active_only")
    completed_only = query_bool(request, "completed_only")
    if active_only and completed_only:
        raise SpecError([SpecIssue("active_only", "cannot be combined with completed_only")])
    token = request.query_params.get("page_token")
    offset = query_int(request, "offset", 0, minimum=0)
    if token:
        if not (token.isascii() and token.isdigit()):
            raise SpecError(
                [SpecIssue("page_token", f"not a page token of this server: {token!r}")]
            )
        offset = int(token)
    job_id = query_int(request, "job_id", None)
    run_type = request.query_params.get("run_type") or None
    if run_type is not None and run_type not in ("JOB_RUN", "SUBMIT_RUN", "WORKFLOW_RUN"):
        raise SpecError([SpecIssue("run_type", "must be JOB_RUN, SUBMIT_RUN or WORKFLOW_RUN")])
    start_from = query_int(request, "start_time_from", None)
    start_to = query_int(request, "start_time_to", None)
    expand = query_bool(request, "expand_tasks")
    with ctx.store.read() as conn:
        candidates = run_store.list_runs(
            conn,
            job_id=job_id,
            active_only=active_only,
            completed_only=completed_only,
            run_type=run_type,
            start_time_from=start_from,
            start_time_to=start_to,
            limit=10_000,
        )
        visible = [r for r in candidates if run_allowed(conn, who, r, "CAN_VIEW")]
        page = visible[offset : offset + limit]
        now = now_ms()
        items = [
            with_page_urls(
                run_to_api(conn, r.run_id, now=now, include_history=False)
                if expand
                else {**base_run_to_api(r), **run_durations(r, now)},
                ctx.base_url,
            )
            for r in page
        ]
    out: dict[str, Any] = {"runs": items, "has_more": offset + limit < len(visible)}
    if out["has_more"]:
        out["next_page_token"] = str(offset + limit)
    if offset > 0:
        out["prev_page_token"] = str(max(offset - limit, 0))
    return out


@router.post("/jobs/runs/cancel")
def cancel(request: Request, body: dict[str, Any] = JsonBody, who: Principal = Who) -> Any:
    ctx = ctx_of(request)
    run_id = body_int(body, "run_id")
    with ctx.store.read() as conn:  # a task run id (as runs/get takes) cancels its run
        run_id = _run_or_task(conn, run_id).run_id
    ctx.kill(actions.cancel_run(ctx.store, ctx.coordinator, who, run_id), "CANCELED")
    return {}


@router.post("/jobs/runs/cancel-all")
def cancel_all(request: Request, body: dict[str, Any] = JsonBody, who: Principal = Who) -> Any:
    ctx = ctx_of(request)
    job_id = body_int(body, "job_id", None)
    queued_only = body_bool(body, "all_queued_runs")
    if job_id is None and not queued_only:
        raise SpecError([SpecIssue("job_id", "required unless all_queued_runs is true")])
    with ctx.store.read() as conn:
        if job_id is not None:
            job_service.require(conn, who, job_id, "CAN_MANAGE_RUN")
        runs = run_store.list_runs(conn, job_id=job_id, active_only=True, limit=100_000)
        runs = [r for r in runs if run_allowed(conn, who, r, "CAN_MANAGE_RUN")]
    for run in runs:
        if queued_only and run.life_cycle.value != "QUEUED":
            continue
        ctx.kill(ctx.coordinator.cancel_run(run.run_id, f"canceled by {who.user_name}"), "CANCELED")
    return {}


@router.post("/jobs/runs/delete")
def delete(request: Request, body: dict[str, Any] = JsonBody, who: Principal = Who) -> Any:
    ctx = ctx_of(request)
    run_id = body_int(body, "run_id")
    with ctx.store.begin() as conn:
        run = require_run(conn, who, run_id, "CAN_MANAGE")
        if run.life_cycle not in TERMINAL:
            raise Conflict(f"Run {run_id} is active; cancel it before deleting it.")
        run_store.delete_run(conn, run_id)
    return {}


@router.post("/jobs/runs/repair")
def repair(request: Request, body: dict[str, Any] = JsonBody, who: Principal = Who) -> Any:
    ctx = ctx_of(request)
    run_id = body_int(body, "run_id")
    repair_id = actions.repair_run(
        ctx.store,
        ctx.coordinator,
        who,
        run_id,
        rerun_tasks=body_str_list(body, "rerun_tasks"),
        rerun_all_failed_tasks=body_bool(body, "rerun_all_failed_tasks"),
        rerun_dependent_tasks=body_bool(body, "rerun_dependent_tasks"),
        latest_repair_id=body_int(body, "latest_repair_id", None),
        job_parameters=body_str_map(body, "job_parameters") or None,
    )
    return {"repair_id": repair_id}


# What a task type may add to get-output (the rest of an attempt's output is Headrace's own,
# such as where the executed notebook is kept).
OUTPUT_FIELDS = ("notebook_output", "sql_output", "dbt_output")


@router.get("/jobs/runs/get-output")
def get_output(request: Request, who: Principal = Who) -> Any:
    ctx = ctx_of(request)
    task_run_id = query_int(request, "run_id")
    with ctx.store.read() as conn:
        try:
            tr = run_store.task_run(conn, task_run_id)
        except NotFound:
            run_store.get_run(conn, task_run_id)  # a job run: Databricks refuses those
            raise SpecError(
                "Retrieving the output of runs with multiple tasks is not supported. "
                "Please retrieve the output of each individual task run instead."
            ) from None
        run = require_run(conn, who, tr.run_id, "CAN_VIEW")
        attempts = run_store.attempts_of_run(conn, run.run_id)
        mine = [a for a in attempts if a.task_run_id == task_run_id]
        view = _task_run_view(conn, run, task_run_id, ctx.base_url)
    out: dict[str, Any] = {"metadata": view}
    if mine:
        last = mine[-1]
        logs, truncated = actions.read_log_tail(last.log_path, store=ctx.store)
        if logs is not None:
            out["logs"] = logs
            out["logs_truncated"] = truncated
        if last.error:
            out["error"] = last.error
        if last.error_trace:
            out["error_trace"] = last.error_trace
        for key in OUTPUT_FIELDS:
            if last.output and key in last.output:
                out[key] = last.output[key]
    elif tr.result is not None and tr.result.value != "SUCCESS" and tr.state_message:
        out["error"] = tr.state_message
    if tr.task_values:
        out["task_values"] = tr.task_values
    child = (tr.resolved or {}).get("run_job_output")
    if child:
        out["run_job_output"] = child
    return out


# The notebook runner keeps the executed notebook next to the attempt's log.
EXECUTED_NOTEBOOK = "notebook.ipynb"


@router.get("/jobs/runs/export")
def export(request: Request, who: Principal = Who) -> Any:
    """A notebook task run's executed notebook as HTML (views_to_export CODE or ALL)."""
    ctx = ctx_of(request)
    run_id = query_int(request, "run_id")
    views = request.query_params.get("views_to_export") or "CODE"
    if views not in ("CODE", "DASHBOARDS", "ALL"):
        raise SpecError([SpecIssue("views_to_export", "must be CODE, DASHBOARDS or ALL")])
    with ctx.store.read() as conn:
        run = _run_or_task(conn, run_id)
        require_run(conn, who, run.run_id, "CAN_VIEW")
        task_runs = [t for t in run_store.current_task_runs(conn, run.run_id)]
        if run.run_id == run_id:  # a job run: its one task, as for single-task runs
            if len(task_runs) != 1:
                raise SpecError(
                    [
                        SpecIssue(
                            "run_id",
                            f"export takes a task run's id (this run has {len(task_runs)} tasks)",
                        )
                    ]
                )
            run_id = task_runs[0].task_run_id
        mine = [a for a in run_store.attempts_of_run(conn, run.run_id) if a.task_run_id == run_id]
    if views == "DASHBOARDS":
        return {"views": []}
    path = (
        Path(mine[-1].log_path).parent / EXECUTED_NOTEBOOK if mine and mine[-1].log_path else None
    )
    if path is None or not path.exists():
        raise NotFound(f"Run {run_id} kept no executed notebook (not a notebook task, or it "
                       "ended before its kernel started)")  # fmt: skip
    from headrace.notebook.export import to_html

    name = Path(_task_notebook_path(ctx, run.run_id, run_id) or path.name).stem
    return {"views": [{"content": to_html(path), "name": name, "type": "NOTEBOOK"}]}


def _task_notebook_path(ctx: Any, run_id: int, task_run_id: int) -> str | None:
    with ctx.store.read() as conn:
        view = _task_run_view(conn, run_store.get_run(conn, run_id), task_run_id)
    return (view.get("notebook_task") or {}).get("notebook_path")


__all__ = ["require_run", "router", "task_to_api"]
