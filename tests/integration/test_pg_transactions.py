"""A PostgreSQL store transaction (store/pg.py) runs on the pooled psycopg connection and makes a
SQLAlchemy connection only for constructs and errors (issue 18): what callers rely on stays."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from headrace.store.db import Store, before_commit
from pg_support import admin

pytestmark = pytest.mark.postgres

ITEMS = sa.table("items", sa.column("id"), sa.column("note"))


@pytest.fixture
def store(pg_store: Store) -> Iterator[Store]:
    with pg_store.begin() as tx:
        tx.execute("CREATE TABLE items (id integer PRIMARY KEY, note text NOT NULL)")
        tx.execute("CREATE TABLE parents (id integer PRIMARY KEY)")
        tx.execute(
            "CREATE TABLE children (parent integer REFERENCES parents (id)"
            " DEFERRABLE INITIALLY DEFERRED)"
        )
    yield pg_store


def _ids(store: Store) -> list[int]:
    with store.read() as tx:
        return [row.id for row in tx.execute("SELECT id FROM items ORDER BY id").all()]


def _backend(tx) -> int:  # type: ignore[no-untyped-def]
    return int(tx.execute("SELECT pg_backend_pid() AS pid").scalar())


def _hooks(store: Store) -> list[str]:
    calls: list[str] = []
    store.on_commit(lambda: calls.append("committed"))
    store.on_rollback(lambda: calls.append("rolled back"))
    return calls


def test_a_statement_error_rolls_back_and_raises_sqlalchemys_exception(store: Store) -> None:
    calls = _hooks(store)
    with pytest.raises(sa_exc.IntegrityError) as raised, store.begin() as tx:
        tx.execute("INSERT INTO items VALUES (1, 'a')")
        tx.execute("INSERT INTO items VALUES (1, 'again')")
    assert "duplicate key" in str(raised.value.orig)
    assert not raised.value.connection_invalidated
    assert calls == ["rolled back"]
    assert _ids(store) == []
    with store.begin() as tx:  # the connection went back clean: not in a failed transaction
        tx.execute("INSERT INTO items VALUES (2, 'b')")
    assert _ids(store) == [2]
    assert calls == ["rolled back", "committed"]


def test_a_failing_commit_raises_sqlalchemys_exception_and_rolls_back(store: Store) -> None:
    calls = _hooks(store)
    with pytest.raises(sa_exc.IntegrityError, match="children"), store.begin() as tx:
        tx.execute("INSERT INTO items VALUES (1, 'a')")
        tx.execute("INSERT INTO children VALUES (7)")  # checked at COMMIT
    assert calls == ["rolled back"]
    assert _ids(store) == []
    with store.begin() as tx:
        tx.execute("INSERT INTO items VALUES (3, 'c')")
    assert _ids(store) == [3]


@pytest.mark.parametrize("ending", ["commit", "rollback"])
def test_a_ctrl_c_while_the_transaction_ends_stays_a_keyboard_interrupt(
    store: Store, monkeypatch: pytest.MonkeyPatch, ending: str
) -> None:
    """An interrupt arriving during COMMIT (or the ROLLBACK after a failed body) reaches the
    caller as KeyboardInterrupt: not an AssertionError from SQLAlchemy's handler, which the
    worker's and loops' `except Exception` retries would swallow, nor the body's error."""
    import psycopg

    real = getattr(psycopg.Connection, ending)

    def interrupted(self):  # type: ignore[no-untyped-def]
        real(self)
        raise KeyboardInterrupt

    monkeypatch.setattr(psycopg.Connection, ending, interrupted)
    with pytest.raises(KeyboardInterrupt), store.begin() as tx:
        tx.execute("INSERT INTO items VALUES (1, 'a')")
        if ending == "rollback":
            raise ValueError("the body failed")
    monkeypatch.undo()
    with store.begin() as tx:  # the store goes on
        tx.execute("INSERT INTO items VALUES (2, 'b')")
    assert _ids(store) == ([1, 2] if ending == "commit" else [2])


def test_a_python_error_rolls_back_text_and_constructs_alike(store: Store) -> None:
    calls = _hooks(store)
    with pytest.raises(RuntimeError), store.begin() as tx:
        tx.execute("INSERT INTO items VALUES (1, 'text')")
        tx.execute(sa.insert(ITEMS).values(id=2, note="construct"))
        tx.execute("INSERT INTO items VALUES (3, 'text again')")
        raise RuntimeError("no")
    assert calls == ["rolled back"]
    assert _ids(store) == []


