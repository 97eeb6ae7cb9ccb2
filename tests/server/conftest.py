"""API fixtures: one real `headrace server` for the session, users with tokens, SDK clients.

Tests that stop or kill a server start their own (see test_restart.py); the shared one is
only ever used through the API, and every test names its own jobs, so tests stay apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support import Server, admin, alice, bob, reap

__all__ = ["admin", "alice", "bob", "files", "reap", "server"]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("server"), workers=6)
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A folder for the test's task scripts and the files its tasks write."""
    return tmp_path
