"""A PostgreSQL store: SQLAlchemy's engine, with SQL text run as cached `text()` clauses."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Engine, TextClause, create_engine, event, text
from sqlalchemy.exc import DisconnectionError

from headrace.store.db import Store, with_hooks
from headrace.store.sql import Params, expand


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
        try:
            with self._engine.begin() as conn:
                yield from with_hooks(PgTx(conn))
        except BaseException:
            self.rolled_back()
            raise

    @contextmanager
    def read(self) -> Iterator[PgTx]:
        try:
            with self._engine.connect() as conn, conn.begin():
                yield PgTx(conn)
        except BaseException:
            self.rolled_back()
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


@lru_cache(maxsize=1024)
def _text(sql: str) -> TextClause:
    return text(sql)


class PgTx:
    """One transaction of a PgStore: SQL text as cached text(), constructs as they are."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.info = conn.info
        self.dialect = conn.dialect

    def execute(self, statement: Any, params: Params = None) -> Any:
        if type(statement) is not str:
            return self.conn.execute(statement, params)
        if params is None or isinstance(params, list | tuple):
            return self.conn.execute(_text(statement), params)
        sql, flat = expand(statement, params)
        return self.conn.execute(_text(sql), flat)

    def sqlalchemy(self) -> Connection:
        return self.conn

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)
