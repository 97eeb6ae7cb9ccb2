"""The UI's pages and forms: GET renders, POST acts (CSRF-checked) and redirects back.

Every action calls the engine (`engine.actions`, `engine.jobs`), the same functions the Jobs
API calls; a refused action (permission, conflict, bad input) comes back as a flash message
on the page, the engine's own words.

This module mounts the UI (`install`) and holds signing in and the jobs pages; the run pages
are in `run_pages.py`, what every page shares in `page_support.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from headrace.engine import actions
from headrace.engine.coordinator import now_ms
from headrace.errors import HeadraceError
from headrace.ui import run_pages, session, views
from headrace.ui.page_support import (
    PostedForm,
    Unsigned,
    api_context,
    checked_form,
    job_parameters,
    redirect_back,
    render,
    safe_next,
    signed_in,
    templates,
    ui_errors,
)

router = APIRouter(include_in_schema=False)
STATIC_DIR = Path(__file__).parent / "static"
JOBS_POLL_BUSY_MS, JOBS_POLL_IDLE_MS = 3_000, 15_000


def install(app: Any) -> None:
    """Mount the UI's pages, its static files and its exception handling on the API app."""
    from fastapi.staticfiles import StaticFiles

    app.include_router(router)
    app.mount("/ui-static", StaticFiles(directory=STATIC_DIR), name="ui-static")

    @app.exception_handler(Unsigned)
    def _to_sign_in(request: Request, _exc: Unsigned) -> Response:
        if request.url.path.endswith("/live"):  # the page script's JSON: it reloads
            return JSONResponse({"error": "signed out"}, status_code=401)
        if request.method != "GET":  # a form posted after the session ended: nothing was done
            return RedirectResponse("/login", status_code=303)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)


# --- signing in ------------------------------------------------------------------------------


@router.get("/login")
def login_page(request: Request) -> Response:
    return render(
        request,
        "login.html",
        who=None,
        next=safe_next(request.query_params.get("next")),
        error=None,
    )


@router.post("/login")
def login(request: Request, form: Any = PostedForm) -> Response:
    token = str(form.get("token", "")).strip()
    target = safe_next(str(form.get("next", "")))
    from headrace.api.auth import principal_for_token
    from headrace.api.errors import Unauthenticated

    if not token:
        return render(
            request, "login.html", status_code=400, who=None, next=target, error="token: required"
        )
    try:
        principal_for_token(api_context(request).store, token)
    except Unauthenticated as exc:
        return render(request, "login.html", status_code=401, who=None, next=target, error=str(exc))
    response = RedirectResponse(target, status_code=303)
    session.start_session(response, request, token)
    return response


@router.post("/logout")
@ui_errors
def logout(request: Request, form: Any = PostedForm) -> Response:
    checked_form(request, form)
    response = RedirectResponse("/login", status_code=303)
    session.end_session(response, request)
    return response


@router.get("/")
def home(request: Request) -> Response:
    signed_in(request)
    return RedirectResponse("/jobs", status_code=303)


# --- jobs ------------------------------------------------------------------------------------


@router.get("/jobs")
@ui_errors
def jobs_page(request: Request) -> Response:
    who = signed_in(request)
    filters = _job_filters(request)
    rows = views.job_rows(api_context(request).store, who, filters, now_ms())
    return render(
        request,
        "jobs.html",
        who=who,
        rows=rows,
        f=filters,
        q=filters.name,
        # The search only: a flash message is shown once, never carried into the live refresh.
        live_query=urlencode(
            [(k, v) for k, v in request.query_params.multi_items() if k in _JOB_SEARCH]
        ),
        job_states=views.JOB_STATES,
        nav="jobs",
    )


_JOB_SEARCH = frozenset({"q", "tag", "owner", "state"})


def _job_filters(request: Request) -> views.JobFilters:
    """The jobs search from the query string; an unknown state is refused by name."""
    q = request.query_params
    state = q.get("state", "")
    if state and state not in views.JOB_STATES:
        from headrace.errors import SpecError, SpecIssue

        raise SpecError([SpecIssue("state", f"must be one of {', '.join(views.JOB_STATES)}")])
    return views.JobFilters(
        name=q.get("q", ""), tag=q.get("tag", ""), owner=q.get("owner", ""), state=state
    )


@router.get("/jobs/live")
@ui_errors
def jobs_live(request: Request) -> Response:
    """The jobs table's body, for the page's script to swap in when it changed."""
    who = signed_in(request)
    rows = views.job_rows(api_context(request).store, who, _job_filters(request), now_ms())
    token = session.session_token(request) or ""
    html = (
        templates().get_template("_job_rows.html").render(rows=rows, csrf=session.csrf_token(token))
    )
    # Quick while something runs; slow otherwise (a big jobs page costs the server to build).
    busy = any(views.run_status(run).css in ("run", "wait") for r in rows for run in r.recent)
    return JSONResponse(
        {"html": {"job-rows": html}, "interval": JOBS_POLL_BUSY_MS if busy else JOBS_POLL_IDLE_MS}
    )


@router.get("/jobs/{job_id}")
@ui_errors
def job_detail(request: Request, job_id: int) -> Response:
    who = signed_in(request)
    page = views.job_page(api_context(request).store, who, job_id, now_ms())
    return render(request, "job.html", who=who, p=page, nav="jobs")


@router.post("/jobs/{job_id}/run-now")
@ui_errors
def run_now(request: Request, job_id: int, form: Any = PostedForm) -> Response:
    who = signed_in(request)
    form = checked_form(request, form)
    ctx = api_context(request)
    back = safe_next(str(form.get("back", f"/jobs/{job_id}")))
    try:
        run_id = actions.run_job_now(
            ctx.store, ctx.coordinator, who, job_id, parameters=job_parameters(form)
        )
    except HeadraceError as exc:
        return redirect_back(request, back, str(exc), "error")
    return redirect_back(request, f"/runs/{run_id}", f"Run {run_id} started.")


@router.post("/jobs/{job_id}/pause")
@ui_errors
def pause(request: Request, job_id: int, form: Any = PostedForm) -> Response:
    return _set_paused(request, job_id, True, form)


@router.post("/jobs/{job_id}/unpause")
@ui_errors
def unpause(request: Request, job_id: int, form: Any = PostedForm) -> Response:
    return _set_paused(request, job_id, False, form)


def _set_paused(request: Request, job_id: int, paused: bool, form: Any) -> Response:
    who = signed_in(request)
    checked_form(request, form)
    try:
        cap = api_context(request).settings.max_continuous_jobs_per_user
        actions.set_paused(api_context(request).store, who, job_id, paused, max_continuous=cap)
    except HeadraceError as exc:
        return redirect_back(request, f"/jobs/{job_id}", str(exc), "error")
    return redirect_back(request, f"/jobs/{job_id}", "Paused." if paused else "Unpaused.")


@router.post("/jobs/{job_id}/delete")
@ui_errors
def delete_job(request: Request, job_id: int, form: Any = PostedForm) -> Response:
    who = signed_in(request)
    form = checked_form(request, form)
    ctx = api_context(request)
    if form.get("confirm") != "yes":
        return redirect_back(
            request, f"/jobs/{job_id}", "Tick the box to confirm the deletion.", "error"
        )
    try:
        ctx.kill(actions.delete_job(ctx.store, ctx.coordinator, who, job_id), "CANCELED")
    except HeadraceError as exc:
        return redirect_back(request, f"/jobs/{job_id}", str(exc), "error")
    return redirect_back(request, "/jobs", f"Job {job_id} deleted.")


# The run pages come after the jobs pages, in the order they always had.
router.include_router(run_pages.router)
