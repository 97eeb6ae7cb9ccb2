"""Workspace files through the SDK: upload/download, import/export, list, mkdirs, get-status,
delete; paths with and without /Workspace; traversal refused."""

from __future__ import annotations

import base64
import io
import json

import httpx
import pytest
from databricks.sdk.errors import (
    BadRequest,
    DatabricksError,
    InvalidParameterValue,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)
from databricks.sdk.service.workspace import ExportFormat, ImportFormat, Language, ObjectType

from support import Server, User

NOTEBOOK = "# Databricks notebook source\nprint('hi')\n"


def test_upload_then_download_round_trips_bytes(server: Server, alice: User) -> None:
    w = alice.w
    data = b"print('etl')\n\x00\xff binary too\n"

    w.workspace.upload("/Workspace/Users/alice/up/etl.py", data)

    assert w.workspace.download("/Workspace/Users/alice/up/etl.py").read() == data
    # /Workspace/Users/... and /Users/... are the same object, as on Databricks.
    assert w.workspace.download("/Users/alice/up/etl.py").read() == data
    assert (server.workspace_tree / "Users/alice/up/etl.py").read_bytes() == data


def test_upload_of_a_file_like_and_overwrite(alice: User) -> None:
    w = alice.w
    path = "/Users/alice/over/data.csv"
    w.workspace.upload(path, io.BytesIO(b"a,b\n1,2\n"), format=ImportFormat.AUTO)

    with pytest.raises(ResourceAlreadyExists, match="overwrite"):
        w.workspace.upload(path, b"new", format=ImportFormat.AUTO)
    assert w.workspace.download(path).read() == b"a,b\n1,2\n"

    w.workspace.upload(path, b"new", format=ImportFormat.AUTO, overwrite=True)
    assert w.workspace.download(path).read() == b"new"


def test_json_import_and_export(alice: User) -> None:
    w = alice.w
    content = base64.b64encode(NOTEBOOK.encode()).decode()

    # An extension-less SOURCE notebook (as Databricks names notebooks) is stored with its
    # language's extension, and found again without it.
    w.workspace.import_(
        "/Users/alice/json/report",
        content=content,
        format=ImportFormat.SOURCE,
        language=Language.PYTHON,
    )

    exported = w.workspace.export("/Users/alice/json/report", format=ExportFormat.SOURCE)
    assert base64.b64decode(exported.content).decode() == NOTEBOOK
    assert exported.file_type == "py"
    status = w.workspace.get_status("/Users/alice/json/report")
    assert status.path == "/Users/alice/json/report.py"
    assert (status.object_type, status.language) == (ObjectType.NOTEBOOK, Language.PYTHON)
    with pytest.raises(ResourceAlreadyExists):
        w.workspace.import_("/Users/alice/json/report", content=content, language=Language.PYTHON)


def test_jupyter_import_gets_the_ipynb_extension(alice: User) -> None:
    w = alice.w
    nb = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    content = base64.b64encode(json.dumps(nb).encode()).decode()

    w.workspace.import_("/Users/alice/nb/explore", content=content, format=ImportFormat.JUPYTER)

    status = w.workspace.get_status("/Users/alice/nb/explore")
    assert status.path == "/Users/alice/nb/explore.ipynb"
    assert status.object_type == ObjectType.NOTEBOOK
    out = w.workspace.export("/Users/alice/nb/explore", format=ExportFormat.JUPYTER)
    assert json.loads(base64.b64decode(out.content)) == nb
    with pytest.raises(InvalidParameterValue, match="JSON"):
        w.workspace.import_(
            "/Users/alice/nb/bad",
            content=base64.b64encode(b"nope").decode(),
            format=ImportFormat.JUPYTER,
        )


def test_mkdirs_list_and_get_status(alice: User) -> None:
    w = alice.w
    w.workspace.mkdirs("/Users/alice/tree/sub/deeper")
    w.workspace.mkdirs("/Users/alice/tree/sub")  # existing folders are fine
    w.workspace.upload("/Users/alice/tree/plain.txt", b"12345")
    w.workspace.upload("/Users/alice/tree/nb.py", NOTEBOOK.encode())
    w.workspace.upload("/Users/alice/tree/sub/deeper/x.py", b"x = 1\n")

    listed = list(w.workspace.list("/Users/alice/tree"))

    assert [(o.path, o.object_type) for o in listed] == [
        ("/Users/alice/tree/nb.py", ObjectType.NOTEBOOK),
        ("/Users/alice/tree/plain.txt", ObjectType.FILE),
        ("/Users/alice/tree/sub", ObjectType.DIRECTORY),
    ]
    plain = listed[1]
    assert plain.size == 5 and plain.object_id and plain.modified_at > 1_600_000_000_000
    assert listed[0].language == Language.PYTHON
    # Asked with /Workspace, answered with /Workspace.
    assert [o.path for o in w.workspace.list("/Workspace/Users/alice/tree/sub")] == [
        "/Workspace/Users/alice/tree/sub/deeper"
    ]
    recursive = {o.path for o in w.workspace.list("/Users/alice/tree", recursive=True)}
    assert "/Users/alice/tree/sub/deeper/x.py" in recursive
    assert w.workspace.get_status("/Users/alice/tree/sub").object_type == ObjectType.DIRECTORY
    assert w.workspace.get_status("/Workspace").object_type == ObjectType.DIRECTORY
    assert "/Users" in {o.path for o in w.workspace.list("/")}
    with pytest.raises(ResourceAlreadyExists, match="is a file"):
        w.workspace.mkdirs("/Users/alice/tree/plain.txt/inside")
    with pytest.raises(ResourceAlreadyExists, match="folder"):
        w.workspace.upload("/Users/alice/tree/sub", b"not a folder", overwrite=True)


