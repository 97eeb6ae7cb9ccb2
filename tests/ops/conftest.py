"""Fixtures for issue 16's features (plan, db copy, backfill, replay, priorities): the real
CLI (`hr`) over a private HEADRACE_HOME, and one real `headrace server` for API tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pg_support import pg_schema
from support import Server, hr, reap

__all__ = ["hr", "pg_schema", "reap", "server"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("server"), workers=2)
    try:
        srv.start()
        yield srv
    finally:
        srv.close()
