"""The DBFS API 2.0 under /api/2.0/dbfs: put, get-status, list, mkdirs, delete, move, read,
create, add-block, close (what `w.dbfs` and `databricks fs` call).

Paths map into `<HEADRACE_HOME>/dbfs/` (engine.files). A streaming upload (`create`, then
`add-block`s of at most 1 MB, then `close`) writes a hidden part file next to its target and
moves it into place on `close`; the handle's state is on disk, so it survives a restart.
A stream idle for an hour is dropped. `put` takes base64 `contents` (at most 1 MB) or a multipart form with a `contents` file
(streamed to disk, up to the Files API's 5 GiB).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from headrace.api.auth import principal_of
from headrace.api.context import ctx_of
from headrace.api.params import as_int, body_bool, json_body, query_int
from headrace.engine import files
from headrace.engine.jobs import Principal
from headrace.errors import NotFound, SpecError, SpecIssue

router = APIRouter(prefix="/dbfs")
Who = Depends(principal_of)
JsonBody = Depends(json_body)
DEFAULT_READ_BYTES = 512 * 1024  # Databricks reads 0.5 MB when no length is given
_UPLOADS = "dbfs-uploads"
# A stream not written to for this long is dropped (Databricks: 10 minutes; kinder here).
IDLE_HANDLE_SECONDS = 3600


def _home(request: Request) -> Path:
    return ctx_of(request).settings.home


def _bad(name: str, reason: str) -> SpecError:
    return SpecError([SpecIssue(name, reason)])


def _path(value: Any, field: str = "path") -> str:
    return files.normalize(value, field)


def _writable(value: Any, who: Principal, field: str = "path") -> str:
    path = _path(value, field)
    files.check_write(path, who.user_name, who.admin)
    return path


def _decode(data: Any, field: str) -> bytes:
    if not isinstance(data, str):
        raise _bad(field, "required: base64-encoded bytes")
    if len(data) > (files.MAX_BLOCK_BYTES * 4) // 3 + 4:
        raise _bad(field, f"must be at most {files.MAX_BLOCK_BYTES} bytes (1 MB) per call")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise _bad(field, "must be base64-encoded") from None
    if len(raw) > files.MAX_BLOCK_BYTES:
        raise _bad(field, f"must be at most {files.MAX_BLOCK_BYTES} bytes (1 MB) per call")
    return raw


@router.post("/put")
async def put(request: Request, who: Principal = Who) -> Any:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    home = _home(request)
    if kind == "multipart/form-data":
        return await _put_form(request, who, home)
    body = await json_body(request)
    path = _writable(body.get("path"), who)
    data = _decode(body.get("contents", ""), "contents")
    await run_in_threadpool(
        files.write_all, home, path, data, overwrite=body_bool(body, "overwrite")
    )
    return {}


async def _put_form(request: Request, who: Principal, home: Path) -> Any:
    form = await request.form(max_part_size=files.MAX_BLOCK_BYTES)
    try:
        path = _writable(form.get("path"), who)
        overwrite = str(form.get("overwrite") or "false").lower()
        if overwrite not in ("true", "false"):
            raise _bad("overwrite", f"must be true or false, got {overwrite!r}")
        content = form.get("contents")
        if content is None:
            content = form.get("file")  # the legacy databricks-cli's field name
        if content is None:
            raise _bad("contents", "required: the file's content")
        target = files.prepare_file(home, path, overwrite=overwrite == "true")
        part = files.temp_path(target)
        try:
            with open(part, "wb") as out:
                if isinstance(content, str):
                    out.write(content.encode())
                else:
                    while chunk := await content.read(1 << 20):
                        out.write(chunk)
            os.replace(part, target)
        finally:
            part.unlink(missing_ok=True)
    finally:
        await form.close()
    return {}


@router.get("/get-status")
def get_status(request: Request, who: Principal = Who) -> Any:
    path = _path(request.query_params.get("path"))
    return files.status(_home(request), path).to_dbfs()


@router.get("/list")
def list_files(request: Request, who: Principal = Who) -> Any:
    path = _path(request.query_params.get("path"))
    return {"files": [f.to_dbfs() for f in files.listing(_home(request), path)]}


@router.post("/mkdirs")
def mkdirs(request: Request, body: dict[str, Any] = JsonBody, who: Principal = Who) -> Any:
    files.mkdirs(_home(request), _writable(body.get("path"), who))
    return {}


@router.post("/delete")
def delete(request: Request, body: dict[str, Any] = JsonBody, who: Principal = Who) -> Any:
    path = _writable(body.get("path"), who)
    files.delete(_home(request), path, recursive=body_bool(body, "recursive"))
    return {}


@router.post("/move")
def move(request: Request, body: dict[str, Any] = JsonBody, who: Principal = Who) -> Any:
    source = _writable(body.get("source_path"), who, "source_path")
    destination = _writable(body.get("destination_path"), who, "destination_path")
    files.move(_home(request), source, destination)
    return {}


@router.get("/read")
def read(request: Request, who: Principal = Who) -> Any:
    path = _path(request.query_params.get("path"))
    offset = query_int(request, "offset", 0, minimum=0)
    length = query_int(request, "length", DEFAULT_READ_BYTES, minimum=0) or DEFAULT_READ_BYTES
    if length > files.MAX_BLOCK_BYTES:
        raise _bad("length", f"must be at most {files.MAX_BLOCK_BYTES} bytes (1 MB)")
    data = files.read(_home(request), path, offset, length)
    return {"bytes_read": len(data), "data": base64.b64encode(data).decode()}


# --- streaming uploads: create, add-block, close -------------------------------------------


def _handle_dir(home: Path, handle: int) -> Path:
    return home / _UPLOADS / str(handle)


def _open_handle(home: Path, value: Any, who: Principal) -> tuple[Path, dict[str, Any]]:
    handle = as_int(value, "handle", minimum=0)
    folder = _handle_dir(home, handle)
    try:
        meta = json.loads((folder / "meta.json").read_text())
    except (FileNotFoundError, ValueError):
        raise NotFound(f"No open stream with handle {handle}.") from None
    if meta["user"] != who.user_name:
        raise NotFound(f"No open stream with handle {handle}.")
    return folder, meta


def _drop_idle_handles(home: Path) -> None:
    """Remove streams nobody wrote to for IDLE_HANDLE_SECONDS (abandoned uploads)."""
    import shutil
    import time

    root = home / _UPLOADS
    if not root.is_dir():
        return
    cutoff = time.time() - IDLE_HANDLE_SECONDS
    for folder in root.iterdir():
        try:
            idle = (folder / "data").stat().st_mtime < cutoff
        except FileNotFoundError:
            idle = folder.stat().st_mtime < cutoff
        if idle:
            shutil.rmtree(folder, ignore_errors=True)


@router.post("/create")
def create(request: Request, body: dict[str, Any] = JsonBody, who: Principal = Who) -> Any:
    home = _home(request)
    path = _writable(body.get("path"), who)
    overwrite = body_bool(body, "overwrite")
    files.prepare_file(home, path, overwrite=overwrite)  # fail now, not at close
    _drop_idle_handles(home)
    handle = secrets.randbelow(2**53)
    folder = _handle_dir(home, handle)
    folder.mkdir(parents=True)
    (folder / "data").touch()
    meta = {"path": path, "overwrite": overwrite, "user": who.user_name}
    (folder / "meta.json").write_text(json.dumps(meta))
    return {"handle": handle}


@router.post("/add-block")
def add_block(request: Request, body: dict[str, Any] = JsonBody, who: Principal = Who) -> Any:
    folder, _ = _open_handle(_home(request), body.get("handle"), who)
    data = _decode(body.get("data"), "data")
    with open(folder / "data", "ab") as out:
        if out.tell() + len(data) > files.MAX_FILE_BYTES:
            raise _bad("data", f"the file would exceed {files.MAX_FILE_BYTES} bytes")
        out.write(data)
    return {}


@router.post("/close")
def close(request: Request, body: dict[str, Any] = JsonBody, who: Principal = Who) -> Any:
    home = _home(request)
    folder, meta = _open_handle(home, body.get("handle"), who)
    target = files.prepare_file(home, meta["path"], overwrite=meta["overwrite"])
    os.replace(folder / "data", target)
    (folder / "meta.json").unlink()
    folder.rmdir()
    return {}
