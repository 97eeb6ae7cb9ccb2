"""A SQLite store on the stdlib `sqlite3` module: no SQLAlchemy on the hot path (issue 18).

Threads take sqlite3 connections from one small pool (WAL, synchronous=NORMAL, foreign keys, a
60 s busy timeout, autocommit mode so that the store itself says `BEGIN IMMEDIATE` for writes
and `BEGIN` for reads). Statements written as SQL text run on them directly. A SQLAlchemy
construct (queries off the hot path) runs through the *bridge*: an engine created on first use
whose connections borrow the sqlite3 connection of the running transaction, with commit,
rollback and close made no-ops, so the construct runs inside the transaction and `SqliteTx`
alone ends it. `store.engine` (migrations, tests, tools) is an ordinary SQLAlchemy engine of
the same file, also created on first use.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headrace.store.db import Store, with_hooks
from headrace.store.sql import SQLITE, Params, Result, expand

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=60000",
)

# The sqlite3 connection of the transaction that is asking the bridge for a connection.
_borrowing = threading.local()
# Idle connections kept for the next transaction; more are closed when their transaction ends
# (a server's short-lived threads must not each leave connections open: file descriptors).
MAX_IDLE = 8


class SqliteStore(Store):
    """A SQLite file as the store."""

    is_sqlite = True

    def __init__(self, url: str) -> None:
        path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else ""
        if not path or path == ":memory:":
            # Every sqlite3 connection would see its own empty database (migrations included).
            raise ValueError(
                "the store must be a file (sqlite:///PATH); in-memory SQLite is not one"
            )
        self.path = path
        _private_file(Path(self.path))
        super().__init__(url, Path(self.path))
        # SQLite's busy handler sleeps (1, 2, 5, 10 ms...) when its lock is taken; threads of
        # one process queue on this lock instead, which hands over without sleeping.
        self._write_lock = threading.Lock()
        self._opened: list[sqlite3.Connection] = []
        self._idle: list[sqlite3.Connection] = []
        self._busy: set[sqlite3.Connection] = set()  # in a transaction right now
        self._opened_lock = threading.Lock()
        self._trace: Callable[[str], None] | None = None
        self._engine: Engine | None = None
        self._bridge: Engine | None = None

    def _connect(self) -> sqlite3.Connection:
        raw = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        for pragma in _PRAGMAS:
            raw.execute(pragma)
        raw.set_trace_callback(self._trace)
        with self._opened_lock:
            self._opened.append(raw)
        return raw

    def trace(self, callback: Callable[[str], None] | None) -> None:
        """Call `callback(sql)` for every statement this store's connections run (None: stop);
        tests count queries with it, SQL text and bridged constructs alike."""
        self._trace = callback
        with self._opened_lock:
            for raw in self._opened:
                raw.set_trace_callback(callback)

    def _take(self) -> sqlite3.Connection:
        with self._opened_lock:  # taken and marked busy at once: dispose() closes idle ones
            raw = self._idle.pop() if self._idle else None
            if raw is not None:
                self._busy.add(raw)
        if raw is None:
            raw = self._connect()
            with self._opened_lock:
                self._busy.add(raw)
        return raw

    def _give(self, raw: sqlite3.Connection) -> None:
        with self._opened_lock:
            self._busy.discard(raw)
            # Not in _opened: dispose() ran meanwhile. Either way, close what is not kept.
            kept = raw in self._opened and len(self._idle) < MAX_IDLE
            if kept:
                self._idle.append(raw)
            elif raw in self._opened:
                self._opened.remove(raw)
        if not kept:
            with contextlib.suppress(sqlite3.Error):
                raw.close()

    @contextmanager
    def begin(self) -> Iterator[SqliteTx]:
        """One immediate (write-locking) transaction, so writers queue up.

        Callables added with `before_commit(conn, hook)` run last inside the transaction.
        Raises: StoreError (the store file was deleted or replaced).
        """
        self.check_file()
        with self._write_lock:
            yield from self._transaction("BEGIN IMMEDIATE", hooks=True)

    @contextmanager
    def read(self) -> Iterator[SqliteTx]:
        """One read-only transaction; it takes no write lock."""
        yield from self._transaction("BEGIN", hooks=False)

    def _transaction(self, begin: str, *, hooks: bool) -> Iterator[SqliteTx]:
        raw = self._take()
        tx = SqliteTx(self, raw)
        try:
            raw.execute(begin)
            if hooks:
                yield from with_hooks(tx)
            else:
                yield tx
            tx.release_bridge()
            raw.execute("COMMIT")
            if hooks:
                self.committed()
        except BaseException:
            tx.release_bridge()
            if raw.in_transaction:
                raw.execute("ROLLBACK")
            self.rolled_back()
            raise
        finally:
            self._give(raw)

    @property
    def engine(self) -> Engine:
        """An ordinary SQLAlchemy engine of this file (loads SQLAlchemy: off the hot path)."""
        if self._engine is None:
            self._engine = sqlalchemy_engine(self.url)
        return self._engine

    def bridge(self) -> Engine:
        """The engine whose connections borrow the running transaction's sqlite3 connection."""
        if self._bridge is None:
            from sqlalchemy import create_engine
            from sqlalchemy.pool import NullPool

            self._bridge = create_engine(
                "sqlite://", creator=_Borrowed, poolclass=NullPool, pool_reset_on_return=None
            )
        return self._bridge

    def dispose(self) -> None:
        """Close the idle connections; one in a transaction closes when the transaction ends
        (as SQLAlchemy's engine.dispose() does with checked-out connections)."""
        with self._opened_lock:
            idle = [raw for raw in self._opened if raw not in self._busy]
            self._opened, self._idle = [], []
        for raw in idle:
            with contextlib.suppress(sqlite3.Error):
                raw.close()
        if self._engine is not None:
            self._engine.dispose()


