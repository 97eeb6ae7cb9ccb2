"""The Pipelines API subset under /api/2.0/pipelines: create, get, list, edit (PUT), delete,
start an update (POST .../updates), get-update and list-updates. See docs/pipelines.md."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from starlette.concurrency import run_in_threadpool

from headrace.api.auth import principal_of
from headrace.api.context import ctx_of
from headrace.engine import pipelines
from headrace.engine.jobs import Principal
from headrace.errors import SpecError, SpecIssue

router = APIRouter(prefix="/pipelines")
Who = Depends(principal_of)
JsonBody = Body(default_factory=dict)


def _home(request: Request) -> Any:
    return ctx_of(request).settings.home


def _store(request: Request) -> Any:
    """The server's store, with the home's old JSON pipelines moved into it (once)."""
    ctx = ctx_of(request)
    pipelines.adopt_json_files(ctx.store, ctx.settings.home)
    return ctx.store


def _settings(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise SpecError([SpecIssue("", "the body must be a JSON object of pipeline settings")])
    return body


@router.post("")
def create(request: Request, body: Any = JsonBody, who: Principal = Who) -> Any:
    settings = _settings(body)
    pipelines.check_settings(settings)  # every field named before the store is asked anything
    store = _store(request)
    name = settings.get("name")
    if name and not settings.get("allow_duplicate_names") and pipelines.find_by_name(store, name):
        raise SpecError([SpecIssue("name", f"a pipeline named {name!r} already exists")])
    if settings.get("dry_run"):
        return {"effective_settings": pipelines.check_settings(settings)}
    pipeline_id = pipelines.create_pipeline(store, settings, creator=who.user_name)
    spec = pipelines.get_pipeline(store, pipeline_id)["spec"]
    return {"pipeline_id": pipeline_id, "effective_settings": spec}


@router.get("")
def list_all(request: Request, who: Principal = Who) -> Any:
    return {"statuses": pipelines.list_pipelines(_store(request))}


@router.get("/{pipeline_id}")
def get(request: Request, pipeline_id: str, who: Principal = Who) -> Any:
    return pipelines.get_pipeline(_store(request), pipeline_id)


@router.put("/{pipeline_id}")
def edit(request: Request, pipeline_id: str, body: Any = JsonBody, who: Principal = Who) -> Any:
    settings = _settings(body)
    given = settings.get("pipeline_id") or settings.get("id")
    if given not in (None, pipeline_id):
        raise SpecError([SpecIssue("pipeline_id", f"does not match the path ({pipeline_id})")])
    pipelines.edit_pipeline(_store(request), pipeline_id, settings)
    return {}


@router.delete("/{pipeline_id}")
def delete(request: Request, pipeline_id: str, who: Principal = Who) -> Any:
    pipelines.delete_pipeline(_store(request), pipeline_id, _home(request))
    return {}


@router.post("/{pipeline_id}/updates")
async def start_update(
    request: Request, pipeline_id: str, body: Any = JsonBody, who: Principal = Who
) -> Any:
    body = body if isinstance(body, dict) else {}
    for field in ("refresh_selection", "full_refresh_selection"):
        if body.get(field):
            raise SpecError([SpecIssue(field, "not supported; refresh the whole pipeline")])
    full = body.get("full_refresh", False)
    if not isinstance(full, bool):
        raise SpecError([SpecIssue("full_refresh", "must be a boolean (true or false)")])
    update_id = await run_in_threadpool(
        pipelines.start_update, _store(request), _home(request), pipeline_id, full_refresh=full
    )
    return {"update_id": update_id}


@router.get("/{pipeline_id}/updates")
def list_updates(request: Request, pipeline_id: str, who: Principal = Who) -> Any:
    store = _store(request)
    pipelines.get_pipeline(store, pipeline_id)
    updates = [pipelines.public_update(u) for u in pipelines.list_updates(store, pipeline_id)]
    return {"updates": updates}


@router.get("/{pipeline_id}/updates/{update_id}")
def get_update(request: Request, pipeline_id: str, update_id: str, who: Principal = Who) -> Any:
    update = pipelines.get_update(_store(request), pipeline_id, update_id)
    return {"update": pipelines.public_update(update)}
