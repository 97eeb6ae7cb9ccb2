"""The UI's run pages: the runs list, one run (live state, cancel, repair, run again) and one
task run (its attempts, live log, whole log, executed notebook)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from headrace.engine import actions
from headrace.engine.coordinator import now_ms
from headrace.engine.logs import read_log
from headrace.errors import HeadraceError, NotFound
from headrace.ui import run_views, session, task_views
from headrace.ui.page_support import (
    PostedForm,
    api_context,
    checked_form,
    int_param,
    job_parameters,
    redirect_back,
    render,
    signed_in,
    templates,
    ui_errors,
)

router = APIRouter()
LIVE_LOG_CHUNK = 256 * 1024


def _ms_of(value: str | None, field: str) -> int | None:
    """A date or date-time from a form field (UTC), as epoch ms. Raises: SpecError."""
    if not value:
        return None
    from headrace.errors import SpecError, SpecIssue

    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise SpecError([SpecIssue(field, f"not a date or date-time: {value!r}")]) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


@router.get("/runs")
@ui_errors
def runs_list(request: Request) -> Response:
    who = signed_in(request)
    q = request.query_params
    state = q.get("state", "")
    if state and state not in run_views.STATE_FILTERS:
        from headrace.errors import SpecError, SpecIssue

        raise SpecError(
            [SpecIssue("state", f"must be one of {', '.join(run_views.STATE_FILTERS)}")]
        )
    job_id = int_param(request, "job_id")
    page = run_views.runs_page(
        api_context(request).store,
        who,
        job_id=job_id,
        state=state,
        start_from=_ms_of(q.get("from"), "from"),
        start_to=_ms_of(q.get("to"), "to"),
        page=int_param(request, "page") or 0,
        search=run_views.RunSearch(
            name=q.get("q", ""), owner=q.get("owner", ""), tag=q.get("tag", "")
        ),
    )
    filters = {k: q.get(k, "") for k in ("state", "job_id", "from", "to", "q", "owner", "tag")}
    return render(request, "runs.html", who=who, p=page, filters=filters, nav="runs")


@router.get("/runs/{run_id}")
@ui_errors
def run_detail(request: Request, run_id: int) -> Response:
    who = signed_in(request)
    page = run_views.run_page(api_context(request).store, who, run_id, now_ms())
    return render(request, "run.html", who=who, p=page, nav="runs")


@router.get("/runs/{run_id}/live")
@ui_errors
def run_live(request: Request, run_id: int) -> Response:
    """A running run's state: each task's look and the page's changing parts as HTML."""
    who = signed_in(request)
    page = run_views.run_page(api_context(request).store, who, run_id, now_ms())
    token = session.session_token(request) or ""
    env = templates()
    values = {"p": page, "csrf": session.csrf_token(token)}
    crit = page.critical
    return JSONResponse(
        {
            "active": page.active,
            "status": {
                "css": page.status.css,
                "icon": page.status.icon,
                "label": page.status.label,
            },
            "tasks": {
                k: {"css": s.css, "icon": s.icon, "label": s.label, "crit": k in crit["nodes"]}
                for k, s in page.task_status.items()
            },
            "critical_edges": [f"{a}>{b}" for a, b in sorted(crit["edges"])],
            "html": {
                "run-summary": env.get_template("_run_summary.html").render(values),
                "run-overhead": env.get_template("_run_overhead.html").render(values),
                "run-timeline": env.get_template("_run_timeline.html").render(values),
                "run-tasks": env.get_template("_run_tasks.html").render(values),
            },
        }
    )


@router.post("/runs/{run_id}/cancel")
@ui_errors
def cancel(request: Request, run_id: int, form: Any = PostedForm) -> Response:
    who = signed_in(request)
    checked_form(request, form)
    ctx = api_context(request)
    try:
        ctx.kill(actions.cancel_run(ctx.store, ctx.coordinator, who, run_id), "CANCELED")
    except HeadraceError as exc:
        return redirect_back(request, f"/runs/{run_id}", str(exc), "error")
    return redirect_back(request, f"/runs/{run_id}", "Cancel requested.")


@router.post("/runs/{run_id}/repair")
@ui_errors
def repair(request: Request, run_id: int, form: Any = PostedForm) -> Response:
    who = signed_in(request)
    form = checked_form(request, form)
    ctx = api_context(request)
    tasks = [str(t) for t in form.getlist("task")]
    latest = form.get("latest_repair_id")
    try:
        if not tasks:
            from headrace.errors import SpecError, SpecIssue

            raise SpecError([SpecIssue("rerun_tasks", "pick at least one task to rerun")])
        actions.repair_run(
            ctx.store,
            ctx.coordinator,
            who,
            run_id,
            rerun_tasks=tasks,
            rerun_dependent_tasks=form.get("dependents") == "yes",
            job_parameters=job_parameters(form) or None,
            latest_repair_id=int(str(latest)) if latest else None,
        )
    except HeadraceError as exc:
        return redirect_back(request, f"/runs/{run_id}", str(exc), "error")
    return redirect_back(request, f"/runs/{run_id}", f"Repairing {len(tasks)} task(s).")


