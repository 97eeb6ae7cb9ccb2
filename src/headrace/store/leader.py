"""Which server coordinates: one at a time, the next one takes over when it dies.

On PostgreSQL the coordinator holds a session-level advisory lock on a connection of its own;
when its process dies (or the connection drops) PostgreSQL releases the lock and another server's
next `try_acquire` gets it. On SQLite (one machine) an exclusive `flock` on a file next to the
database does the same. Every server serves the API and runs workers; only the holder fires
timers, admits queued runs, runs the triggers and recovers lost workers and runs.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from pathlib import Path
from typing import Any

from headrace.store.db import Store

log = logging.getLogger("headrace.store")
# pg_advisory_lock keys are shared by the whole database: keep ours distinctive.
LEADER_LOCK_KEY = 7254911


class Leadership:
    """The coordinator's lock for one store."""

    def __init__(self, store: Store, key: int = LEADER_LOCK_KEY) -> None:
        self.store = store
        self.key = key
        self._conn: Any = None
        self._file: Any = None

    @property
    def held(self) -> bool:
        return self._conn is not None or self._file is not None

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it. True if this process holds it now."""
        if self.held:
            return self.still_held()
        if self.store.is_sqlite:
            return self._try_file()
        return self._try_advisory()

    def still_held(self) -> bool:
        """False once the lock is gone (its connection dropped): stop coordinating."""
        if self._file is not None:
            return True
        if self._conn is None:
            return False
        try:
            self._conn.execute("SELECT 1")
            return True
        except Exception:
            log.warning("lost the coordinator lock: its connection dropped")
            self._close()
            return False

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        self._close()

    def _try_advisory(self) -> bool:
        import psycopg

        url = self.store.engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        try:
            conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
        except Exception as exc:
            log.warning("cannot reach the database to take the coordinator lock: %s", exc)
            return False
        # Keyed by schema too: stores in different schemas of one database coordinate apart.
        got = conn.execute(
            "SELECT pg_try_advisory_lock(%s, hashtext(current_schema()))", (self.key,)
        ).fetchone()
        if got and got[0]:
            self._conn = conn
            return True
        conn.close()
        return False

    def _try_file(self) -> bool:
        database = self.store.file
        if database is None:
            self._file = open(os.devnull, "rb")  # noqa: SIM115 - held for the process's life
            return True
        handle = open(Path(database).with_suffix(".leader"), "a+b")  # noqa: SIM115
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        return True

    def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
