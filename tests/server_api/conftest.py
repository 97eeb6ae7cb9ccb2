"""Fixtures: one real `headrace server` for these tests, users with tokens, SDK clients.

Tests name their own jobs and workspace folders, so they share the server without meeting.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support import Server, admin, alice, bob, carol

__all__ = ["admin", "alice", "bob", "carol", "server"]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("server_api"))
    try:
        srv.start()
        yield srv
    finally:
        srv.close()