@router.post("/runs/{run_id}/run-again")
@ui_errors
def run_again(request: Request, run_id: int, form: Any = PostedForm) -> Response:
    """A new run of the run's job with the same job parameters."""
    who = signed_in(request)
    checked_form(request, form)
    ctx = api_context(request)
    with ctx.store.read() as conn:
        run = actions.require_run(conn, who, run_id, "CAN_VIEW")
    if run.job_id is None:
        return redirect_back(
            request, f"/runs/{run_id}", "Only runs of a job can be run again.", "error"
        )
    try:
        new_id = actions.run_job_now(
            ctx.store, ctx.coordinator, who, run.job_id, parameters=run.parameters
        )
    except HeadraceError as exc:
        return redirect_back(request, f"/runs/{run_id}", str(exc), "error")
    return redirect_back(request, f"/runs/{new_id}", f"Run {new_id} started.")


# --- one task run ----------------------------------------------------------------------------


@router.get("/runs/{run_id}/tasks/{task_run_id}")
@ui_errors
def task_detail(request: Request, run_id: int, task_run_id: int) -> Response:
    who = signed_in(request)
    attempt = int_param(request, "attempt")
    page = task_views.task_page(
        api_context(request).store, who, run_id, task_run_id, attempt, now_ms()
    )
    return render(request, "task.html", who=who, p=page, nav="runs", pinned=attempt)


@router.get("/runs/{run_id}/tasks/{task_run_id}/live")
@ui_errors
def task_live(request: Request, run_id: int, task_run_id: int) -> Response:
    """A running task's head (state, attempts, error) as HTML for the page's script."""
    who = signed_in(request)
    attempt = int_param(request, "attempt")
    page = task_views.task_page(
        api_context(request).store, who, run_id, task_run_id, attempt, now_ms()
    )
    html = templates().get_template("_task_head.html").render(p=page)
    return JSONResponse(
        {"active": page.status.active or page.status.css == "wait", "html": {"task-head": html}}
    )


@router.get("/runs/{run_id}/tasks/{task_run_id}/log/live")
@ui_errors
def task_log_live(request: Request, run_id: int, task_run_id: int) -> Response:
    """What an attempt's log gained since `offset`; once it is drained and a retry started,
    `next_attempt` says which attempt to follow next."""
    who = signed_in(request)
    attempt = int_param(request, "attempt")
    page = task_views.task_page(
        api_context(request).store, who, run_id, task_run_id, attempt, now_ms()
    )
    offset = int_param(request, "offset") or 0
    path = page.attempt["log_path"] if page.attempt else None
    text, new_offset = actions.read_log_from(
        path, offset, LIVE_LOG_CHUNK, store=api_context(request).store
    )
    latest = page.attempts[-1]["attempt_number"] if page.attempts else None
    current = page.attempt["attempt_number"] if page.attempt else None
    newer = latest if latest is not None and current is not None and latest > current else None
    return JSONResponse(
        {
            "text": text,
            "offset": new_offset,
            "active": page.status.active or page.status.css == "wait",
            "next_attempt": newer if not text else None,
        }
    )


@router.get("/runs/{run_id}/tasks/{task_run_id}/log.txt")
@ui_errors
def task_log_full(request: Request, run_id: int, task_run_id: int) -> Response:
    """The whole log of one attempt, as plain text (never rendered as HTML)."""
    who = signed_in(request)
    page = task_views.task_page(
        api_context(request).store,
        who,
        run_id,
        task_run_id,
        int_param(request, "attempt"),
        now_ms(),
    )
    path = page.attempt["log_path"] if page.attempt else None
    data = read_log(
        api_context(request).store, path
    )  # the file, or the store's copy (other machine)
    if data is None:
        raise NotFound(f"Task run {task_run_id} has no log yet.")
    return PlainTextResponse(
        data.decode(errors="replace"),
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'",
        },
    )


@router.get("/runs/{run_id}/tasks/{task_run_id}/notebook.html")
@ui_errors
def executed_notebook(request: Request, run_id: int, task_run_id: int) -> Response:
    """An attempt's executed notebook as HTML, in a sandbox: notebook outputs may hold any
    HTML or script, which must not run with this site's origin (the session)."""
    who = signed_in(request)
    page = task_views.task_page(
        api_context(request).store,
        who,
        run_id,
        task_run_id,
        int_param(request, "attempt"),
        now_ms(),
    )
    saved = page.output.get("executed_notebook")
    if not saved or not Path(saved).exists():
        raise NotFound(f"Task run {task_run_id} has no executed notebook.")
    from headrace.notebook.export import to_html

    return HTMLResponse(
        to_html(Path(saved)),
        headers={
            "Content-Security-Policy": "sandbox; default-src 'none'; style-src 'unsafe-inline'; "
            "img-src data:; font-src data:",
            "X-Content-Type-Options": "nosniff",
        },
    )
