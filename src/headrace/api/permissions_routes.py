"""Job permissions under /api/2.0/permissions/jobs/{job_id}: get, set (PUT), update (PATCH), levels.

What the SDK's `w.jobs.get_permissions`, `set_permissions`, `update_permissions` and
`get_permission_levels` call. The rules live in `engine.permissions`; an unknown job is
404 RESOURCE_DOES_NOT_EXIST here (the SDK's NotFound), not the jobs endpoints' 400.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, Body, Depends, Request

from headrace.api.auth import principal_of
from headrace.api.context import ctx_of
from headrace.api.errors import ResourceMissing
from headrace.api.params import as_int
from headrace.engine import permissions as acl_service
from headrace.engine.jobs import Principal, require
from headrace.errors import NotFound

router = APIRouter(prefix="/permissions/jobs")
Who = Depends(principal_of)
JsonBody = Body(default_factory=dict)


@contextmanager
def _job_missing_is_404() -> Iterator[None]:
    try:
        yield
    except NotFound as exc:
        raise ResourceMissing(str(exc)) from None


@router.get("/{job_id}")
def get_permissions(request: Request, job_id: str, who: Principal = Who) -> Any:
    number = as_int(job_id, "job_id")
    with _job_missing_is_404():
        rows = acl_service.job_acl(ctx_of(request).store, who, number)
    return acl_service.job_permissions_to_api(number, rows)


@router.put("/{job_id}")
def set_permissions(
    request: Request, job_id: str, body: dict[str, Any] = JsonBody, who: Principal = Who
) -> Any:
    return _change(request, job_id, body, who, replace=True)


@router.patch("/{job_id}")
def update_permissions(
    request: Request, job_id: str, body: dict[str, Any] = JsonBody, who: Principal = Who
) -> Any:
    return _change(request, job_id, body, who, replace=False)


def _change(
    request: Request, job_id: str, body: dict[str, Any], who: Principal, *, replace: bool
) -> Any:
    number = as_int(job_id, "job_id")
    with _job_missing_is_404():
        rows = acl_service.change_job_acl(
            ctx_of(request).store,
            who,
            number,
            body.get("access_control_list"),
            replace=replace,
        )
    return acl_service.job_permissions_to_api(number, rows)


@router.get("/{job_id}/permissionLevels")
def get_permission_levels(request: Request, job_id: str, who: Principal = Who) -> Any:
    number = as_int(job_id, "job_id")
    with _job_missing_is_404(), ctx_of(request).store.read() as conn:
        require(conn, who, number, "CAN_VIEW")
    return {"permission_levels": acl_service.permission_levels()}
