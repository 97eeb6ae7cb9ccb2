"""Fixtures: one real `headrace server` for the DBFS, Files, Secrets and Token API tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support import Server, admin, alice, bob

__all__ = ["admin", "alice", "bob", "server"]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("workspace_api"), workers=2)
    try:
        srv.start()
        yield srv
    finally:
        srv.close()
