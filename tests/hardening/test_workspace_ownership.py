"""Workspace ownership (issue 11, 2.1): `/Users`, `/Users/<other>` and everything under another
user's folder may be changed or deleted only by that user or an admin, against a real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support import Server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("ownership"), workers=1)
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


@pytest.fixture(scope="module")
def tokens(server: Server) -> dict[str, str]:
    return {name: server.token(name, admin=name == "root") for name in ("alice", "bob", "root")}


def call(server: Server, token: str, route: str, body: dict) -> httpx.Response:
    return httpx.post(
        f"{server.url}/api/2.0/workspace/{route}",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def upload(server: Server, token: str, path: str) -> httpx.Response:
    return call(server, token, "import", {"path": path, "content": "eA==", "overwrite": True})


@pytest.mark.parametrize(
    "path",
    [
        "/Users",
        "/Workspace/Users",
        "/Users/",
        "/Users/alice",
        "/Workspace/Users/alice",
        "/",
        "/Workspace",
    ],
)
def test_a_user_cannot_delete_users_or_another_users_folder(
    server: Server, tokens: dict[str, str], path: str
) -> None:
    assert upload(server, tokens["alice"], "/Users/alice/keep/a.py").status_code == 200
    done = call(server, tokens["bob"], "delete", {"path": path, "recursive": True})
    if path in ("/", "/Workspace"):  # nobody deletes the root
        assert done.status_code == 400 and "root" in done.json()["message"], done.text
    else:
        assert done.status_code == 403, done.text
        assert done.json()["error_code"] == "PERMISSION_DENIED"
    assert (server.workspace_tree / "Users/alice/keep/a.py").exists()


@pytest.mark.parametrize("route", ["import", "mkdirs", "delete"])
def test_a_user_cannot_change_anything_under_another_users_folder(
    server: Server, tokens: dict[str, str], route: str
) -> None:
    assert upload(server, tokens["alice"], "/Users/alice/deep/er/x.py").status_code == 200
    target = "/Users/alice/deep/er/x.py" if route != "mkdirs" else "/Users/alice/deep/new"
    body: dict = {"path": target}
    if route == "import":
        body.update(content="eQ==", overwrite=True)
    done = call(server, tokens["bob"], route, body)
    assert done.status_code == 403, done.text
    assert "belongs to another user" in done.json()["message"]
    assert (server.workspace_tree / "Users/alice/deep/er/x.py").read_bytes() == b"x"
    assert not (server.workspace_tree / "Users/alice/deep/new").exists()


def test_a_user_cannot_put_a_file_where_users_is(server: Server, tokens: dict[str, str]) -> None:
    done = upload(server, tokens["bob"], "/Users")
    assert done.status_code == 403, done.text


def test_the_owner_and_an_admin_may(server: Server, tokens: dict[str, str]) -> None:
    tree: Path = server.workspace_tree
    assert upload(server, tokens["alice"], "/Users/alice/mine/a.py").status_code == 200
    assert (
        call(
            server, tokens["alice"], "delete", {"path": "/Users/alice/mine", "recursive": True}
        ).status_code
        == 200
    )
    assert not (tree / "Users/alice/mine").exists()
    assert upload(server, tokens["root"], "/Users/bob/from-admin.py").status_code == 200
    assert (
        call(
            server, tokens["root"], "delete", {"path": "/Users/bob", "recursive": True}
        ).status_code
        == 200
    )
    assert not (tree / "Users/bob").exists()
    # Everyone may still work in their own folder, create it, and in /Shared.
    assert call(server, tokens["bob"], "mkdirs", {"path": "/Users/bob/again"}).status_code == 200
    assert call(server, tokens["bob"], "mkdirs", {"path": "/Users"}).status_code == 200  # exists
    assert upload(server, tokens["bob"], "/Shared/team.py").status_code == 200
    assert call(server, tokens["alice"], "delete", {"path": "/Shared/team.py"}).status_code == 200