def test_constructs_and_text_in_one_transaction_commit_together(store: Store) -> None:
    calls = _hooks(store)
    with store.begin() as tx:
        tx.execute("INSERT INTO items VALUES (1, 'text')")
        tx.execute(sa.insert(ITEMS).values(id=2, note="construct"))
        tx.execute("INSERT INTO items VALUES (3, 'text again')")
        # each side sees the other's uncommitted rows: one transaction
        assert tx.execute(sa.select(sa.func.count()).select_from(ITEMS)).scalar() == 3
        assert tx.execute("SELECT count(*) AS n FROM items").scalar() == 3
        assert tx.sqlalchemy().in_transaction()
    assert calls == ["committed"]
    assert _ids(store) == [1, 2, 3]


def test_before_commit_hooks_run_in_the_transaction_and_a_failing_one_rolls_it_back(
    store: Store,
) -> None:
    calls = _hooks(store)
    with store.begin() as tx:
        tx.execute("INSERT INTO items VALUES (1, 'a')")
        before_commit(tx, lambda t: t.execute("INSERT INTO items VALUES (2, 'hook')"))
    assert _ids(store) == [1, 2]

    def fails(t) -> None:  # type: ignore[no-untyped-def]
        t.execute("INSERT INTO items VALUES (4, 'hook')")
        raise RuntimeError("hook failed")

    with pytest.raises(RuntimeError, match="hook failed"), store.begin() as tx:
        tx.execute("INSERT INTO items VALUES (3, 'a')")
        before_commit(tx, fails)
    assert _ids(store) == [1, 2]
    assert calls == ["committed", "rolled back"]
    with store.begin() as tx:  # no hook carried on by the pooled connection
        tx.execute("INSERT INTO items VALUES (5, 'e')")
    assert _ids(store) == [1, 2, 5]


def test_a_read_leaves_the_connection_out_of_autocommit(store: Store) -> None:
    calls = _hooks(store)
    with store.read() as tx:
        first = _backend(tx)
        tx.execute(sa.select(ITEMS.c.id))  # a construct in a read, too
    with pytest.raises(RuntimeError), store.begin() as tx:
        assert _backend(tx) == first  # the same pooled connection
        tx.execute("INSERT INTO items VALUES (1, 'a')")
        raise RuntimeError("roll back")
    assert _ids(store) == []  # it was one transaction, rolled back
    assert calls == ["rolled back"]  # reads never call the commit hooks


def test_a_connection_keeps_its_cursor_across_transactions(store: Store) -> None:
    with store.begin() as tx:
        pid = _backend(tx)
        cursor = tx.info["headrace_cursor"]
    with store.read() as tx:
        assert _backend(tx) == pid
        assert tx.info["headrace_cursor"] is cursor


@pytest.mark.parametrize("when", ["statement", "commit"])
def test_a_killed_backend_is_invalidated_and_never_handed_out_again(
    store: Store, when: str
) -> None:
    calls = _hooks(store)
    with store.begin() as tx:
        killed = _backend(tx)
    with pytest.raises(sa_exc.OperationalError) as raised, store.begin() as tx:
        tx.execute("INSERT INTO items VALUES (1, 'a')")
        admin(f"SELECT pg_terminate_backend({killed})")
        if when == "statement":
            tx.execute("INSERT INTO items VALUES (2, 'b')")
    assert raised.value.connection_invalidated
    assert calls == ["committed", "rolled back"]
    for _ in range(3):  # no transaction gets the dead connection again
        with store.begin() as tx:
            assert _backend(tx) != killed
    assert _ids(store) == []


def test_a_backend_killed_while_idle_in_the_pool_is_not_used_after_the_idle_ping(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from headrace.store import pg

    monkeypatch.setattr(pg, "PING_AFTER_IDLE_SECONDS", 0.0)
    with store.begin() as tx:
        killed = _backend(tx)
    admin(f"SELECT pg_terminate_backend({killed})")
    with store.begin() as tx:  # the checkout's ping finds it dead: another connection
        assert _backend(tx) != killed
        tx.execute("INSERT INTO items VALUES (1, 'a')")
    assert _ids(store) == [1]


def test_an_unreachable_server_raises_sqlalchemys_exception() -> None:
    from headrace.store.pg import PgStore

    store = PgStore("postgresql+psycopg://postgres@127.0.0.1:1/test")
    calls = _hooks(store)
    try:
        with pytest.raises(sa_exc.OperationalError), store.begin():
            pass
        with pytest.raises(sa_exc.OperationalError), store.read():
            pass
    finally:
        store.dispose()
    assert calls == ["rolled back", "rolled back"]
