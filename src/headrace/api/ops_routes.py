"""Routes of issue 16: jobs/plan (plan preview) and jobs/backfill*.

Shapes are Headrace extensions (Databricks has no such endpoints), documented in
docs/plan-preview.md and docs/backfill.md.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from headrace.api.auth import principal_of
from headrace.api.context import ctx_of
from headrace.api.params import body_int, body_str_map, json_body
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
