"""The job builder's form tab (issue 17): Create job and Edit with HTML forms.

GET renders the form of the settings; POST reads it back (`builder_form.settings_from_form`)
and does what its button says: save (through `builder_save`, the API's validation), add or
remove a task, redraw, or switch to the YAML tab with the same settings (and back). Without
a script everything works by posting; `static/builder.js` only shows the chosen task type's
fields and redraws the graph and the schedule's next fire times as you type
(`POST /job-form/preview`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from headrace.errors import HeadraceError, SpecError, SpecIssue
from headrace.ui import builder_form as bf
from headrace.ui import builder_save
from headrace.ui.builder import (
    _issues,
    _without_defaults,
    _without_nulls,
    cycle_in,
    graph_of,
    parse_yaml,
    settings_yaml,
)
from headrace.ui.page_support import (
    PostedForm,
    api_context,
    checked_form,
    redirect_back,
    render,
    signed_in,
    templates,
    ui_errors,
)

router = APIRouter()
STARTER: dict[str, Any] = {
    "name": "my job",
    "tasks": [{"task_key": "first", "shell_command_task": {"command": "echo hello"}}],
}
MAX_FILES = 2000  # workspace files offered by the pickers
MAX_JOBS = 500  # jobs offered by the run-job picker


def concise(settings: dict[str, Any]) -> dict[str, Any]:
    """Stored settings as the editors show them: only what the job sets."""
    return _without_nulls(_without_defaults(settings))


@router.get("/new-job/form")
@ui_errors
def new_job_form(request: Request) -> Response:
    return _page(request, signed_in(request), job=None, doc=dict(STARTER))


@router.post("/new-job/form")
@ui_errors
def post_new_job_form(request: Request, form: Any = PostedForm) -> Response:
    return _posted(request, form, None)


@router.get("/jobs/{job_id}/edit/form")
@ui_errors
def edit_job_form(request: Request, job_id: int) -> Response:
    from headrace.engine.jobs import require
    from headrace.store import jobs as job_store

    who = signed_in(request)
    ctx = api_context(request)
    with ctx.store.read() as conn:
        job = require(conn, who, job_id, "CAN_MANAGE")
        version = job_store.latest_version(conn, job_id)
    doc = concise(job.settings)
    doc[builder_save.ACL] = builder_save.current_grants(ctx, who, job_id)
    return _page(request, who, job=job, doc=doc, version=version)


@router.post("/jobs/{job_id}/edit/form")
@ui_errors
def post_edit_job_form(request: Request, job_id: int, form: Any = PostedForm) -> Response:
    return _posted(request, form, job_id)


@router.post("/job-form/preview")
@ui_errors
def preview(request: Request, form: Any = PostedForm) -> Response:
    """The graph and the trigger of the form as it stands (the page script's redraw)."""
    signed_in(request)
    checked_form(request, form)
    doc, _ = bf.settings_from_form({k: form.getlist(k) for k in form})
    parts = _preview_parts(doc, [])
    env = templates()
    return JSONResponse(
        {
            "graph": env.get_template("_form_graph.html").render(**parts),
            "schedule": env.get_template("_form_schedule.html").render(**parts),
        }
    )


def _posted(request: Request, form: Any, job_id: int | None) -> Response:
    from headrace.engine.jobs import require
    from headrace.store import jobs as job_store
    from headrace.ui.builder import _editor

    who = signed_in(request)
    checked_form(request, form)
    ctx = api_context(request)
    job, version = None, None
    if job_id is not None:
        with ctx.store.read() as conn:
            job = require(conn, who, job_id, "CAN_MANAGE")
            version = job_store.latest_version(conn, job_id)
    op = str(form.get("op") or "save")
    if op == "from_yaml":  # the YAML tab's "Form" button: its text, as a form
        text = str(form.get("yaml", ""))
        try:
            doc = parse_yaml(text)
        except SpecError as exc:
            return _editor(request, who, job=job, text=text, issues=_issues(exc), version=version)
        if job_id is not None and builder_save.ACL not in doc:
            doc[builder_save.ACL] = builder_save.current_grants(ctx, who, job_id)
        return _page(request, who, job=job, doc=doc, version=_version(form, version))
    fields = {k: form.getlist(k) for k in form}
    removed = str(form.get("remove") or "")
    if bf.is_index(removed):
        fields[f"task.{removed}.remove"] = ["1"]
        op = "refresh"
    doc, issues = bf.settings_from_form(fields)
    seen = _version(form, version)
    if op == "add_task":
        _add_task(doc)
        return _page(request, who, job=job, doc=doc, version=seen)
    if op == "to_yaml":
        text = settings_yaml(doc)
        if job_id is not None and doc.get(builder_save.ACL) == []:
            text += f"{builder_save.ACL}: []\n"  # no grants, said (absent: left unchanged)
        return _editor(request, who, job=job, text=text, version=seen)
    if op != "save" or issues:
        return _page(request, who, job=job, doc=doc, issues=issues, version=seen)
    try:
        if job_id is None:
            new_id = builder_save.create(ctx, who, doc)
            return redirect_back(request, f"/jobs/{new_id}", "Job created (version 1).")
        if seen != version:
            raise SpecError([_stale(version)])
        builder_save.save(ctx, who, job_id, doc)
    except SpecError as exc:
        return _page(request, who, job=job, doc=doc, issues=_issues(exc), version=seen)
    with ctx.store.read() as conn:
        after = job_store.latest_version(conn, job_id)
    return redirect_back(
        request, f"/jobs/{job_id}/versions?to={after}", f"Saved as version {after}."
    )


def _version(form: Any, current: int | None) -> int | None:
    raw = str(form.get("version") or "")
    return int(raw) if re.fullmatch(r"[0-9]{1,9}", raw) else current


def _stale(now: int | None) -> SpecIssue:
    return SpecIssue(
        "version",
        f"the job was saved by someone else since you opened it (now version {now}); "
        "reload the page and apply your changes again",
    )


def _add_task(doc: dict[str, Any]) -> None:
    tasks = doc.get("tasks") if isinstance(doc.get("tasks"), list) else []
    keys = {t.get("task_key") for t in tasks if isinstance(t, dict)}
    n = len(tasks) + 1
    while f"task_{n}" in keys:
        n += 1
    tasks.append({"task_key": f"task_{n}", "shell_command_task": {"command": ""}})
    doc["tasks"] = tasks


def _page(
    request: Request,
    who: Any,
    *,
    job: Any,
    doc: dict[str, Any],
    issues: list[SpecIssue] | None = None,
    version: int | None = None,
) -> Response:
    issues = issues or []
    model = bf.form_from_settings(doc)
    clusters = [
        c.get("job_cluster_key") for c in doc.get("job_clusters") or [] if isinstance(c, dict)
    ]
    envs = [e.get("environment_key") for e in doc.get("environments") or [] if isinstance(e, dict)]
    return render(
        request,
        "job_form.html",
        status_code=400 if issues else 200,
        who=who,
        job=job,
        version=version,
        m=model,
        issues=issues,
        placed=bf.place_issues(issues, model),
        bf=bf,
        files=_workspace_files(request),
        jobs=_jobs(request, who),
        cluster_keys=[k for k in clusters if k],
        env_keys=[k for k in envs if k],
        nav="jobs",
        **_preview_parts(doc, issues),
    )


def _preview_parts(doc: dict[str, Any], issues: list[SpecIssue]) -> dict[str, Any]:
    """The graph (a cycle outlined: the one a save was refused for, else the one the
    loader finds now) and the trigger in words with the next five fire times."""
    cycle = cycle_in(issues)
    if not cycle and doc.get("tasks"):
        from headrace.spec.loader import parse_job_settings

        try:
            parse_job_settings({k: v for k, v in doc.items() if k != builder_save.ACL})
        except SpecError as exc:
            cycle = cycle_in(exc.issues)
        except (TypeError, ValueError):
            pass
    return {
        "graph": graph_of(doc),
        "cycle": cycle,
        "marked": {"nodes": set(cycle), "edges": set(pairwise(cycle))},
        "trigger": _trigger(doc),
    }


def _trigger(doc: dict[str, Any]) -> dict[str, Any]:
    from zoneinfo import ZoneInfo

    from headrace.spec.cron import next_fire_time, quartz_error, timezone_error
    from headrace.ui.cron_words import describe_trigger

    try:
        words = describe_trigger(doc)
    except (AttributeError, TypeError):  # half-typed trigger settings
        words = ""
    out: dict[str, Any] = {"words": words, "next": [], "error": None}
    schedule = doc.get("schedule")
    if not isinstance(schedule, dict) or "continuous" in doc:
        return out
    expr = str(schedule.get("quartz_cron_expression") or "")
    zone = str(schedule.get("timezone_id") or "UTC")
    out["error"] = quartz_error(expr) or timezone_error(zone)
    if out["error"]:
        out["words"] = ""
        return out
    at = datetime.now(UTC)
    try:
        for _ in range(5):
            at = next_fire_time(expr, zone, at)
            out["next"].append(at.astimezone(ZoneInfo(zone)).strftime("%a %Y-%m-%d %H:%M:%S %Z"))
    except HeadraceError as exc:
        out["error"] = out["error"] or (None if out["next"] else str(exc))
    return out


def _workspace_files(request: Request) -> list[str]:
    """Workspace paths the notebook and file pickers offer (notebooks also without their
    extension, as jobs name them)."""
    from headrace.engine import workspace

    root = workspace.workspace_root(api_context(request).settings)
    try:
        base = workspace.local_path(root, "/")
    except SpecError:
        return []
    if not base.is_dir():
        return []
    import os
    from pathlib import Path

    found: list[str] = []
    for folder, dirs, files in os.walk(base):  # stops at MAX_FILES: a big tree is not read whole
        dirs.sort()
        for name in sorted(files):
            path = workspace.workspace_path_of(root, Path(folder) / name)
            found.append(path)
            if Path(name).suffix in (".py", ".ipynb", ".sql", ".scala", ".r"):
                found.append(path.rsplit(".", 1)[0])
            if len(found) >= MAX_FILES:
                return found
    return found


def _jobs(request: Request, who: Any) -> list[tuple[int, str]]:
    from headrace.engine.jobs import list_jobs

    found, _more = list_jobs(api_context(request).store, who, name=None, after_id=0, limit=MAX_JOBS)
    return [(j.job_id, j.name) for j in found]
