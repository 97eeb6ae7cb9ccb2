"""The Files API under /api/2.0/fs: files (PUT upload, GET download, HEAD metadata, DELETE) and
directories (PUT create, GET list, HEAD exists, DELETE), as `w.files` calls them.

Uploads stream to a hidden part file moved into place at the end (never held in memory);
downloads stream from disk (HTTP ranges too). Paths: `/Volumes/...` and `/dbfs/...`, over the
same root as the DBFS API and `dbutils.fs` (engine.files). `GET /fs/endpoints` tells the SDK
to use this Files API 2.0 host for transfers (no presigned URLs here).
"""

from __future__ import annotations

import os
from email.utils import formatdate
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import FileResponse

from headrace.api.auth import principal_of
from headrace.api.context import ctx_of
from headrace.api.errors import ResourceMissing
from headrace.api.params import query_bool, query_int
from headrace.engine import files
from headrace.engine.jobs import Principal
from headrace.errors import NotFound, SpecError, SpecIssue

router = APIRouter(prefix="/fs")
Who = Depends(principal_of)
MAX_PAGE = 1000


def _home(request: Request) -> Path:
    return ctx_of(request).settings.home


def _path(raw: str) -> str:
    return files.normalize(raw, "path", files_api=True)


def _missing(shown: str) -> ResourceMissing:
    return ResourceMissing(f"The file or directory {shown} does not exist.")


@router.get("/endpoints")
def endpoints(request: Request, who: Principal = Who) -> Any:
    """Transfers go to this host's Files API 2.0 (as the request reached it)."""
    host = request.headers.get("host") or f"{request.url.hostname}:{request.url.port}"
    entry = {"api": "FILES_API", "api_version": "2.0", "scheme": request.url.scheme}
    return {"endpoints": [{**entry, "hostname": host, "multipart_upload_supported": False}]}


@router.put("/files{file_path:path}", status_code=204)
async def upload(request: Request, file_path: str, who: Principal = Who) -> Response:
    path = _path(file_path)
    files.check_write(path, who.user_name, who.admin)
    size = request.headers.get("content-length")
    if size is not None and size.isdigit() and int(size) > files.MAX_FILE_BYTES:
        raise SpecError([SpecIssue("contents", f"larger than {files.MAX_FILE_BYTES} bytes")])
    target = files.prepare_file(
        _home(request), path, overwrite=query_bool(request, "overwrite", False)
    )
    part = files.temp_path(target)
    written = 0
    try:
        with open(part, "wb") as out:
            async for chunk in request.stream():
                written += len(chunk)
                if written > files.MAX_FILE_BYTES:
                    raise SpecError(
                        [SpecIssue("contents", f"larger than {files.MAX_FILE_BYTES} bytes")]
                    )
                out.write(chunk)
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
    return Response(status_code=204)


def _file(request: Request, file_path: str) -> tuple[Path, files.FileStatus]:
    path = _path(file_path)
    try:
        found = files.status(_home(request), path)
    except NotFound:
        raise _missing(file_path) from None
    if found.is_dir:
        raise SpecError([SpecIssue("path", f"{file_path} is a directory, not a file")])
    return files.local(_home(request), path), found


@router.get("/files{file_path:path}")
def download(request: Request, file_path: str, who: Principal = Who) -> Any:
    local, _ = _file(request, file_path)
    return FileResponse(local, media_type="application/octet-stream")


@router.head("/files{file_path:path}")
def file_metadata(request: Request, file_path: str, who: Principal = Who) -> Response:
    _, found = _file(request, file_path)
    return Response(
        status_code=200,
        headers={
            "content-length": str(found.file_size),
            "content-type": "application/octet-stream",
            "last-modified": formatdate(found.modification_time / 1000, usegmt=True),
        },
    )


@router.delete("/files{file_path:path}", status_code=204)
def delete_file(request: Request, file_path: str, who: Principal = Who) -> Response:
    path = _path(file_path)
    files.check_write(path, who.user_name, who.admin)
    _file(request, file_path)
    files.delete(_home(request), path, recursive=False)
    return Response(status_code=204)


def _directory(request: Request, dir_path: str) -> str:
    path = _path(dir_path)
    try:
        found = files.status(_home(request), path)
    except NotFound:
        raise _missing(dir_path) from None
    if not found.is_dir:
        raise SpecError([SpecIssue("path", f"{dir_path} is a file, not a directory")])
    return path


@router.put("/directories{dir_path:path}", status_code=204)
def create_directory(request: Request, dir_path: str, who: Principal = Who) -> Response:
    path = _path(dir_path)
    files.check_write(path, who.user_name, who.admin)
    files.mkdirs(_home(request), path)
    return Response(status_code=204)


@router.head("/directories{dir_path:path}")
def directory_metadata(request: Request, dir_path: str, who: Principal = Who) -> Response:
    _directory(request, dir_path)
    return Response(status_code=200)


@router.get("/directories{dir_path:path}")
def list_directory(request: Request, dir_path: str, who: Principal = Who) -> Any:
    path = _directory(request, dir_path)
    size = query_int(request, "page_size", MAX_PAGE, minimum=0) or MAX_PAGE
    size = min(size, MAX_PAGE)
    after = request.query_params.get("page_token") or ""
    prefix = (
        "/dbfs" if _path(dir_path) != dir_path.rstrip("/") and dir_path.startswith("/dbfs") else ""
    )
    entries = [e for e in files.listing(_home(request), path) if e.path > after]
    page = entries[:size]
    out: dict[str, Any] = {
        "contents": [
            {
                "path": prefix + e.path + ("/" if e.is_dir else ""),
                "is_directory": e.is_dir,
                "name": e.path.rsplit("/", 1)[-1],
                **({} if e.is_dir else {"file_size": e.file_size}),
                "last_modified": e.modification_time,
            }
            for e in page
        ]
    }
    if len(entries) > size:
        out["next_page_token"] = page[-1].path
    return out


@router.delete("/directories{dir_path:path}", status_code=204)
def delete_directory(request: Request, dir_path: str, who: Principal = Who) -> Response:
    path = _directory(request, dir_path)
    files.check_write(path, who.user_name, who.admin)
    files.delete(_home(request), path, recursive=False)
    return Response(status_code=204)
