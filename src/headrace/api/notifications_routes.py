"""Notification destinations (`/api/2.0/notification-destinations`, what the SDK's
`w.notification_destinations` calls) and the delivery log of a run's notifications.

Only admins create, change or delete destinations and see their config (secrets are never
returned, as on Databricks); any signed-in user may list them to reference their ids.
`GET /api/2.0/headrace/notifications?run_id=N` lists a run's deliveries (attempts, errors)
for anyone who may view the run — the run page's data source.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request

from headrace.api.auth import principal_of
from headrace.api.context import ctx_of
from headrace.api.errors import ResourceMissing
from headrace.api.params import as_int
from headrace.engine.actions import require_run
from headrace.engine.coordinator import now_ms
from headrace.engine.jobs import Principal
from headrace.errors import NotFound
from headrace.notify import destinations as service
from headrace.notify.views import notification_to_api
from headrace.store import notifications as outbox

router = APIRouter()
Who = Depends(principal_of)
JsonBody = Body(default_factory=dict)


@router.post("/notification-destinations")
def create_destination(
    request: Request, body: dict[str, Any] = JsonBody, who: Principal = Who
) -> Any:
    dest = service.create(
        ctx_of(request).store,
        display_name=body.get("display_name"),
        config=body.get("config"),
        who=who.user_name,
        admin=who.admin,
        now=now_ms(),
    )
    return service.to_api(dest, with_config=True)


@router.get("/notification-destinations")
def list_destinations(request: Request, who: Principal = Who) -> Any:
    with ctx_of(request).store.read() as conn:
        found = outbox.list_destinations(conn)
    return {"results": [service.to_api(d, with_config=False) for d in found]}


@router.get("/notification-destinations/{destination_id}")
def get_destination(request: Request, destination_id: str, who: Principal = Who) -> Any:
    try:
        with ctx_of(request).store.read() as conn:
            dest = outbox.get_destination(conn, destination_id)
    except NotFound as exc:
        raise ResourceMissing(str(exc)) from None
    return service.to_api(dest, with_config=who.admin)


@router.patch("/notification-destinations/{destination_id}")
def update_destination(
    request: Request, destination_id: str, body: dict[str, Any] = JsonBody, who: Principal = Who
) -> Any:
    try:
        dest = service.update(
            ctx_of(request).store,
            destination_id,
            display_name=body.get("display_name"),
            config=body.get("config"),
            who=who.user_name,
            admin=who.admin,
        )
    except NotFound as exc:
        raise ResourceMissing(str(exc)) from None
    return service.to_api(dest, with_config=True)


@router.delete("/notification-destinations/{destination_id}")
def delete_destination(request: Request, destination_id: str, who: Principal = Who) -> Any:
    try:
        service.delete(ctx_of(request).store, destination_id, who=who.user_name, admin=who.admin)
    except NotFound as exc:
        raise ResourceMissing(str(exc)) from None
    return {}


@router.get("/headrace/notifications")
def list_run_notifications(request: Request, run_id: str, who: Principal = Who) -> Any:
    number = as_int(run_id, "run_id")
    with ctx_of(request).store.read() as conn:
        require_run(conn, who, number, "CAN_VIEW")
        rows = outbox.list_notifications(conn, run_ids=[number], limit=1000)
    return {"notifications": [notification_to_api(n) for n in reversed(rows)]}
