"""`headrace db backup PATH`: a consistent copy of a SQLite store (issue 11).

Copying `headrace.db` alone misses what is still in `headrace.db-wal`; SQLite's online backup
API copies the database as one consistent snapshot while servers keep running. A PostgreSQL
store is backed up with PostgreSQL's own tool, `pg_dump`.

Kept out of `cli/main.py` (which many hands edit); `main` calls `register` once.
"""

# No `from __future__ import annotations`: typer reads the options named in `register`.
import os
from pathlib import Path
from typing import Annotated

import typer


def register(db_app: typer.Typer) -> None:
    """Add `db backup` to the CLI's `db` app."""
    from headrace.cli.options import DbOption

    @db_app.command("backup")
    def db_backup(
        path: Annotated[Path, typer.Argument(help="The backup file to write (must not exist).")],
        db: DbOption = None,
    ) -> None:
        """Copy a SQLite store into PATH, consistently, while it is in use (WAL included)."""
        size = backup(db, path)
        print(f"backed up the store to {path} ({size} bytes)")


def backup(db: str | None, target: Path) -> int:
    """Write the store's online backup to `target`; returns its size. Raises: HeadraceError."""
    import sqlite3

    from headrace.config import Settings
    from headrace.errors import Conflict, HeadraceError, NotSupported
    from headrace.store.health import problem

    settings = Settings.load(db=db)
    if not settings.db_url.startswith("sqlite"):
        raise NotSupported(
            "db backup copies SQLite stores; back up a PostgreSQL store with pg_dump, e.g. "
            "`pg_dump --format=custom --file=headrace.dump DBNAME` (restore with pg_restore)"
        )
    source = Path(settings.db_url.removeprefix("sqlite:///"))
    if not source.is_file():
        raise HeadraceError(f"no store at {source}")
    target = target.expanduser()
    if target.exists():
        raise Conflict(f"{target} already exists; give a new file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    # The backup holds everything the store holds: readable by its owner only.
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=60)
        try:
            dst = sqlite3.connect(target)
            try:
                src.backup(dst)
                dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
                (check,) = dst.execute("PRAGMA quick_check").fetchone()
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as exc:
        target.unlink(missing_ok=True)
        raise HeadraceError(problem(exc) or f"backup failed: {exc}") from None
    if check != "ok":
        target.unlink(missing_ok=True)
        raise HeadraceError(f"the backup of {source} does not check out: {check}")
    return target.stat().st_size
