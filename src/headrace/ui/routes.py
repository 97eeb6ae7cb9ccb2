"""The UI's pages and forms: GET renders, POST acts (CSRF-checked) and redirects back.

Every action calls the engine (`engine.actions`, `engine.jobs`), the same functions the Jobs
API calls; a refused action (permission, conflict, bad input) comes back as a flash message
on the page, the engine's own words.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)

from headrace.api.context import ApiContext
from headrace.engine import actions
from headrace.engine.coordinator import now_ms
from headrace.engine.jobs import Principal
from headrace.engine.logs import read_log
from headrace.errors import HeadraceError, NotFound, PermissionDenied
from headrace.ui import session, views
from headrace.ui.run_cells import run_cells

router = APIRouter(include_in_schema=False)
STATIC_DIR = Path(__file__).parent / "static"
TEMPLATES_DIR = Path(__file__).parent / "templates"
LIVE_LOG_CHUNK = 256 * 1024
JOBS_POLL_BUSY_MS, JOBS_POLL_IDLE_MS = 3_000, 15_000
_env: Any = None


def _templates() -> Any:
    """The Jinja2 environment, made on first use (the CLI never imports jinja2)."""
    global _env
    if _env is None:
        import jinja2

        _env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
            autoescape=True,  # every template is HTML: user text is always escaped
            trim_blocks=True,
            lstrip_blocks=True,
        )
        _env.globals.update(
            fmt_time=views.fmt_time,
            fmt_duration=views.fmt_duration,
            api_status=views.api_status,
            run_status=views.run_status,
            may=views.may,
            state_filters=views.STATE_FILTERS,
            run_cells=run_cells,
        )
    return _env


class Unsigned(Exception):
    """The request has no valid session: send the browser to the sign-in page."""


def _ctx(request: Request) -> ApiContext:
    return request.app.state.ctx


def _who(request: Request) -> Principal:
    who = session.principal_of_session(request)
    if who is None:
        raise Unsigned()
    return who


def _render(request: Request, name: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    token = session.session_token(request)
    values.setdefault("nav", "")
    flash, flash_kind = _flash(request)
    html = (
        _templates()
        .get_template(name)
        .render(
            request=request,
            csrf=session.csrf_token(token) if token else "",
            flash=flash,
            flash_kind=flash_kind,
            **values,
        )
    )
    return HTMLResponse(html, status_code=status_code, headers=_SECURITY_HEADERS)


_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        # Inline style attributes only place timeline bars; scripts stay 'self' only.
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _back(
    request: Request, path: str, message: str | None = None, kind: str = "info"
) -> RedirectResponse:
    """Redirect after a form, with a message for the next page. The message is signed with
    the session, so a link made elsewhere cannot put words on this site's pages."""
    if message:
        sep = "&" if "?" in path else "?"
        signed = session.sign(request, f"{kind}:{message}")
        path = f"{path}{sep}{urlencode({'flash': message, 'kind': kind, 'sig': signed})}"
    return RedirectResponse(path, status_code=303)


def _flash(request: Request) -> tuple[str | None, str]:
    """The message a redirect carried here, if its signature holds."""
    q = request.query_params
    message, kind = q.get("flash"), q.get("kind", "info")
    if not message or not session.signed_ok(request, f"{kind}:{message}", q.get("sig")):
        return None, "info"
    return message, kind


async def _posted_form(request: Request) -> Any:
    """The posted form (a dependency: read on the event loop, so the handler can be a plain
    function that FastAPI runs in its thread pool, away from the loop).

    A form posted from another site's page is refused here, before anything else: browsers
    name the page's origin, and it must be this server (this also keeps another site from
    signing a visitor in with its own token). Raises: PermissionDenied."""
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        from urllib.parse import urlsplit

        if urlsplit(origin).netloc != request.headers.get("host", ""):
            raise PermissionDenied(f"Forms are accepted from this site only, not from {origin}.")
    return await request.form()


PostedForm = Depends(_posted_form)


def _form(request: Request, form: Any) -> Any:
    """The form, after the CSRF check. Raises: PermissionDenied."""
    if not session.csrf_ok(request, form.get(session.CSRF_FIELD)):
        raise PermissionDenied("The form expired or did not come from this site; reload and retry.")
    return form


