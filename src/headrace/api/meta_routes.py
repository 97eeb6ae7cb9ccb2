"""What the SDK needs around the Jobs API: health, its config probe, the current user."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from headrace import __version__
from headrace.api.auth import principal_of
from headrace.engine.jobs import ALL_USERS_GROUP, Principal

router = APIRouter()


@router.get("/health")
def health(request: Request) -> Any:
    """Liveness and readiness (no token needed): 503 when the store is unusable (a real query
    fails, or on SQLite the file is not the one this server opened)."""
    from headrace.store import health as store_health
    from headrace.store.db import StoreError

    try:
        store_health.check(request.app.state.ctx.store)
    except StoreError as exc:
        body = {"status": "error", "store": str(exc), "version": __version__}
        return JSONResponse(body, status_code=503)
    return {"status": "ok", "store": "ok", "version": __version__}


@router.get("/.well-known/databricks-config")
def databricks_config() -> Any:
    """The SDK's start-up probe, sent without a token; an empty config is the right answer."""
    return {}


@router.get("/api/2.0/preview/scim/v2/Me")
def me(response: Response, who: Principal = Depends(principal_of)) -> Any:
    response.headers["X-Databricks-Org-Id"] = "0"
    groups = [{"display": ALL_USERS_GROUP, "value": ALL_USERS_GROUP}]
    if who.admin:
        groups.append({"display": "admins", "value": "admins"})
    return {
        "id": who.user_name,
        "userName": who.user_name,
        "displayName": who.user_name,
        "active": True,
        "groups": groups,
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    }
