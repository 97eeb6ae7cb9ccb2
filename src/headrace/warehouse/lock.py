"""One writer at a time on an embedded DuckDB file, across processes.

DuckDB lets one process open a database file for writing; a second one fails at once with
"Could not set lock on file". Tasks (and notebook `%sql` cells) instead queue on an advisory
`flock` beside the file and say who they wait for. The kernel drops the lock when its holder
dies, so a killed task never leaves the warehouse locked.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from headrace.warehouse.errors import WarehouseError


@contextlib.contextmanager
def exclusive(database: Path) -> Iterator[None]:
    """Hold the database's lock file for the block, waiting (and saying so) while it is taken."""
    path = database.with_name(database.name + ".lock")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise WarehouseError(f"cannot lock the warehouse {database}: {exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            print(
                f"waiting for the warehouse {database} (in use by process {holder})",
                file=sys.stderr,
                flush=True,
            )
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock
