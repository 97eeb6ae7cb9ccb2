"""A PostgreSQL store: SQLAlchemy's engine, with SQL text run as cached `text()` clauses."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Engine, TextClause, create_engine, text

from headrace.store.db import Store, with_hooks
from headrace.store.sql import Params, expand


class PgStore(Store):
    """A PostgreSQL database (any SQLAlchemy URL but SQLite's) as the store."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._engine = create_engine(url, pool_pre_ping=True)
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