def _error_page(request: Request, exc: HeadraceError) -> HTMLResponse:
    code = 404 if isinstance(exc, NotFound) else 403 if isinstance(exc, PermissionDenied) else 400
    who = session.principal_of_session(request)
    return _render(request, "error.html", status_code=code, who=who, message=str(exc), code=code)


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


def _ui_errors(handler: Any) -> Any:
    """Engine errors on a UI page render an error page (the API's JSON handler is not for people)."""
    import functools

    # Handlers are plain functions: FastAPI runs them in its thread pool, so store reads and
    # engine calls never block the event loop (forms are read by the PostedForm dependency).
    @functools.wraps(handler)
    def wrapped(request: Request, *args: Any, **kwargs: Any) -> Any:
        try:
            return handler(request, *args, **kwargs)
        except HeadraceError as exc:
            return _error_page(request, exc)

    return wrapped


# --- signing in ------------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    """Only a local path: never an open redirect to another site. (Browsers drop tabs and
    newlines from URLs and read a backslash as a slash, so `/\t/evil` would become `//evil`.)"""
    from urllib.parse import urlsplit

    if (
        target
        and target.startswith("/")
        and target.isprintable()
        and not any(c in target for c in " \\")
    ):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and not target.startswith("//"):
            return target
    return "/jobs"


@router.get("/login")
def login_page(request: Request) -> Response:
    return _render(
        request,
        "login.html",
        who=None,
        next=_safe_next(request.query_params.get("next")),
        error=None,
    )


@router.post("/login")
def login(request: Request, form: Any = PostedForm) -> Response:
    token = str(form.get("token", "")).strip()
    target = _safe_next(str(form.get("next", "")))
    from headrace.api.auth import principal_for_token
    from headrace.api.errors import Unauthenticated

    if not token:
        return _render(
            request, "login.html", status_code=400, who=None, next=target, error="token: required"
        )
    try:
        principal_for_token(_ctx(request).store, token)
    except Unauthenticated as exc:
        return _render(
            request, "login.html", status_code=401, who=None, next=target, error=str(exc)
        )
    response = RedirectResponse(target, status_code=303)
    session.start_session(response, request, token)
    return response


@router.post("/logout")
@_ui_errors
def logout(request: Request, form: Any = PostedForm) -> Response:
    _form(request, form)
    response = RedirectResponse("/login", status_code=303)
    session.end_session(response, request)
    return response


@router.get("/")
def home(request: Request) -> Response:
    _who(request)
    return RedirectResponse("/jobs", status_code=303)


# --- jobs ------------------------------------------------------------------------------------


@router.get("/jobs")
@_ui_errors
def jobs_page(request: Request) -> Response:
    who = _who(request)
    filters = _job_filters(request)
    rows = views.job_rows(_ctx(request).store, who, filters, now_ms())
    return _render(
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
@_ui_errors
def jobs_live(request: Request) -> Response:
    """The jobs table's body, for the page's script to swap in when it changed."""
    who = _who(request)
    rows = views.job_rows(_ctx(request).store, who, _job_filters(request), now_ms())
    token = session.session_token(request) or ""
    html = (
        _templates()
        .get_template("_job_rows.html")
        .render(rows=rows, csrf=session.csrf_token(token))
    )
    # Quick while something runs; slow otherwise (a big jobs page costs the server to build).
    busy = any(views.run_status(run).css in ("run", "wait") for r in rows for run in r.recent)
    return JSONResponse(
        {"html": {"job-rows": html}, "interval": JOBS_POLL_BUSY_MS if busy else JOBS_POLL_IDLE_MS}
    )


@router.get("/jobs/{job_id}")
@_ui_errors
def job_detail(request: Request, job_id: int) -> Response:
    who = _who(request)
    page = views.job_page(_ctx(request).store, who, job_id, now_ms())
    return _render(request, "job.html", who=who, p=page, nav="jobs")


def _job_parameters(form: Any) -> dict[str, str]:
    prefix = "param."
    return {k[len(prefix) :]: str(v) for k, v in form.items() if k.startswith(prefix)}


@router.post("/jobs/{job_id}/run-now")
@_ui_errors
def run_now(request: Request, job_id: int, form: Any = PostedForm) -> Response:
    who = _who(request)
    form = _form(request, form)
    ctx = _ctx(request)
    back = _safe_next(str(form.get("back", f"/jobs/{job_id}")))
    try:
        run_id = actions.run_job_now(
            ctx.store, ctx.coordinator, who, job_id, parameters=_job_parameters(form)
        )
    except HeadraceError as exc:
        return _back(request, back, str(exc), "error")
    return _back(request, f"/runs/{run_id}", f"Run {run_id} started.")


@router.post("/jobs/{job_id}/pause")
@_ui_errors
def pause(request: Request, job_id: int, form: Any = PostedForm) -> Response:
    return _set_paused(request, job_id, True, form)


@router.post("/jobs/{job_id}/unpause")
@_ui_errors
def unpause(request: Request, job_id: int, form: Any = PostedForm) -> Response:
    return _set_paused(request, job_id, False, form)


def _set_paused(request: Request, job_id: int, paused: bool, form: Any) -> Response:
    who = _who(request)
    _form(request, form)
    try:
        cap = _ctx(request).settings.max_continuous_jobs_per_user
        actions.set_paused(_ctx(request).store, who, job_id, paused, max_continuous=cap)
    except HeadraceError as exc:
        return _back(request, f"/jobs/{job_id}", str(exc), "error")
    return _back(request, f"/jobs/{job_id}", "Paused." if paused else "Unpaused.")


@router.post("/jobs/{job_id}/delete")
@_ui_errors
def delete_job(request: Request, job_id: int, form: Any = PostedForm) -> Response:
    who = _who(request)
    form = _form(request, form)
    ctx = _ctx(request)
    if form.get("confirm") != "yes":
        return _back(request, f"/jobs/{job_id}", "Tick the box to confirm the deletion.", "error")
    try:
        ctx.kill(actions.delete_job(ctx.store, ctx.coordinator, who, job_id), "CANCELED")
    except HeadraceError as exc:
        return _back(request, f"/jobs/{job_id}", str(exc), "error")
    return _back(request, "/jobs", f"Job {job_id} deleted.")


# --- runs ------------------------------------------------------------------------------------


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


def _int_param(request: Request, name: str, minimum: int = 0) -> int | None:
    from headrace.errors import SpecError, SpecIssue

    raw = request.query_params.get(name)
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or int(raw) < minimum:
        raise SpecError([SpecIssue(name, f"must be a whole number, got {raw!r}")])
    return int(raw)


@router.get("/runs")
@_ui_errors
def runs_list(request: Request) -> Response:
    who = _who(request)
    q = request.query_params
    state = q.get("state", "")
    if state and state not in views.STATE_FILTERS:
        from headrace.errors import SpecError, SpecIssue

        raise SpecError([SpecIssue("state", f"must be one of {', '.join(views.STATE_FILTERS)}")])
    job_id = _int_param(request, "job_id")
    page = views.runs_page(
        _ctx(request).store,
        who,
        job_id=job_id,
        state=state,
        start_from=_ms_of(q.get("from"), "from"),
        start_to=_ms_of(q.get("to"), "to"),
        page=_int_param(request, "page") or 0,
        search=views.RunSearch(name=q.get("q", ""), owner=q.get("owner", ""), tag=q.get("tag", "")),
    )
    filters = {k: q.get(k, "") for k in ("state", "job_id", "from", "to", "q", "owner", "tag")}
    return _render(request, "runs.html", who=who, p=page, filters=filters, nav="runs")


@router.get("/runs/{run_id}")
@_ui_errors
def run_detail(request: Request, run_id: int) -> Response:
    who = _who(request)
    page = views.run_page(_ctx(request).store, who, run_id, now_ms())
    return _render(request, "run.html", who=who, p=page, nav="runs")


@router.get("/runs/{run_id}/live")
@_ui_errors
def run_live(request: Request, run_id: int) -> Response:
    """A running run's state: each task's look and the page's changing parts as HTML."""
    who = _who(request)
    page = views.run_page(_ctx(request).store, who, run_id, now_ms())
    token = session.session_token(request) or ""
    env = _templates()
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
@_ui_errors
def cancel(request: Request, run_id: int, form: Any = PostedForm) -> Response:
    who = _who(request)
    _form(request, form)
    ctx = _ctx(request)
    try:
        ctx.kill(actions.cancel_run(ctx.store, ctx.coordinator, who, run_id), "CANCELED")
    except HeadraceError as exc:
        return _back(request, f"/runs/{run_id}", str(exc), "error")
    return _back(request, f"/runs/{run_id}", "Cancel requested.")


