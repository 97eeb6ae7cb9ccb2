"""PostgreSQL reads run in autocommit (issue 18): no BEGIN/COMMIT round trips, same answers."""

from __future__ import annotations

import time

import pytest

from headrace.store.db import Store

pytestmark = pytest.mark.postgres


def _statement_is_its_own_transaction(conn) -> bool:  # type: ignore[no-untyped-def]
    """now() is the transaction's start; in autocommit each statement is one."""
    return bool(conn.execute("SELECT now() = statement_timestamp() AS own").first()[0])


def test_a_read_runs_each_statement_in_autocommit(pg_store: Store) -> None:
    with pg_store.read() as conn:
        conn.execute("SELECT 1 AS one")
        time.sleep(0.01)
        assert _statement_is_its_own_transaction(conn)
        assert conn.execute("SELECT value FROM counters WHERE name = 'run_id'").first()[0] == 999


def test_a_write_transaction_after_a_read_on_the_same_connection_is_one_transaction(
    pg_store: Store,
) -> None:
    """The pooled connection leaves a read with autocommit off again: a failed write
    transaction afterwards still rolls back everything it did."""
    with pg_store.read() as conn:
        conn.execute("SELECT 1 AS one")
    with pytest.raises(RuntimeError), pg_store.begin() as conn:
        conn.execute("UPDATE counters SET value = 5000 WHERE name = 'run_id'")
        time.sleep(0.01)
        assert not _statement_is_its_own_transaction(conn)
        raise RuntimeError("roll back")
    with pg_store.read() as conn:
        assert conn.execute("SELECT value FROM counters WHERE name = 'run_id'").first()[0] == 999


def test_a_failed_read_leaves_the_connection_usable(pg_store: Store) -> None:
    with pytest.raises(Exception, match="no_such_table"), pg_store.read() as conn:
        conn.execute("SELECT * FROM no_such_table")
    with pg_store.read() as conn:
        assert conn.execute("SELECT 2 AS two").first()[0] == 2
    with pg_store.begin() as conn:
        conn.execute("UPDATE counters SET value = value WHERE name = 'job_id'")
