"""Routes of issue 16: jobs/plan (plan preview) and jobs/backfill*.

Shapes are Headrace extensions (Databricks has no such endpoints), documented in
docs/plan-preview.md and docs/backfill.md.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from headrace.api.auth import principal_of
from headrace.api.context import ctx_of
from headrace.api.params import (
    body_bool,
    body_int,
    body_str,
    body_str_map,
    json_body,
    query_bool,
    query_int,
)
from headrace.engine import plan_preview
from headrace.engine.jobs import Principal
from headrace.errors import SpecError, SpecIssue

router = APIRouter()
Who = Depends(principal_of)
JsonBody = Depends(json_body)
_PLAN_FIELDS = {"job_id", "settings", "job_parameters"}


@router.post("/jobs/plan")
def plan(request: Request, body: dict[str, Any] = JsonBody, who: Principal = Who) -> Any:
    """The plan of a run of a stored job (`job_id`) or of unsaved `settings`; starts nothing."""
    from headrace.worker.plan_probe import environment_probe

    unknown = sorted(set(body) - _PLAN_FIELDS)
    if unknown:
        raise SpecError([SpecIssue(k, "unknown field for jobs/plan") for k in unknown])
    if ("job_id" in body) == ("settings" in body):
        raise SpecError([SpecIssue("job_id", "give exactly one of job_id and settings")])
    ctx = ctx_of(request)
    params = body_str_map(body, "job_parameters")
    probe = environment_probe(ctx.settings.home)
    if "job_id" in body:
        job_id = body_int(body, "job_id")
        return plan_preview.preview_job(ctx.store, who, job_id, parameters=params, env_probe=probe)
    from headrace.spec.loader import parse_job_settings

    settings = parse_job_settings(body["settings"])
    return plan_preview.preview(settings, parameters=params, env_probe=probe)


_BACKFILL_FIELDS = {
    "job_id", "from", "to", "every", "max_concurrent", "reverse", "job_parameters", "rerun",
}  # fmt: skip


def _check_fields(body: dict[str, Any], allowed: set[str], endpoint: str) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise SpecError([SpecIssue(k, f"unknown field for {endpoint}") for k in unknown])


@router.post("/jobs/backfill")
def backfill(request: Request, body: dict[str, Any] = JsonBody, who: Principal = Who) -> Any:
    """One run per logical date from `from` to `to`; answers the backfill with its dates."""
    from headrace.engine import backfill as backfills

    _check_fields(body, _BACKFILL_FIELDS, "jobs/backfill")
    ctx = ctx_of(request)
    req = backfills.BackfillRequest(
        job_id=body_int(body, "job_id"),
        start=body_str(body, "from", max_len=64) or "",
        end=body_str(body, "to", max_len=64) or "",
        every=body_str(body, "every", max_len=16),
        max_concurrent=body_int(body, "max_concurrent", 1),
        reverse=body_bool(body, "reverse"),
        parameters=body_str_map(body, "job_parameters"),
        rerun=body_bool(body, "rerun"),
    )
    created = backfills.create_backfill(ctx.store, who, req)
    backfills.pump(ctx.store, ctx.coordinator, only=created["backfill_id"])  # start at once
    return backfills.get_progress(ctx.store, who, created["backfill_id"])


@router.get("/jobs/backfills/get")
def backfill_get(request: Request, who: Principal = Who) -> Any:
    from headrace.engine import backfill as backfills

    backfill_id = query_int(request, "backfill_id")
    return backfills.get_progress(ctx_of(request).store, who, backfill_id)


@router.get("/jobs/backfills/list")
def backfill_list(request: Request, who: Principal = Who) -> Any:
    from headrace.engine import backfill as backfills

    job_id = query_int(request, "job_id", None)
    dates = query_bool(request, "expand_dates")
    found = backfills.list_progress(ctx_of(request).store, who, job_id, with_dates=dates)
    return {"backfills": found}


@router.post("/jobs/backfills/cancel")
def backfill_cancel(request: Request, body: dict[str, Any] = JsonBody, who: Principal = Who) -> Any:
    from headrace.engine import backfill as backfills

    _check_fields(body, {"backfill_id"}, "jobs/backfills/cancel")
    ctx = ctx_of(request)
    backfill_id = body_int(body, "backfill_id")
    ctx.kill(backfills.cancel_backfill(ctx.store, ctx.coordinator, who, backfill_id), "CANCELED")
    return {}
