"""jobs/create, get, list, update, reset, delete, run-now."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from headrace.api.auth import bearer_token, principal_and_job, principal_of
from headrace.api.context import ctx_of
from headrace.api.params import (
    as_int,
    body_int,
    body_str,
    body_str_map,
    json_body,
    query_bool,
    query_int,
    queue_override,
)
from headrace.engine import actions, run_overrides
from headrace.engine import jobs as job_service
from headrace.engine.jobs import Principal
from headrace.errors import SpecError, SpecIssue
from headrace.spec.bounds import parameter_issues
from headrace.store.records import Job

router = APIRouter()
_MAX_OFFSET = 2**40
_MAX_PREV_SCAN = 100_000  # jobs read to find the previous page's cursor
Who = Depends(principal_of)
JsonBody = Depends(json_body)


def job_to_api(job: Job, *, with_tasks: bool = True) -> dict[str, Any]:
    """A stored job as the Jobs API `Job` object."""
    settings = {**job.settings, "format": "MULTI_TASK"}
    if not with_tasks:
        settings.pop("tasks", None)
        settings.pop("job_clusters", None)
    return {
        "job_id": job.job_id,
        "creator_user_name": job.creator_user_name,
        "run_as_user_name": job.creator_user_name,
        "created_time": job.created_time,
        "settings": settings,
    }


def _with_version_defaults(request: Request, settings: Any) -> Any:
    """Jobs created through 2.0/2.1 do not queue unless asked to (2.2 does; reference §6.11)."""
    legacy = request.url.path.startswith(("/api/2.0/", "/api/2.1/"))
    settings = run_overrides.single_task_form(settings, name_field="name")  # 2.0 job settings
    if legacy and isinstance(settings, dict) and "queue" not in settings:
        return {**settings, "queue": {"enabled": False}}
    return settings


@router.post("/jobs/create")
def create(request: Request, body: dict[str, Any] = JsonBody, who: Principal = Who) -> Any:
    body = _with_version_defaults(request, body)
    ctx = ctx_of(request)
    cap = ctx.settings.max_continuous_jobs_per_user
    job_id = job_service.create_job(ctx.store, who, body, max_continuous=cap)
    return {"job_id": job_id}


@router.get("/jobs/get")
def get(request: Request, who: Principal = Who) -> Any:
    job = job_service.get_job(ctx_of(request).store, who, query_int(request, "job_id"))
    return job_to_api(job)


@router.get("/jobs/list")
def list_jobs(request: Request, who: Principal = Who) -> Any:
    limit = query_int(request, "limit", 20, minimum=0) or 20
    if limit > 100:
        raise SpecError([SpecIssue("limit", "must be at most 100")])
    token = request.query_params.get("page_token")
    # `offset` (deprecated) counts the visible jobs to skip; a page token is a job id cursor.
    # (Capped so the store's LIMIT stays an int64; no store holds that many jobs.)
    offset = 0 if token else min(query_int(request, "offset", 0, minimum=0), _MAX_OFFSET)
    after = _page_token(token) if token else 0
    expand = query_bool(request, "expand_tasks")
    name = request.query_params.get("name") or None
    jobs, more = job_service.list_jobs(
        ctx_of(request).store, who, name=name, after_id=after, limit=offset + limit
    )
    jobs = jobs[offset:]
    out: dict[str, Any] = {"jobs": [job_to_api(j, with_tasks=expand) for j in jobs]}
    out["has_more"] = more
    if more:
        out["next_page_token"] = str(jobs[-1].job_id)
    if token and after > 0:
        out["prev_page_token"] = _prev_page_token(request, who, name, after, limit)
    return out


def _prev_page_token(
    request: Request, who: Principal, name: str | None, after: int, limit: int
) -> str:
    """The cursor of the page before the one after job `after` ("0": the first page)."""
    earlier, _ = job_service.list_jobs(
        ctx_of(request).store, who, name=name, after_id=0, limit=_MAX_PREV_SCAN
    )
    ids = [j.job_id for j in earlier if j.job_id <= after]
    start = len(ids) - limit  # the previous page is ids[start:]; its cursor is the id before
    return str(ids[start - 1]) if start > 0 else "0"


def _page_token(token: str) -> int:
    if not (token.isascii() and token.isdigit()):
        raise SpecError([SpecIssue("page_token", f"not a page token of this server: {token!r}")])
    return as_int(token, "page_token")


@router.post("/jobs/update")
def update(request: Request, body: dict[str, Any] = JsonBody, who: Principal = Who) -> Any:
    job_service.update_job(
        ctx_of(request).store,
        who,
        body_int(body, "job_id"),
        body.get("new_settings"),
        body.get("fields_to_remove"),
        max_continuous=ctx_of(request).settings.max_continuous_jobs_per_user,
    )
    return {}


@router.post("/jobs/reset")
def reset(request: Request, body: dict[str, Any] = JsonBody, who: Principal = Who) -> Any:
    new_settings = _with_version_defaults(request, body.get("new_settings"))
    ctx = ctx_of(request)
    cap = ctx.settings.max_continuous_jobs_per_user
    job_service.reset_job(
        ctx.store, who, body_int(body, "job_id"), new_settings, max_continuous=cap
    )
    return {}


@router.post("/jobs/delete")
def delete(request: Request, body: dict[str, Any] = JsonBody, who: Principal = Who) -> Any:
    ctx = ctx_of(request)
    job_id = body_int(body, "job_id")
    ctx.kill(actions.delete_job(ctx.store, ctx.coordinator, who, job_id), "CANCELED")
    return {}


_RUN_NOW_FIELDS = {
    "job_id", "job_parameters", "idempotency_token", "queue", "performance_target",
    "python_params", "python_named_params",
    "notebook_params", "jar_params", "spark_submit_params", "sql_params", "dbt_commands",
    "pipeline_params", "only",
}  # fmt: skip


def _check_run_now_fields(body: dict[str, Any]) -> None:
    issues = [
        SpecIssue(k, "unknown field for jobs/run-now") for k in sorted(set(body) - _RUN_NOW_FIELDS)
    ]
    if issues:
        raise SpecError(issues)


def _run_now_settings(settings: dict[str, Any], body: dict[str, Any], has_job_params: bool) -> Any:
    """The job's settings with run-now's `only` and legacy task parameters applied."""
    chosen = run_overrides.select_only(settings, body.get("only"))
    return run_overrides.apply_legacy_params(chosen, body, has_job_params=has_job_params)


@router.post("/jobs/run-now")
def run_now(request: Request, body: dict[str, Any] = JsonBody) -> Any:
    # The hot route (issue 18). The token is checked here, in the endpoint's worker thread,
    # not by the `Who` dependency (a sync dependency costs a trip through the thread pool),
    # and in one statement with the job and its version; the errors come in the same order
    # as before: 401, then the body's 400s, then 404/403. The answer is a ready response (its
    # validation would be another trip).
    ctx = ctx_of(request)
    bearer = bearer_token(request)
    try:  # the body's checks need no store: done first, raised after the token's
        _check_run_now_fields(body)
        job_id = body_int(body, "job_id")
        too_big = parameter_issues(body.get("job_parameters"), "job_parameters")
        if too_big:
            raise SpecError(too_big)
        params = body_str_map(body, "job_parameters")
        token = body_str(body, "idempotency_token", max_len=64)
        queue = queue_override(body)
    except SpecError:
        principal_of(request)  # 401 comes first
        raise
    with ctx.store.read() as conn:
        who, job, version = principal_and_job(conn, bearer, job_id)
        stored = actions.job_to_run_now(conn, who, job_id, read=(job, version))
    run_id = actions.run_job_now(
        ctx.store,
        ctx.coordinator,
        who,
        job_id,
        parameters=params,
        idempotency_token=token,
        queue=queue,
        adjust=lambda settings: _run_now_settings(settings, body, bool(params)),
        stored=stored,
    )
    return JSONResponse({"run_id": run_id, "number_in_job": run_id})
