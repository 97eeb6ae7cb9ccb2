"""How the store runs SQL text (issue 18): on PostgreSQL one reused psycopg cursor per
connection, rows read at once, list parameters as one untyped array literal. The same answers
on SQLite and PostgreSQL; errors are SQLAlchemy's; a failed transaction leaves nothing."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import exc as sa_exc

from headrace.store.db import Store
from pg_support import admin

# Strings an array literal must quote: quotes, backslashes, commas, braces, blanks, the word
# NULL, an empty string, %-formats, non-ASCII.
ODD = ['a"b', "c\\d", "e,f", "{g}", " h ", "NULL", "", "100%", "%(x)s", "%s", "é ✓", "i'j"]


def _table(conn) -> None:  # type: ignore[no-untyped-def]
    conn.execute("CREATE TABLE probe (id BIGINT PRIMARY KEY, s TEXT, n INTEGER)")
    rows = [{"id": i + 1, "s": s, "n": i} for i, s in enumerate(ODD)]
    conn.execute("INSERT INTO probe (id, s, n) VALUES (:id, :s, :n)", rows)


def test_list_parameters_of_ints_strings_and_empty_lists_round_trip(store: Store) -> None:
    with store.begin() as conn:
        _table(conn)
        for odd in ODD:
            found = conn.execute("SELECT s FROM probe WHERE s IN :k", {"k": [odd]}).scalars()
            assert found.all() == [odd]
        got = conn.execute("SELECT s FROM probe WHERE s IN :k ORDER BY id", {"k": ODD})
        assert got.scalars().all() == ODD
        assert conn.execute("SELECT s FROM probe WHERE s IN :k", {"k": []}).all() == []
        ids = conn.execute("SELECT id FROM probe WHERE id IN :k ORDER BY id", {"k": (3, 1, 99)})
        assert ids.scalars().all() == [1, 3]
        big = conn.execute("SELECT count(*) FROM probe WHERE id IN :k", {"k": [2**40, 2]})
        assert big.scalar() == 1
        assert conn.execute("SELECT count(*) FROM probe WHERE id IN :k", {"k": []}).scalar() == 0
        # None in a list matches nothing (x = NULL is not true), as in an IN list.
        assert conn.execute("SELECT s FROM probe WHERE s IN :k", {"k": [None, "e,f"]}).all() == [
            ("e,f",)
        ]
        # Two lists and plain parameters in one statement, an UPDATE's row count.
        updated = conn.execute(
            "UPDATE probe SET n = n + :d WHERE id IN :ids AND s IN :ss",
            {"d": 100, "ids": [1, 2, 3], "ss": ['a"b', "e,f"]},
        )
        assert updated.rowcount == 2
        assert conn.execute("SELECT n FROM probe WHERE id = :i", {"i": 3}).scalar() == 102


def test_percent_signs_and_odd_values_as_parameters_round_trip(store: Store) -> None:
    with store.begin() as conn:
        _table(conn)
        for i, odd in enumerate(ODD):
            row = conn.execute("SELECT s, '%' AS p FROM probe WHERE s = :s", {"s": odd}).one()
            assert (row.s, row.p) == (odd, "%")
            assert conn.execute("SELECT :v AS v", {"v": odd}).scalar() == odd
            assert conn.execute("SELECT id FROM probe WHERE s = :s", {"s": odd}).scalar() == i + 1
        assert conn.execute("SELECT '%(x)s' || :v AS v", {"v": "%"}).scalar() == "%(x)s%"


def test_rows_stay_readable_after_later_statements(store: Store) -> None:
    """A result read after the next statement ran still has its own rows (PostgreSQL: one
    cursor per connection, so rows are read when the statement runs)."""
    with store.begin() as conn:
        _table(conn)
        first = conn.execute("SELECT id, s FROM probe WHERE id <= 2 ORDER BY id")
        second = conn.execute("SELECT n FROM probe WHERE id = 5")
        third = conn.execute("UPDATE probe SET n = 7 WHERE id = 6")
        assert [(r.id, r.s) for r in first] == [(1, ODD[0]), (2, ODD[1])]
        assert first.all()[1]._mapping == {"id": 2, "s": ODD[1]}
        assert second.scalar_one() == 4 and third.rowcount == 1
        assert conn.execute("SELECT count(*) AS c FROM probe").one().c == len(ODD)


def test_a_failed_statement_raises_sqlalchemys_error_and_leaves_nothing(store: Store) -> None:
    """PostgreSQL: SQLAlchemy's exceptions, as before; SQLite: sqlite3's (store/sqlite.py)."""
    integrity, failed = (
        (sqlite3.IntegrityError, sqlite3.OperationalError)
        if store.is_sqlite
        else (sa_exc.IntegrityError, sa_exc.ProgrammingError)
    )
    with store.begin() as conn:
        _table(conn)
    for _ in range(8):  # past psycopg's prepare threshold: prepared statements too
        with pytest.raises(integrity), store.begin() as conn:
            conn.execute("UPDATE probe SET n = -1 WHERE id IN :ids", {"ids": [1, 2]})
            conn.execute(
                "INSERT INTO probe (id, s, n) VALUES (:id, :s, :n)", {"id": 3, "s": "x", "n": 0}
            )
        with store.read() as conn:
            assert conn.execute("SELECT count(*) FROM probe WHERE n < 0").scalar() == 0
    with pytest.raises(failed, match="no_such_table"), store.begin() as conn:
        conn.execute("DELETE FROM probe WHERE id = :i", {"i": 1})
        conn.execute("SELECT * FROM no_such_table WHERE x = :x", {"x": 1})
    with store.begin() as conn:  # the connection (and its cursor) go on
        assert conn.execute("SELECT count(*) FROM probe").scalar() == len(ODD)
        conn.execute("DELETE FROM probe WHERE id IN :ids", {"ids": [1]})
    with store.read() as conn:
        assert conn.execute("SELECT count(*) FROM probe").scalar() == len(ODD) - 1


@pytest.mark.postgres
def test_a_lost_connection_is_replaced_with_its_cursor(pg_store: Store) -> None:
    with pg_store.begin() as conn:
        _table(conn)
        pid = conn.execute("SELECT pg_backend_pid()").scalar()
    admin(f"SELECT pg_terminate_backend({int(pid)})")  # the pool's one connection
    with pytest.raises(sa_exc.OperationalError), pg_store.begin() as conn:
        conn.execute("SELECT s FROM probe WHERE id = :i", {"i": 1})
    for _ in range(3):
        with pg_store.begin() as conn:
            assert conn.execute("SELECT s FROM probe WHERE id = :i", {"i": 1}).scalar() == ODD[0]
            assert conn.execute("SELECT pg_backend_pid()").scalar() != pid


def _prepared(conn) -> list[str]:  # type: ignore[no-untyped-def]
    rows = conn.execute("SELECT statement FROM pg_prepared_statements").scalars().all()
    return [s for s in rows if "probe" in s]


@pytest.mark.postgres
def test_statements_are_prepared_and_survive_rollbacks_and_ddl(pg_store: Store) -> None:
    """Statements on the connection's reused cursor use psycopg's prepared-statement
    manager: prepared after its threshold, cleared with the server's after a ROLLBACK or
    DDL, then prepared again."""
    with pg_store.begin() as conn:
        _table(conn)
    select = "SELECT * FROM probe WHERE id = :i AND s IS NOT NULL"
    with pg_store.begin() as conn:
        for _ in range(8):
            assert conn.execute(select, {"i": 2}).one().s == ODD[1]
        assert any("s IS NOT NULL" in s for s in _prepared(conn))
    with pytest.raises(RuntimeError), pg_store.begin() as conn:
        conn.execute("UPDATE probe SET n = 50 WHERE id = :i", {"i": 2})
        raise RuntimeError("roll back")
    with pg_store.begin() as conn:
        assert _prepared(conn) == []  # psycopg deallocated all after the rollback
        for _ in range(8):
            assert conn.execute(select, {"i": 2}).one().n == 1
        assert _prepared(conn)
        conn.execute("ALTER TABLE probe ADD COLUMN z INTEGER DEFAULT 9")
        row = conn.execute(select, {"i": 2}).one()  # no "cached plan must not change"
        assert (row.n, row.z) == (1, 9)


@pytest.mark.postgres
def test_text_without_parameters_may_hold_several_statements(pg_store: Store) -> None:
    """As on a psycopg cursor: the simple protocol, the first statement's rows."""
    with pg_store.begin() as conn:
        assert conn.execute("SELECT 1 AS a; SELECT 2 AS b").all() == [(1,)]
        assert conn.execute("").all() == []


