"""The Workspace API's files under /api/2.0/workspace: import, export, list, mkdirs, delete,
get-status.

Files live under `<HEADRACE_HOME>/workspace/` (see `engine.workspace`, the one place paths
are mapped). Any authenticated user may read the whole workspace and write outside `/Users`;
`/Users/<name>` and everything under it may be changed only by that user or an admin, and
`/Users` itself (and the root) only by an admin. Headrace keeps no other per-object workspace
ACLs (Databricks' directory/notebook permissions are not emulated).

`import` takes Databricks' JSON body (`content` base64) and the multipart form the SDK's
`w.workspace.upload()` sends (fields `path`, `format`, `language`, `overwrite`, file
`content`); `export` answers raw bytes with `direct_download=true` (`w.workspace.download`).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from headrace.api.auth import principal_of
from headrace.api.context import ctx_of
from headrace.api.errors import MalformedRequest
from headrace.api.params import body_bool, body_str, query_bool
from headrace.engine import workspace
from headrace.engine.jobs import Principal
from headrace.errors import PermissionDenied, SpecError, SpecIssue

router = APIRouter(prefix="/workspace")
Who = Depends(principal_of)
JsonBody = Body(default_factory=dict)


def _root(request: Request) -> Any:
    return workspace.workspace_root(ctx_of(request).settings)


def _check_write(path: Any, who: Principal) -> None:
    """`/Users/<name>/...` may be changed only by that user (or an admin); `/Users` by admins."""
    if isinstance(path, str) and path and not workspace.may_write(path, who.user_name, who.admin):
        if workspace.normalize(path) == "/Users":
            raise PermissionDenied(
                f"User {who.user_name} may not change {path}: it holds every user's folder; "
                "only admins may."
            )
        raise PermissionDenied(
            f"User {who.user_name} may not change {path}: it belongs to another user."
        )


def _existing_folder(request: Request, path: Any) -> bool:
    return isinstance(path, str) and workspace.local_path(_root(request), path).is_dir()


def _query_path(request: Request) -> str:
    path = request.query_params.get("path")
    if path is None or path == "":
        raise SpecError([SpecIssue("path", "required: an absolute workspace path")])
    return path


@router.post("/import")
async def import_(request: Request, who: Principal = Who) -> Any:
    fields = await _import_fields(request)
    _check_write(fields["path"], who)
    await run_in_threadpool(
        workspace.import_file,
        _root(request),
        fields["path"],
        fields["content"],
        fmt=fields.get("format"),
        language=fields.get("language"),
        overwrite=fields["overwrite"],
    )
    return {}


async def _import_fields(request: Request) -> dict[str, Any]:
    """path, content (bytes), format, language, overwrite: from JSON or a multipart form."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        return await _form_fields(request)
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except (ValueError, RecursionError):
        raise MalformedRequest("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise MalformedRequest("the request body must be a JSON object")
    content = body_str(body, "content")
    if content is None:
        raise SpecError([SpecIssue("content", "required: the file's content, base64-encoded")])
    try:
        data = base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        raise SpecError([SpecIssue("content", "must be base64-encoded")]) from None
    return {
        "path": body_str(body, "path"),
        "content": data,
        "format": body_str(body, "format"),
        "language": body_str(body, "language"),
        "overwrite": body_bool(body, "overwrite"),
    }


async def _form_fields(request: Request) -> dict[str, Any]:
    form = await request.form()
    try:
        content = form.get("content")
        if content is None:
            raise SpecError([SpecIssue("content", "required: the file's content")])
        if isinstance(content, str):
            data = content.encode()
        else:
            data = await content.read()
        overwrite = str(form.get("overwrite") or "false").lower()
        if overwrite not in ("true", "false"):
            raise SpecError([SpecIssue("overwrite", f"must be true or false, got {overwrite!r}")])
        text = {k: form.get(k) for k in ("path", "format", "language")}
        for name, value in text.items():
            if value is not None and not isinstance(value, str):
                raise SpecError([SpecIssue(name, "must be a text field, not a file")])
        return {**text, "content": data, "overwrite": overwrite == "true"}
    finally:
        await form.close()


@router.get("/export")
def export(request: Request, who: Principal = Who) -> Any:
    local, data = workspace.export_file(
        _root(request), _query_path(request), request.query_params.get("format")
    )
    if query_bool(request, "direct_download"):
        return Response(content=data, media_type="application/octet-stream")
    return {"content": base64.b64encode(data).decode(), "file_type": local.suffix.lstrip(".")}


@router.get("/list")
def list_objects(request: Request, who: Principal = Who) -> Any:
    objects = workspace.list_objects(_root(request), _query_path(request))
    return {"objects": [o.to_api() for o in objects]}


@router.get("/get-status")
def get_status(request: Request, who: Principal = Who) -> Any:
    return workspace.get_status(_root(request), _query_path(request)).to_api()


@router.post("/mkdirs")
def mkdirs(request: Request, body: dict[str, Any] = JsonBody, who: Principal = Who) -> Any:
    path = body_str(body, "path")
    if not _existing_folder(request, path):  # an existing folder: nothing changes
        _check_write(path, who)
    workspace.mkdirs(_root(request), path)
    return {}


@router.post("/delete")
def delete(request: Request, body: dict[str, Any] = JsonBody, who: Principal = Who) -> Any:
    path = body_str(body, "path")
    _check_write(path, who)
    workspace.delete(_root(request), path, recursive=body_bool(body, "recursive"))
    return {}