class _Borrowed:
    """A DB-API connection for the bridge: the transaction's sqlite3 connection, which only
    `SqliteTx` may commit, roll back or close."""

    def __init__(self) -> None:
        self._raw: sqlite3.Connection = _borrowing.raw

    def commit(self) -> None:
        pass

    def rollback(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


class SqliteTx:
    """One transaction of a SqliteStore: SQL text on sqlite3, constructs through the bridge."""

    dialect = SQLITE

    def __init__(self, store: SqliteStore, raw: sqlite3.Connection) -> None:
        self.store = store
        self.raw = raw
        self.info: dict[str, Any] = {}
        self._sa: Connection | None = None

    def execute(self, statement: Any, params: Params = None) -> Any:
        if type(statement) is not str:
            return self.sqlalchemy().execute(statement, params)
        if params is None:
            return Result(self.raw.execute(statement))
        if isinstance(params, list | tuple):
            return Result(self.raw.executemany(statement, params))
        sql, flat = expand(statement, params)
        return Result(self.raw.execute(sql, flat))

    def sqlalchemy(self) -> Connection:
        """A SQLAlchemy connection inside this transaction (loads SQLAlchemy)."""
        if self._sa is None:
            _borrowing.raw = self.raw
            try:
                self._sa = self.store.bridge().connect()
            finally:
                _borrowing.raw = None
        return self._sa

    def release_bridge(self) -> None:
        if self._sa is not None:
            sa, self._sa = self._sa, None
            sa.close()  # its rollback is a no-op: the transaction is ours to end

    def __getattr__(self, name: str) -> Any:
        # Anything else SQLAlchemy's Connection offers (execution_options, ...).
        return getattr(self.sqlalchemy(), name)


def _private_file(path: Path) -> None:
    """Create the store's folder (0700) and file (0600) if new: they hold every job, run and
    notification setting (issue 11). SQLite gives its -wal and -shm files the file's mode."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def sqlalchemy_engine(url: str) -> Engine:
    """A SQLAlchemy engine of the SQLite file at `url`, with the store's pragmas and
    `BEGIN IMMEDIATE` for `engine.begin()` (what every store used before issue 18)."""
    from sqlalchemy import create_engine, event

    engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        # Let SQLAlchemy's begin() emit BEGIN IMMEDIATE instead of pysqlite's deferred BEGIN:
        # deferred transactions that later write can deadlock under concurrent writers.
        dbapi_conn.isolation_level = None
        for pragma in _PRAGMAS:
            dbapi_conn.execute(pragma)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        read = conn.get_execution_options().get("headrace_read", False)
        conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")

    return engine