@router.post("/runs/{run_id}/repair")
@_ui_errors
def repair(request: Request, run_id: int, form: Any = PostedForm) -> Response:
    who = _who(request)
    form = _form(request, form)
    ctx = _ctx(request)
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
            job_parameters=_job_parameters(form) or None,
            latest_repair_id=int(str(latest)) if latest else None,
        )
    except HeadraceError as exc:
        return _back(request, f"/runs/{run_id}", str(exc), "error")
    return _back(request, f"/runs/{run_id}", f"Repairing {len(tasks)} task(s).")


@router.post("/runs/{run_id}/run-again")
@_ui_errors
def run_again(request: Request, run_id: int, form: Any = PostedForm) -> Response:
    """A new run of the run's job with the same job parameters."""
    who = _who(request)
    _form(request, form)
    ctx = _ctx(request)
    with ctx.store.read() as conn:
        run = actions.require_run(conn, who, run_id, "CAN_VIEW")
    if run.job_id is None:
        return _back(request, f"/runs/{run_id}", "Only runs of a job can be run again.", "error")
    try:
        new_id = actions.run_job_now(
            ctx.store, ctx.coordinator, who, run.job_id, parameters=run.parameters
        )
    except HeadraceError as exc:
        return _back(request, f"/runs/{run_id}", str(exc), "error")
    return _back(request, f"/runs/{new_id}", f"Run {new_id} started.")


