"""Opening the store: engine, SQLite pragmas, schema version check, one-transaction helper."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from headrace.errors import HeadraceError
from headrace.store.migrate import SCHEMA_HEAD, upgrade  # SCHEMA_HEAD re-exported

_FRESH_FILE_WAITS = (0.01, 0.05, 0.1, 0.2, 0.5, 1.0)


class StoreError(HeadraceError):
    """The store could not be opened or used."""


class Store:
    """The database every state lives in; hands out one-transaction connections."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        # SQLite's busy handler sleeps (1, 2, 5, 10 ms...) when its lock is taken; threads of
        # one process queue on this lock instead, which hands over without sleeping.
        self._write_lock = threading.Lock() if self.is_sqlite else None
        # The SQLite file this process opened (device, inode): see check_file.
        database = engine.url.database if self.is_sqlite else None
        self.file = Path(database) if database and database != ":memory:" else None
        self._file_id = _file_id(self.file) if self.file is not None else None

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

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One transaction; on SQLite an immediate (write-locking) one, so writers queue up.

        Callables added with `before_commit(conn, hook)` run last inside the transaction.
        Raises: StoreError (SQLite: the store file was deleted or replaced).
        """
        if self._write_lock is None:
            with self.engine.begin() as conn:
                yield from _with_hooks(conn)
            return
        self.check_file()
        with self._write_lock, self.engine.begin() as conn:
            yield from _with_hooks(conn)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """One read-only transaction; on SQLite it takes no write lock."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(headrace_read=True)
            with conn.begin():
                yield conn

    def dispose(self) -> None:
        self.engine.dispose()


_BEFORE_COMMIT = "headrace_before_commit"


def before_commit(conn: Connection, hook: Callable[[Connection], None]) -> None:
    """Run `hook(conn)` at the end of this `Store.begin()` transaction, if it commits."""
    conn.info.setdefault(_BEFORE_COMMIT, []).append(hook)


def _with_hooks(conn: Connection) -> Iterator[Connection]:
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


def _private_file(path: Path) -> None:
    """Create the store's folder (0700) and file (0600) if new: they hold every job, run and
    notification setting (issue 11). SQLite gives its -wal and -shm files the file's mode."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _sqlite_engine(url: str) -> Engine:
    path = url.removeprefix("sqlite:///")
    if path and path != ":memory:":
        _private_file(Path(path))
    engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        # Let SQLAlchemy's begin() emit BEGIN IMMEDIATE instead of pysqlite's deferred BEGIN:
        # deferred transactions that later write can deadlock under concurrent writers.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        read = conn.get_execution_options().get("headrace_read", False)
        conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")

    return engine


def open_store(url: str, *, migrate: bool = True) -> Store:
    """Open (and by default create or upgrade) the store at `url`."""
    try:
        if url.startswith("sqlite"):
            engine = _sqlite_engine(url)
        else:
            engine = create_engine(url, pool_pre_ping=True)
    except Exception as exc:  # bad URL, missing driver
        raise StoreError(f"cannot open database {url!r}: {exc}") from exc
    store = Store(engine)
    if migrate:
        ensure_schema(store)
    return store


def current_revision(store: Store) -> str | None:
    """The schema revision the database is at, None for an empty database."""
    try:
        with store.read() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except (OperationalError, ProgrammingError) as exc:
        text_of = str(exc.orig).lower()
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
            raise StoreError(f"cannot read the store at {store.engine.url}: {cause}") from exc
    if revision == SCHEMA_HEAD:
        return
    if revision is not None and revision > SCHEMA_HEAD:
        raise StoreError(
            f"the store is at schema {revision}, newer than this Headrace knows ({SCHEMA_HEAD});"
            " upgrade Headrace"
        )
    upgrade(store)
