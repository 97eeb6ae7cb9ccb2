"""The job builder's YAML tab (issue 17): create a job or edit one's settings as YAML text,
through the same validation as the Jobs API (`engine.jobs.create_job` / `reset_job`); and a
diff between any two versions of a job.

A save is one engine call in one transaction: either the whole new version is stored or
nothing is, and the page comes back with the text as typed and each error next to its field
path.
"""

from __future__ import annotations

import difflib
import functools
from itertools import pairwise
from typing import Any

from fastapi import APIRouter, Request, Response

from headrace.errors import SpecError, SpecIssue
from headrace.ui import builder_save
from headrace.ui.page_support import (
    PostedForm,
    api_context,
    checked_form,
    redirect_back,
    render,
    signed_in,
    ui_errors,
)

router = APIRouter()

STARTER = """\
name: my job
tasks:
  - task_key: first
    shell_command_task:
      command: echo hello
"""


def _without_nulls(value: Any) -> Any:
    """Settings minus null and empty fields (they mean the default); False and 0 are kept,
    since a saved YAML must say exactly what the job sets."""
    if isinstance(value, dict):
        kept = {k: _without_nulls(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v is not None and v != [] and v != {}}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


@functools.cache
def _defaults() -> tuple[dict[str, Any], dict[str, Any]]:
    """What the stored settings of a job and of a task hold when nothing is set."""
    import json

    from headrace.engine.run_plan import settings_to_json
    from headrace.spec.loader import parse_job_settings

    task = {"task_key": "t", "shell_command_task": {"command": "x"}}
    stored = json.loads(settings_to_json(parse_job_settings({"name": "x", "tasks": [task]})))
    job = {k: v for k, v in stored.items() if k not in ("name", "tasks")}
    (one,) = stored["tasks"]
    return job, {k: v for k, v in one.items() if k not in ("task_key", "shell_command_task")}


def _without_defaults(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings minus the job and task fields at their default value: what the job sets.
    Saving the text back gives the same settings (an omitted field takes its default)."""
    job_defaults, task_defaults = _defaults()
    out = {k: v for k, v in settings.items() if k not in job_defaults or job_defaults[k] != v}
    if isinstance(settings.get("tasks"), list):
        out["tasks"] = [
            {k: v for k, v in t.items() if k not in task_defaults or task_defaults[k] != v}
            if isinstance(t, dict)
            else t
            for t in settings["tasks"]
        ]
    return out


def settings_yaml(settings: dict[str, Any]) -> str:
    import yaml

    concise = _without_nulls(_without_defaults(settings))
    return yaml.safe_dump(concise, sort_keys=False, allow_unicode=True, width=100)


def parse_yaml(text: str) -> dict[str, Any]:
    """The settings in the text. Raises: SpecError (YAML syntax, with its line; not a mapping)."""
    import yaml

    from headrace.spec.bounds import load_yaml

    try:
        data = load_yaml(text)  # hostile YAML (alias bombs, deep nesting) is refused
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError([SpecIssue("yaml", f"{where}{problem}")]) from None
    if not isinstance(data, dict):
        raise SpecError([SpecIssue("yaml", "must be a mapping of job settings (name, tasks, …)")])
    return data


def _issues(exc: SpecError) -> list[SpecIssue]:
    return exc.issues or [SpecIssue("", str(exc))]


def line_of(text: str, path: str) -> int | None:
    """The line (1-based) of the YAML text where a field path such as
    `tasks[2].shell_command_task.command` is written, or of its nearest written parent."""
    import re

    import yaml

    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    if node is None or not path or path == "yaml":
        return None
    line = None
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        child = None
        if name and isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if getattr(k, "value", None) == name), None)
            key = next((k for k, _ in node.value if getattr(k, "value", None) == name), None)
            if key is not None:
                line = key.start_mark.line + 1
        elif index and isinstance(node, yaml.SequenceNode) and int(index) < len(node.value):
            child = node.value[int(index)]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line


def _editor(
    request: Request,
    who: Any,
    *,
    job: Any,
    text: str,
    issues: list[SpecIssue] | None = None,
    version: int | None = None,
) -> Response:
    graph, cycle = _preview(text, issues or [])
    lines = {i.path: line_of(text, i.path) for i in issues or []}
    return render(
        request,
        "job_edit.html",
        status_code=400 if issues else 200,
        who=who,
        job=job,
        text=text,
        issues=issues or [],
        version=version,
        graph=graph,
        cycle=cycle,
        lines=lines,
        marked={"nodes": set(cycle), "edges": set(pairwise(cycle))},
        nav="jobs",
    )


def _preview(text: str, issues: list[SpecIssue]) -> tuple[Any, list[str]]:
    """The task graph of the text as it stands (None if it does not parse), and the
    dependency cycle an error names (drawn outlined on it)."""
    cycle = cycle_in(issues)
    try:
        data = parse_yaml(text)
    except SpecError:
        return None, cycle
    return graph_of(data), cycle


def cycle_in(issues: list[SpecIssue]) -> list[str]:
    """The dependency cycle an error names (task keys, first one repeated at the end)."""
    import re

    for issue in issues:
        found = re.search(r"dependency cycle: (.+)$", issue.message)
        if found:
            return [k.strip() for k in found.group(1).split("->")]
    return []


def graph_of(data: dict[str, Any]) -> Any:
    """The task graph of settings as they stand (well-formed tasks and edges only)."""
    import copy

    from headrace.ui.graph import layout

    tasks = [
        copy.deepcopy(t)
        for t in data.get("tasks") or []
        if isinstance(t, dict) and isinstance(t.get("task_key"), str)
    ]
    for t in tasks:  # keep only well-formed dependencies for the drawing
        deps = t.get("depends_on")
        t["depends_on"] = (
            [d for d in deps if isinstance(d, dict) and isinstance(d.get("task_key"), str)]
            if isinstance(deps, list)
            else []
        )
    return layout(tasks) if tasks else None


@router.get("/new-job")
@ui_errors
def new_job(request: Request) -> Response:
    return _editor(request, signed_in(request), job=None, text=STARTER)


@router.post("/new-job")
@ui_errors
def create_job(request: Request, form: Any = PostedForm) -> Response:
    from headrace.engine import jobs as job_service

    who = signed_in(request)
    checked_form(request, form)
    text = str(form.get("yaml", ""))
    ctx = api_context(request)
    try:
        settings = parse_yaml(text)
        cap = ctx.settings.max_continuous_jobs_per_user
        job_id = job_service.create_job(ctx.store, who, settings, max_continuous=cap)
    except SpecError as exc:
        return _editor(request, who, job=None, text=text, issues=_issues(exc))
    return redirect_back(request, f"/jobs/{job_id}", "Job created (version 1).")


@router.get("/jobs/{job_id}/edit")
@ui_errors
def edit_job(request: Request, job_id: int) -> Response:
    from headrace.engine.jobs import require
    from headrace.store import jobs as job_store

    who = signed_in(request)
    store = api_context(request).store
    with store.read() as conn:
        job = require(conn, who, job_id, "CAN_MANAGE")
        version = job_store.latest_version(conn, job_id)
    return _editor(request, who, job=job, text=settings_yaml(job.settings), version=version)


@router.post("/jobs/{job_id}/edit")
@ui_errors
def save_job(request: Request, job_id: int, form: Any = PostedForm) -> Response:
    from headrace.engine import jobs as job_service
    from headrace.store import jobs as job_store

    who = signed_in(request)
    checked_form(request, form)
    text = str(form.get("yaml", ""))
    ctx = api_context(request)
    with ctx.store.read() as conn:
        job = job_service.require(conn, who, job_id, "CAN_MANAGE")
        before = job_store.latest_version(conn, job_id)
    if str(form.get("version", "")) != str(before):
        issue = SpecIssue(
            "version",
            f"the job was saved by someone else since you opened it (now version {before}); "
            "your text is below: copy your changes, reload and apply them again",
        )
        return _editor(request, who, job=job, text=text, issues=[issue], version=before)
    try:
        builder_save.save(ctx, who, job_id, parse_yaml(text))  # with access_control_list
    except SpecError as exc:
        return _editor(request, who, job=job, text=text, issues=_issues(exc), version=before)
    with ctx.store.read() as conn:
        after = job_store.latest_version(conn, job_id)
    return redirect_back(
        request, f"/jobs/{job_id}/versions?to={after}", f"Saved as version {after}."
    )


@router.get("/jobs/{job_id}/versions")
@ui_errors
def versions(request: Request, job_id: int) -> Response:
    from headrace.engine.jobs import require
    from headrace.store import jobs as job_store

    who = signed_in(request)
    with api_context(request).store.read() as conn:
        job = require(conn, who, job_id, "CAN_VIEW")
        found = job_store.versions(conn, job_id)
    numbers = [v["version"] for v in found]
    latest = numbers[-1] if numbers else None
    to = _version_param(request, "to", numbers, latest)
    default_from = max((n for n in numbers if to is not None and n < to), default=to)
    since = _version_param(request, "from", numbers, default_from)
    by_number = {v["version"]: v for v in found}
    lines: list[tuple[str, str]] = []
    if since is not None and to is not None:
        old = settings_yaml(by_number[since]["settings"]).splitlines()
        new = settings_yaml(by_number[to]["settings"]).splitlines()
        for line in difflib.unified_diff(
            old, new, f"version {since}", f"version {to}", lineterm=""
        ):
            kind = (
                "meta"
                if line.startswith(("---", "+++", "@@"))
                else "add"
                if line.startswith("+")
                else "del"
                if line.startswith("-")
                else "same"
            )
            lines.append((kind, line))
    return render(
        request,
        "job_versions.html",
        who=who,
        job=job,
        versions=found,
        since=since,
        to=to,
        diff=lines,
        nav="jobs",
    )


def _version_param(request: Request, name: str, numbers: list[int], default: int | None) -> Any:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) not in numbers:
        raise SpecError([SpecIssue(name, f"must be one of the job's versions, got {raw!r}")])
    return int(raw)


def _include_form_tab() -> None:
    """The form tab's pages ride on this router (the app mounts this one)."""
    from headrace.ui.builder_form_pages import router as form_router

    router.include_router(form_router)


_include_form_tab()
