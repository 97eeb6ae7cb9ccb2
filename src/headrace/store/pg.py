"""A PostgreSQL store: SQLAlchemy's engine and pool; a transaction is a pooled psycopg
connection that SQL text runs straight on and that commits or rolls back itself; a SQLAlchemy
connection around it (same transaction) is made only for constructs and errors."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache, partial
from typing import Any

from psycopg import pq
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import PoolProxiedConnection

from headrace.store.db import Store, with_hooks
from headrace.store.sql import Params, Result, expand, row_class


class PgStore(Store):
    """A PostgreSQL database (any SQLAlchemy URL but SQLite's) as the store."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._engine = create_engine(url)
        _ping_when_idle(self._engine)
        self.url = self._engine.url.render_as_string(hide_password=False)

    @property
    def engine(self) -> Engine:
        return self._engine

    @contextmanager
    def begin(self) -> Iterator[PgTx]:
        """A pooled connection, committed or rolled back here on psycopg: SQLAlchemy's
        `engine.begin()` (Connection, RootTransaction, their events and close) cost ~50 us of
        Python per transaction, as much as psycopg's own statement and commit (issue 18). The
        same pool, checkout/checkin events, exceptions and invalidation as before: a
        SQLAlchemy connection takes over the transaction as `engine.begin()` would have held it
        once a construct runs or anything fails (PgTx.sqlalchemy)."""
        try:
            tx = PgTx(None, self._engine, self._checkout(), begun=True)
            try:
                try:
                    yield from with_hooks(tx)
                except BaseException as exc:
                    tx._end(exc)
                    raise
                tx._end(None)
            finally:
                tx._close()
        except BaseException:
            self.rolled_back()
            raise
        self.committed()

    @contextmanager
    def read(self) -> Iterator[PgTx]:
        """Reads in autocommit: no BEGIN and COMMIT round trips (~0.1 ms of client and backend
        CPU per read, issue 18). The same answers: under READ COMMITTED every statement takes
        its own snapshot inside a transaction too, and no read takes a lock or writes."""
        try:
            tx = PgTx(None, self._engine, self._checkout(), begun=False)
            try:
                raw = tx._fairy.dbapi_connection
                raw.autocommit = True
                try:
                    yield tx
                finally:
                    if not raw.closed:  # a lost connection is invalidated, not reused
                        raw.autocommit = False
            finally:
                tx._close()
        except BaseException:
            self.rolled_back()
            raise

    def _checkout(self) -> PoolProxiedConnection:
        """A pooled connection (the pool's checkout events: the idle ping), a failure to
        connect raised as SQLAlchemy's exception, as `engine.connect()` raises it."""
        engine = self._engine
        try:
            return engine.raw_connection()
        except engine.dialect.loaded_dbapi.Error as err:
            Connection._handle_dbapi_exception_noconnection(err, engine.dialect, engine)
            raise

    def dispose(self) -> None:
        self._engine.dispose()


# A pooled connection idle this long is checked (one round trip) before it is handed out.
PING_AFTER_IDLE_SECONDS = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """Check pooled connections before use, as `pool_pre_ping` does, but only those that sat
    idle: a worker reporting task after task reuses its connection within milliseconds, and a
    ping there is one round trip in every ~10 of a task's end (issue 18). A connection cut
    while in use fails its statement instead, which the callers already survive: a worker
    retries its report, the API answers 503 with Retry-After, the loops go on next turn, and
    SQLAlchemy then replaces every pooled connection the cut may have reached."""

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_conn: Any, record: Any) -> None:
        record.info["headrace_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("headrace_idle_since")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # the pool drops it and opens another (up to 3 times)
            raise DisconnectionError(f"pooled connection is dead: {exc}") from exc


# A `:name` parameter, found as SQLAlchemy's text() finds it (not `::`, not `\\:`).
_BIND = re.compile(r"(?<![:\w\x5c]):(\w+)(?![:\w])")
_SEQUENCES = (list, tuple)
_STR, _INT = frozenset((str,)), frozenset((int,))
_TUPLES_OK = pq.ExecStatus.TUPLES_OK


@lru_cache(maxsize=2048)
def _pyformat(sql: str) -> bytes | str:
    """SQL text with `:name` parameters as psycopg takes it (`%(name)s`, a literal % doubled),
    rendered as SQLAlchemy's text() renders it for psycopg. ASCII text comes back as bytes,
    the same in every client encoding: psycopg would encode the text on every execute (~1 us
    a statement), and one bytes object per text lets a cursor keep its adapters when it runs
    the same statement again."""
    text = _BIND.sub(r"%(\1)s", sql.replace("%", "%%")).replace("\\:", ":")
    return text.encode("ascii") if text.isascii() else text


@lru_cache(maxsize=1024)
def _with_arrays(sql: str, lists: tuple[str, ...]) -> bytes | str | None:
    """`x IN :keys` -> `x = ANY(%(keys)s)` with the list as one array parameter: one statement
    text (prepared once) whatever the list's length, and one parameter instead of hundreds (a
    fan-in's count-down names every child). None if a list parameter is used otherwise (then
    the list is spread into an IN list, as on SQLite)."""
    for key in lists:
        uses = len(re.findall(rf"(?<![:\w\x5c]):{key}(?![:\w])", sql))
        if re.search(rf"\bNOT\s+IN\s+:{key}(?![:\w])", sql, re.IGNORECASE):
            return None
        sql, found = re.subn(rf"\bIN\s+:{key}(?![:\w])", f"= ANY(:{key})", sql, flags=re.I)
        if found != uses:
            return None
    return _pyformat(sql)


def _array(values: list[Any] | tuple[Any, ...]) -> Any:
    """The `= ANY(...)` parameter of a list: an array literal as untyped text, which the
    server reads as an array of the other side's type (as it reads a literal `'{1,2}'`).
    psycopg's own list dumping looks at every element to pick a type and costs ~40 us a list
    (a task's end has ~5 lists, issue 18); this is ~1 us. Lists of anything but ints, strings
    and None go to psycopg as lists."""
    kinds = {*map(type, values)}
    if kinds == _STR:  # one join (a fan-in's task keys, the states a guard allows)
        joined = '","'.join(values)  # no quote or backslash but the separators' quotes:
        if joined.count('"') == 2 * len(values) - 2 and "\\" not in joined:
            return '{"' + joined + '"}'
    elif kinds == _INT:
        return "{" + ",".join(map(str, values)) + "}"
    parts = []
    for v in values:
        t = type(v)
        if t is int:
            parts.append(str(v))
        elif t is str:  # quoted, so "NULL", "" and "a,b" stay strings
            parts.append('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"')
        elif v is None:
            parts.append("NULL")
        else:
            return list(values)
    return "{" + ",".join(parts) + "}"


class _PgResult(Result):
    """The rows of one psycopg statement (store/sql.py Result), read at once: the next
    statement on the connection reuses its cursor."""

    __slots__ = ()

    def __init__(self, rowcount: int, rows: list[Any]) -> None:
        self._cursor = self._cls = None
        self.rowcount = rowcount
        self._rows = rows


# Row makers by the result's column names as libpq gives them (bytes): reading the names
# from the result costs ~2 us for 33 columns, psycopg's `description` builds an object per
# column. Keyed on the names, not the SQL text: one `SELECT *` may name its columns in
# another order in another database (a migrated table has its added columns last).
_ROW_MAKERS: dict[tuple[bytes, ...], Callable[[Any], Any]] = {}


def _cursor_rows(cursor: Any) -> Callable[[Any], Any]:
    """The row factory of a cursor: rows of store/sql.py's row classes. psycopg's C row
    loader builds a tuple and calls this, a C call (`tuple.__new__(RowClass, values)`), no
    Python frame per row."""
    result = cursor.pgresult
    if result is None or not result.nfields:
        return tuple
    names = tuple([result.fname(i) for i in range(result.nfields)])
    make = _ROW_MAKERS.get(names)
    if make is None:
        encoding = cursor.connection.info.encoding
        make = partial(tuple.__new__, row_class(tuple(n.decode(encoding) for n in names)))
        if len(_ROW_MAKERS) < 4096:  # statements are few; a bound all the same
            _ROW_MAKERS[names] = make
    return make


def _from_cursor(cursor: Any) -> _PgResult:
    result = cursor.pgresult
    if result is not None and result.status == _TUPLES_OK and result.nfields:
        return _PgResult(cursor.rowcount, cursor.fetchall())
    return _PgResult(cursor.rowcount, [])


# The key in a pooled connection's `info` (SQLAlchemy clears it when it reconnects) of the
# connection's reused psycopg cursor: a new cursor per statement costs ~15 us (adapters map,
# transformer; issue 18).
_CURSOR = "headrace_cursor"


class PgTx:
    """One transaction of a PgStore: a pooled psycopg connection. SQL text runs on it
    (SQLAlchemy's execution path costs ~60 us of Python per statement, as much as psycopg
    itself, and a task's end is ~7 statements: issue 18), on the connection's one reused
    cursor; psycopg prepares a statement server-side once it has run `prepare_threshold`
    times on a connection. A SQLAlchemy connection on the same pooled connection (so the same
    transaction) is made when first needed: for a construct, `sqlalchemy()`, any other
    Connection attribute, and any error. Errors go through its handler, so they are
    SQLAlchemy's exceptions as before and a lost connection invalidates the pool as before;
    from then on it ends the transaction, as `engine.begin()` did.

    `PgTx(conn)` wraps a SQLAlchemy connection that the caller begins, ends and closes."""

    __slots__ = ("_begun", "_engine", "_fairy", "_root", "_sa", "dialect", "info")

    def __init__(
        self,
        conn: Connection | None,
        engine: Engine | None = None,
        fairy: PoolProxiedConnection | None = None,
        *,
        begun: bool = False,
    ) -> None:
        if conn is not None:
            engine, fairy = conn.engine, conn.connection
        assert engine is not None and fairy is not None
        self._engine = engine
        self._fairy = fairy
        self._sa = conn
        self._root: Any = None  # the SQLAlchemy transaction that ends a begun one, if made
        self._begun = begun  # a store.begin() transaction (not a read's autocommit)
        self.info = fairy.info  # what `Connection.info` is: the pooled connection's
        self.dialect = engine.dialect

    def execute(self, statement: Any, params: Params = None) -> Any:
        if type(statement) is not str:
            return self.sqlalchemy().execute(statement, params)
        if params is None:  # no parameters, but the doubled % are undone only with some
            return self._run(_pyformat(statement), {})
        if isinstance(params, _SEQUENCES):
            return self._run(_pyformat(statement), params, many=True)
        lists = [k for k, v in params.items() if isinstance(v, _SEQUENCES)]
        if not lists:
            return self._run(_pyformat(statement), params)
        sql = _with_arrays(statement, tuple(lists))
        if sql is not None:
            flat = dict(params)
            for key in lists:
                flat[key] = _array(flat[key])
            return self._run(sql, flat)
        spread, flat = expand(statement, params)
        return self._run(_pyformat(spread), flat)

    def _run(self, sql: bytes | str, params: Any, *, many: bool = False) -> Result:
        try:
            cursor = self._connection_cursor()
            if many and len(params) != 1:  # one row: a plain execute, no pipeline
                cursor.executemany(sql, params)
                return _from_cursor(cursor)
            cursor.execute(sql, params[0] if many else params)
            return _from_cursor(cursor)
        except BaseException as exc:
            text = sql.decode() if isinstance(sql, bytes) else sql
            # No cursor: SQLAlchemy would close it, and it is the connection's for later.
            self.sqlalchemy()._handle_dbapi_exception(exc, text, params, None, None)
            raise  # not reached: the handler raises

    def _connection_cursor(self) -> Any:
        if self._sa is None:
            raw = self._fairy.dbapi_connection
        else:  # an invalidated one raises here, as SQLAlchemy's execute would
            raw = self._sa.connection.dbapi_connection
        cursor = self.info.get(_CURSOR)
        if cursor is None or cursor.connection is not raw:
            cursor = self.info[_CURSOR] = raw.cursor(row_factory=_cursor_rows)
        return cursor

    def sqlalchemy(self) -> Connection:
        """A SQLAlchemy connection in this transaction (made once). In a `begin()` one it
        holds a RootTransaction as `engine.begin()` does (emits nothing: psycopg began the
        transaction with its first statement), which then commits or rolls back the lot."""
        sa = self._sa
        if sa is None:
            sa = self._sa = Connection(self._engine, self._fairy)
            if self._begun:
                self._root = sa.begin().__enter__()
        return sa

    @property
    def conn(self) -> Connection:
        return self.sqlalchemy()

    def _end(self, exc: BaseException | None) -> None:
        """Commit (`exc` None) or roll back, as `engine.begin()`'s transaction would: a failed
        commit or rollback raises SQLAlchemy's exception after the transaction's end, and a
        lost connection is invalidated."""
        if self._sa is None:
            raw = self._fairy.dbapi_connection
            try:
                if exc is None:
                    raw.commit()
                else:
                    raw.rollback()
                return
            except BaseException as failed:
                # SQLAlchemy's commit and rollback send their errors through this handler too.
                # Inside the except block: the handler reads sys.exc_info(), so a Ctrl-C
                # during the COMMIT stays a KeyboardInterrupt (outside, it was an
                # AssertionError, or the body's error during the ROLLBACK after it).
                sa = self.sqlalchemy()
                try:
                    sa._handle_dbapi_exception(failed, None, None, None, None)
                except BaseException as converted:
                    self._end_root(converted)  # rolls back unless the connection is lost
                    raise
        self._end_root(exc)

    def _end_root(self, exc: BaseException | None) -> None:
        root, self._root = self._root, None
        if root is None:  # a transaction this PgTx does not end (`PgTx(conn)`)
            return
        if exc is None:  # commits (a failure rolls back and raises)
            root.__exit__(None, None, None)
        else:
            root.__exit__(type(exc), exc, exc.__traceback__)

    def _close(self) -> None:
        """Back to the pool (checkin events). The pool's reset rolls back: no round trip
        after our commit or rollback (psycopg sends nothing when no transaction is open), and
        a connection gone meanwhile fails it and is invalidated. (SQLAlchemy's own
        `_close_special` would skip the reset: ~1.5 us, not worth a private API.)"""
        if self._sa is not None:
            self._sa.close()
        else:
            self._fairy.close()

    def __getattr__(self, name: str) -> Any:
        # Anything else SQLAlchemy's Connection offers (execution_options, ...).
        return getattr(self.sqlalchemy(), name)
