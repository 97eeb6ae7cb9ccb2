"""Reading an attempt's log: its file where it was written, else the store's copy.

On one machine the file is always there. With workers on other machines (PostgreSQL), a worker
keeps each ended attempt's log in the store (the last MAX_STORED_LOG_BYTES, gzipped), so any
server shows it; a running attempt's log is visible only on the worker's machine until it ends.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

from headrace.store.db import Store

# The tail of a log that is kept in the store (the file keeps everything).
MAX_STORED_LOG_BYTES = 10 * 1024 * 1024
_TRUNCATED = b"[headrace: the log was longer; only its end was kept]\n"


def pack_log(path: str | Path) -> tuple[bytes, int] | None:
    """(gzip of the log's last MAX_STORED_LOG_BYTES, whole size), None if empty or missing."""
    try:
        if os.stat(path).st_size == 0:  # most logs of quick tasks: no file object to make
            return None
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            if size == 0:
                return None
            f.seek(max(size - MAX_STORED_LOG_BYTES, 0))
            data = f.read()
    except OSError:
        return None
    if size > MAX_STORED_LOG_BYTES:
        data = _TRUNCATED + data
    return gzip.compress(data, compresslevel=5), size


def read_log(store: Store | None, path: str | None) -> bytes | None:
    """The log at `path`: the file if this machine has it, else the store's copy, else None."""
    if not path:
        return None
    try:
        return Path(path).read_bytes()
    except OSError:
        pass
    if store is None or store.is_sqlite:
        return None
    from headrace.store.logs import log_by_path

    with store.read() as conn:
        kept = log_by_path(conn, path)
    return gzip.decompress(kept[0]) if kept is not None else None
