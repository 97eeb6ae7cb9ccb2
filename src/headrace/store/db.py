"""Opening the store, the schema version check, the one-transaction helpers.

`open_store` gives a SqliteStore (store/sqlite.py, stdlib sqlite3: the hot path never loads
SQLAlchemy) or a PgStore (store/pg.py, SQLAlchemy). Both hand out transactions through
`begin()` / `read()` that take SQL text with :name parameters or SQLAlchemy constructs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headrace.errors import HeadraceError
from headrace.store.migrate import SCHEMA_HEAD, upgrade  # SCHEMA_HEAD re-exported
from headrace.store.sql import Tx

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from sqlalchemy import Engine

_FRESH_FILE_WAITS = (0.01, 0.05, 0.1, 0.2, 0.5, 1.0)


class StoreError(HeadraceError):
    """The store could not be opened or used."""


class Store:
    """The database every state lives in; hands out one-transaction connections."""

    is_sqlite = False

    def __init__(self, url: str, file: Path | None = None) -> None:
        self.url = url  # as given (with its password): child processes open the same store
        # The SQLite file this process opened (device, inode): see check_file.
        self.file = file
        self._file_id = _file_id(file) if file is not None else None
        self._rollback_hooks: list[Callable[[], None]] = []
        self._commit_hooks: list[Callable[[], None]] = []

    @property
    def engine(self) -> Engine:
        """The store's SQLAlchemy engine (tools, migrations; loads SQLAlchemy)."""
        raise NotImplementedError

    def begin(self) -> AbstractContextManager[Any]:
        """One transaction (SQLite: an immediate, write-locking one, so writers queue up).

        Callables added with `before_commit(conn, hook)` run last inside the transaction.
        Raises: StoreError (SQLite: the store file was deleted or replaced).
        """
        raise NotImplementedError

    def read(self) -> AbstractContextManager[Any]:
        """One read-only transaction (SQLite: it takes no write lock)."""
        raise NotImplementedError

    def dispose(self) -> None:
        raise NotImplementedError

    def on_rollback(self, hook: Callable[[], None]) -> None:
        """Call `hook()` whenever a transaction of this store rolls back."""
        self._rollback_hooks.append(hook)

    def rolled_back(self) -> None:
        for hook in self._rollback_hooks:
            hook()

    def on_commit(self, hook: Callable[[], None]) -> None:
        """Call `hook()` in the committing thread whenever a `begin()` transaction of this
        store has committed (not at the end of a `read()` one)."""
        self._commit_hooks.append(hook)

    def committed(self) -> None:
        for hook in self._commit_hooks:
            hook()

    def check_file(self) -> None:
        """Raise StoreError if the SQLite file at the store's path is not the one opened (it
        was deleted or replaced: writes would go to a file nobody sees any more)."""
        if self.file is None or self._file_id is None:
            return
        now = _file_id(self.file)
        if now != self._file_id:
            what = "was deleted" if now is None else "was replaced by another file"
            raise StoreError(
                f"the store file {self.file} {what} after this process opened it; "
                "restore it (or restart on the new one)"
            )


_BEFORE_COMMIT = "headrace_before_commit"


def before_commit(conn: Tx, hook: Callable[[Any], None]) -> None:
    """Run `hook(conn)` at the end of this `Store.begin()` transaction, if it commits."""
    conn.info.setdefault(_BEFORE_COMMIT, []).append(hook)


def with_hooks(conn: Tx) -> Iterator[Any]:
    """Yield `conn`, then run its before-commit hooks (if no exception came)."""
    try:
        yield conn
        for hook in conn.info.pop(_BEFORE_COMMIT, ()):
            hook(conn)
    finally:
        conn.info.pop(_BEFORE_COMMIT, None)  # a pooled connection must not carry them on


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def open_store(url: str, *, migrate: bool = True) -> Store:
    """Open (and by default create or upgrade) the store at `url`."""
    store: Store
    try:
        if url.startswith("sqlite"):
            from headrace.store.sqlite import SqliteStore

            store = SqliteStore(url)
        else:
            from headrace.store.pg import PgStore

            store = PgStore(url)
    except Exception as exc:  # bad URL, missing driver, unwritable folder
        raise StoreError(f"cannot open database {url!r}: {exc}") from exc
    if migrate:
        ensure_schema(store)
    return store


def current_revision(store: Store) -> str | None:
    """The schema revision the database is at, None for an empty database."""
    try:
        with store.read() as conn:
            return conn.execute("SELECT version_num FROM alembic_version").scalar()
    except Exception as exc:
        text_of = str(getattr(exc, "orig", None) or exc).lower()
        if "no such table" in text_of or "does not exist" in text_of:
            return None
        raise


def ensure_schema(store: Store) -> None:
    """Bring the schema to SCHEMA_HEAD, loading Alembic only if a migration is needed."""
    for wait in (*_FRESH_FILE_WAITS, None):
        try:
            revision = current_revision(store)
            break
        except Exception as exc:
            cause = getattr(exc, "orig", None) or exc  # the driver's words, not SQLAlchemy's
            # Two processes creating one new SQLite file at once: while the other switches it
            # to WAL, SQLite can answer "locked" without waiting; it is over in milliseconds.
            if wait is not None and store.is_sqlite and "locked" in str(cause):
                time.sleep(wait)
                continue
            where = store.file if store.file is not None else _without_password(store.url)
            raise StoreError(f"cannot read the store at {where}: {cause}") from exc
    if revision == SCHEMA_HEAD:
        return
    if revision is not None and revision > SCHEMA_HEAD:
        raise StoreError(
            f"the store is at schema {revision}, newer than this Headrace knows ({SCHEMA_HEAD});"
            " upgrade Headrace"
        )
    upgrade(store)


def _without_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return str(make_url(url))  # SQLAlchemy masks the password as ***
