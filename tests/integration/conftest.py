"""Store tests run against a real SQLite file and a real PostgreSQL (one fresh schema per test).

PostgreSQL comes from `HEADRACE_TEST_PG_URL` (default postgresql://postgres@127.0.0.1:5432/test).
Its tests are skipped when the server is unreachable, unless `CI=true`: then they fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from headrace.config import database_url
from headrace.engine import coordinator as coordinator_module
from headrace.engine.coordinator import Coordinator
from headrace.store.db import Store, open_store
from pg_support import pg_base_url as _pg_base_url
from pg_support import with_search_path as _with_search_path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty store: a SQLite file, or a fresh schema on PostgreSQL."""
    if request.param == "sqlite":
        return database_url(str(tmp_path / "headrace.db"), tmp_path)
    schema = request.getfixturevalue("pg_schema")
    return _with_search_path(_pg_base_url(), schema)


@pytest.fixture
def pg_store(pg_schema: str) -> Iterator[Store]:
    """An opened store on PostgreSQL only, for interleavings that need row locks."""
    opened = open_store(_with_search_path(_pg_base_url(), pg_schema))
    try:
        yield opened
    finally:
        opened.dispose()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """An opened (migrated) store, disposed after the test."""
    opened = open_store(db_url)
    try:
        yield opened
    finally:
        opened.dispose()


@pytest.fixture
def coordinator(store: Store) -> Coordinator:
    return Coordinator(store, coordinator_id="it-worker")


class Clock:
    """A hand-driven replacement for the coordinator's clock (epoch ms)."""

    def __init__(self, start: int) -> None:
        self.now = start

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> int:
        self.now += ms
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Freeze the coordinator's clock at a real moment; tests move it with `advance`."""
    fake = Clock(coordinator_module.now_ms())
    monkeypatch.setattr(coordinator_module, "now_ms", fake)
    return fake
