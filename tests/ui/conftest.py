"""UI fixtures: one real `headrace server` for the session, users with tokens, and a signed-in
HTTP client per user (the browser tests add a real Chromium on top, see test_browser.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from support import Server, User, admin, alice, bob, carol

__all__ = ["admin", "alice", "bob", "carol", "server", "signed_in"]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("ui-server"), workers=4)
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


class Browserless:
    """An HTTP client holding a UI session, and the CSRF token of its pages."""

    def __init__(self, server: Server, user: User) -> None:
        self.client = httpx.Client(base_url=server.url, follow_redirects=False, timeout=15)
        r = self.client.post("/login", data={"token": user.token, "next": "/jobs"})
        assert r.status_code == 303, r.text
        self.csrf = csrf_of(self.client.get("/jobs").text)

    def get(self, path: str, **kw: object) -> httpx.Response:
        return self.client.get(path, **kw)  # type: ignore[arg-type]

    def post(self, path: str, data: dict[str, object] | None = None) -> httpx.Response:
        return self.client.post(path, data={"csrf_token": self.csrf, **(data or {})})


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


@pytest.fixture
def signed_in(server: Server) -> Iterator[object]:
    """`signed_in(user)`: a client with a UI session for that user."""
    clients: list[Browserless] = []

    def make(user: User) -> Browserless:
        c = Browserless(server, user)
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.client.close()
