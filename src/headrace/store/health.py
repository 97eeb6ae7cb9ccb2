"""Is the store usable? The check behind `/health`, and the driver errors that mean it is not
(issue 11: a deleted, replaced, corrupt or full store used to go unnoticed).

`check` runs a real query on a real table and, on SQLite, compares the file at the store's
path with the one the process opened (device and inode): a store file deleted or replaced
under a running server keeps answering from the old inode, so queries alone cannot tell.
`problem` turns the driver's words into one line saying what is wrong and what to do.
"""

from __future__ import annotations

from headrace.store.db import Store, StoreError

# The driver's words (SQLite and PostgreSQL) -> what they mean for the store.
_CORRUPT = ("file is not a database", "database disk image is malformed", "malformed")
_FULL = ("database or disk is full", "no space left on device", "disk full", "file too large")
_GONE = ("unable to open database file", "disk i/o error", "attempt to write a readonly")


def problem(exc: BaseException) -> str | None:
    """One line naming what is wrong with the store if `exc` says it is broken, else None."""
    if isinstance(exc, StoreError):
        return str(exc)
    cause = getattr(exc, "orig", None) or exc
    words = " ".join(str(cause).split())
    lowered = words.lower()
    if any(p in lowered for p in _FULL):
        return f"the store cannot write: {words} (free disk space, then try again)"
    if any(p in lowered for p in _CORRUPT):
        return f"the store is corrupt: {words} (restore it from a backup: headrace db backup)"
    if any(p in lowered for p in _GONE):
        return f"the store cannot be used: {words}"
    return None


def check(store: Store) -> None:
    """Raise StoreError (one line) unless the store answers a real query from the right file."""
    store.check_file()
    try:
        with store.read() as conn:
            conn.execute("SELECT count(*) FROM counters").scalar_one()
    except Exception as exc:
        raise StoreError(problem(exc) or f"the store does not answer: {exc}") from exc
    store.check_file()


__all__ = ["check", "problem"]
