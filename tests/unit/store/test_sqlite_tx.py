"""The SQLite store's transactions on stdlib sqlite3 (issue 18): SQL text, IN lists, rows like
SQLAlchemy's, and SQLAlchemy constructs run inside the same transaction through the bridge."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from headrace.store.db import StoreError, open_store
from headrace.store.schema import counters
from headrace.store.sql import expand
from headrace.store.sqlite import MAX_IDLE


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    store = open_store(f"sqlite:///{tmp_path / 'h.db'}")
    yield store
    store.dispose()


def test_expand_spreads_list_parameters_into_in_lists() -> None:
    sql, params = expand("x IN :keys AND y = :keys_other", {"keys": ["a", "b"], "keys_other": 1})
    assert sql == "x IN (:keys__0, :keys__1) AND y = :keys_other"
    assert params == {"keys__0": "a", "keys__1": "b", "keys_other": 1}


def test_rows_have_attributes_mapping_and_scalars(store) -> None:  # type: ignore[no-untyped-def]
    with store.read() as conn:
        rows = conn.execute(
            "SELECT name, value, count(*) FROM counters WHERE name IN :names GROUP BY name, value"
            " ORDER BY name",
            {"names": ["job_id", "run_id"]},
        ).all()
        assert [r.name for r in rows] == ["job_id", "run_id"]
        assert rows[1]._mapping == {"name": "run_id", "value": 999, "count(*)": 1}
        name, value, _ = rows[0]
        assert (name, value) == ("job_id", 0)
        result = conn.execute("SELECT value FROM counters ORDER BY name")
        assert result.scalars().all() == [0, 999]
        assert conn.execute("SELECT value FROM counters WHERE 0").scalar() is None


def test_sqlalchemy_constructs_run_inside_the_same_transaction(store) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuntimeError), store.begin() as conn:
        conn.execute("UPDATE counters SET value = 5 WHERE name = 'job_id'")
        seen = conn.execute(select(counters.c.value).where(counters.c.name == "job_id"))
        assert seen.scalar_one() == 5  # the construct sees the text statement's change
        conn.execute(counters.update().values(value=7))
        raise RuntimeError("roll back")
    with store.read() as conn:  # both were rolled back together
        assert conn.execute("SELECT value FROM counters WHERE name = 'job_id'").scalar() == 0
    with store.begin() as conn:
        conn.execute(counters.update().where(counters.c.name == "job_id").values(value=3))
    with store.read() as conn:
        assert conn.execute("SELECT value FROM counters WHERE name = 'job_id'").scalar() == 3


def test_rollback_hooks_run_on_a_failed_transaction(store) -> None:  # type: ignore[no-untyped-def]
    calls: list[int] = []
    store.on_rollback(lambda: calls.append(1))
    with store.begin() as conn:
        conn.execute("SELECT 1")
    assert calls == []
    with pytest.raises(ValueError), store.begin():
        raise ValueError
    assert calls == [1]


def test_opening_an_existing_sqlite_store_does_not_import_sqlalchemy(store) -> None:  # type: ignore[no-untyped-def]
    code = (
        "import sys\n"
        "from headrace.store.db import open_store\n"
        "from headrace.store import runs\n"
        f"s = open_store({store.url!r})\n"
        "with s.begin() as c:\n"
        "    runs.allocate_ids(c, 2)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'alembic')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_dispose_leaves_a_running_transaction_to_finish(store) -> None:  # type: ignore[no-untyped-def]
    with store.read() as conn:
        conn.execute("SELECT 1")  # this thread now has an idle connection
    with store.begin() as conn:
        store.dispose()  # as a server shutting down while a worker thread commits
        conn.execute("UPDATE counters SET value = 4 WHERE name = 'job_id'")
    with store.read() as conn:  # a new connection after dispose
        assert conn.execute("SELECT value FROM counters WHERE name = 'job_id'").scalar() == 4


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_short_lived_threads_leave_no_connections_open(store) -> None:  # type: ignore[no-untyped-def]
    """A server starts threads per pipeline update and cluster start: each thread's
    transactions must not leave sqlite3 connections (file descriptors) behind when it ends."""
    with store.begin() as conn:  # the pool's first connection, before counting
        conn.execute("SELECT 1")
    before = _open_fds()

    def one_transaction() -> None:
        with store.begin() as conn:
            conn.execute("UPDATE counters SET value = value + 1 WHERE name = 'job_id'")

    for _ in range(100):
        thread = threading.Thread(target=one_transaction)
        thread.start()
        thread.join()
    assert _open_fds() - before <= 2 * MAX_IDLE  # was 2 per thread: 200


def test_an_in_memory_store_is_refused_by_name() -> None:
    """Each sqlite3 connection would see its own empty database: refuse it, say why."""
    with pytest.raises(StoreError, match="in-memory SQLite"):
        open_store("sqlite:///:memory:")