# --- one task run ----------------------------------------------------------------------------


@router.get("/runs/{run_id}/tasks/{task_run_id}")
@_ui_errors
def task_detail(request: Request, run_id: int, task_run_id: int) -> Response:
    who = _who(request)
    attempt = _int_param(request, "attempt")
    page = views.task_page(_ctx(request).store, who, run_id, task_run_id, attempt, now_ms())
    return _render(request, "task.html", who=who, p=page, nav="runs", pinned=attempt)


@router.get("/runs/{run_id}/tasks/{task_run_id}/live")
@_ui_errors
def task_live(request: Request, run_id: int, task_run_id: int) -> Response:
    """A running task's head (state, attempts, error) as HTML for the page's script."""
    who = _who(request)
    attempt = _int_param(request, "attempt")
    page = views.task_page(_ctx(request).store, who, run_id, task_run_id, attempt, now_ms())
    html = _templates().get_template("_task_head.html").render(p=page)
    return JSONResponse(
        {"active": page.status.active or page.status.css == "wait", "html": {"task-head": html}}
    )


@router.get("/runs/{run_id}/tasks/{task_run_id}/log/live")
@_ui_errors
def task_log_live(request: Request, run_id: int, task_run_id: int) -> Response:
    """What an attempt's log gained since `offset`; once it is drained and a retry started,
    `next_attempt` says which attempt to follow next."""
    who = _who(request)
    attempt = _int_param(request, "attempt")
    page = views.task_page(_ctx(request).store, who, run_id, task_run_id, attempt, now_ms())
    offset = _int_param(request, "offset") or 0
    path = page.attempt["log_path"] if page.attempt else None
    text, new_offset = actions.read_log_from(
        path, offset, LIVE_LOG_CHUNK, store=_ctx(request).store
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
@_ui_errors
def task_log_full(request: Request, run_id: int, task_run_id: int) -> Response:
    """The whole log of one attempt, as plain text (never rendered as HTML)."""
    who = _who(request)
    page = views.task_page(
        _ctx(request).store, who, run_id, task_run_id, _int_param(request, "attempt"), now_ms()
    )
    path = page.attempt["log_path"] if page.attempt else None
    data = read_log(_ctx(request).store, path)  # the file, or the store's copy (other machine)
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
@_ui_errors
def executed_notebook(request: Request, run_id: int, task_run_id: int) -> Response:
    """An attempt's executed notebook as HTML, in a sandbox: notebook outputs may hold any
    HTML or script, which must not run with this site's origin (the session)."""
    who = _who(request)
    page = views.task_page(
        _ctx(request).store, who, run_id, task_run_id, _int_param(request, "attempt"), now_ms()
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