@pytest.mark.postgres
def test_text_and_sqlalchemy_constructs_share_a_transaction_and_prepared_statements(
    pg_store: Store,
) -> None:
    """Constructs run on SQLAlchemy's cursors, text on the reused cursor: one transaction, one
    prepared-statement manager (psycopg names them apart), a rollback undoes both."""
    from sqlalchemy import column, select, table

    probe = table("probe", column("id"), column("s"), column("n"))
    with pg_store.begin() as conn:
        _table(conn)
    with pytest.raises(RuntimeError), pg_store.begin() as conn:
        for i in range(1, 9):  # past the prepare threshold on both paths
            conn.execute("UPDATE probe SET n = n + 10 WHERE id = :i", {"i": i})
            got = conn.execute(select(probe.c.n).where(probe.c.id == i)).scalar_one()
            assert got == i - 1 + 10
        raise RuntimeError("roll back")
    with pg_store.begin() as conn:
        for i in range(1, 9):
            conn.execute("UPDATE probe SET n = n + 10 WHERE id = :i", {"i": i})
            assert conn.execute(select(probe.c.n).where(probe.c.id == i)).scalar_one() == i + 9
    with pg_store.read() as conn:
        assert conn.execute("SELECT sum(n) FROM probe WHERE id <= 8").scalar() == 28 + 80