def test_delete_files_and_folders(alice: User) -> None:
    w = alice.w
    w.workspace.upload("/Users/alice/del/a/one.txt", b"1")
    w.workspace.upload("/Users/alice/del/two.txt", b"2")

    w.workspace.delete("/Users/alice/del/two.txt")
    with pytest.raises(ResourceDoesNotExist):
        w.workspace.get_status("/Users/alice/del/two.txt")
    with pytest.raises(BadRequest, match="recursive") as info:
        w.workspace.delete("/Users/alice/del/a")
    assert info.value.error_code == "DIRECTORY_NOT_EMPTY"
    w.workspace.delete("/Workspace/Users/alice/del", recursive=True)
    with pytest.raises(ResourceDoesNotExist):
        w.workspace.get_status("/Users/alice/del")
    with pytest.raises(ResourceDoesNotExist):
        w.workspace.delete("/Users/alice/del")
    with pytest.raises(InvalidParameterValue, match="root"):
        w.workspace.delete("/Workspace", recursive=True)


def test_missing_paths_are_resource_does_not_exist(alice: User) -> None:
    w = alice.w
    with pytest.raises(ResourceDoesNotExist, match="doesn't exist"):
        w.workspace.get_status("/Users/alice/nothing-here")
    with pytest.raises(ResourceDoesNotExist):
        list(w.workspace.list("/Users/alice/nothing-here"))
    with pytest.raises(ResourceDoesNotExist):
        w.workspace.download("/Users/alice/nothing-here.py")
    with pytest.raises(ResourceDoesNotExist):
        w.workspace.export("/Users/alice/nothing-here.py")


@pytest.mark.parametrize(
    "path",
    [
        "/Users/../../etc/passwd",
        "/Workspace/../../../etc/passwd",
        "/Users/alice/./x.py",
        "etc/passwd",
        "/Users/alice/x\x00.py",
    ],
)
def test_paths_that_leave_the_tree_are_refused(server: Server, alice: User, path: str) -> None:
    w = alice.w
    with pytest.raises(InvalidParameterValue, match="path"):
        w.workspace.get_status(path)
    with pytest.raises(InvalidParameterValue):
        w.workspace.mkdirs(path)
    with pytest.raises(InvalidParameterValue):
        w.workspace.delete(path, recursive=True)
    with pytest.raises(InvalidParameterValue):
        w.workspace.download(path)
    # upload() re-raises INVALID_PARAMETER_VALUE as a plain DatabricksError with a format hint.
    with pytest.raises(DatabricksError) as info:
        w.workspace.upload(path, b"evil", overwrite=True)
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert not (server.home / "etc").exists() and not (server.home.parent / "etc").exists()


def test_unsupported_formats_are_refused(alice: User) -> None:
    w = alice.w
    with pytest.raises(DatabricksError) as info:
        w.workspace.upload("/Users/alice/fmt/a.dbc", b"PK", format=ImportFormat.DBC)
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    w.workspace.upload("/Users/alice/fmt/a.py", b"x = 1\n")
    with pytest.raises(InvalidParameterValue, match="format"):
        w.workspace.export("/Users/alice/fmt/a.py", format=ExportFormat.HTML)
    with pytest.raises(InvalidParameterValue, match="Jupyter"):
        w.workspace.export("/Users/alice/fmt/a.py", format=ExportFormat.JUPYTER)


def test_any_user_may_use_the_workspace_but_a_token_is_needed(
    server: Server, alice: User, bob: User
) -> None:
    alice.w.workspace.upload("/Shared/team/readme.md", b"hello", overwrite=True)

    assert bob.w.workspace.download("/Shared/team/readme.md").read() == b"hello"
    answer = httpx.get(f"{server.url}/api/2.0/workspace/list", params={"path": "/"})
    assert answer.status_code == 401
    assert answer.json()["error_code"] == "UNAUTHENTICATED"


def test_raw_json_import_errors(server: Server, alice: User) -> None:
    url = f"{server.url}/api/2.0/workspace/import"
    auth = {"Authorization": f"Bearer {alice.token}"}

    bad_b64 = httpx.post(url, headers=auth, json={"path": "/Users/alice/r.py", "content": "%%%"})
    assert (bad_b64.status_code, bad_b64.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    assert "base64" in bad_b64.json()["message"]
    no_content = httpx.post(url, headers=auth, json={"path": "/Users/alice/r.py"})
    assert no_content.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    not_json = httpx.post(
        url, headers={**auth, "Content-Type": "application/json"}, content=b"{nope"
    )
    assert (not_json.status_code, not_json.json()["error_code"]) == (400, "MALFORMED_REQUEST")
    exists = httpx.post(
        url,
        headers=auth,
        json={"path": "/Users/alice/r.py", "content": "eA==", "format": "RAW"},
    )
    assert exists.status_code == 200
    again = httpx.post(url, headers=auth, json={"path": "/Users/alice/r.py", "content": "eA=="})
    assert (again.status_code, again.json()["error_code"]) == (409, "RESOURCE_ALREADY_EXISTS")
