"""`headrace db copy --to URL`: move a whole store to another database (issue 16)."""

from __future__ import annotations

import json
import sys
import time

from headrace.config import Settings, database_url


def copy(db: str | None, to: str, *, as_json: bool, quiet: bool) -> None:
    """Copy the store at `--db` (default: HEADRACE_DB / the home's SQLite file) to `to`."""
    from headrace.store.copy import CopyRefused, check_source, copy_store
    from headrace.store.db import open_store

    settings = Settings.load(db=db)
    target_url = database_url(to, settings.home)
    if target_url == settings.db_url:
        raise CopyRefused("--to names the source store itself; give another database")
    if settings.db_url.startswith("sqlite:///"):
        from pathlib import Path

        if not Path(settings.db_url.removeprefix("sqlite:///")).exists():
            raise CopyRefused(f"no store at {settings.db_url} to copy")
    source = open_store(settings.db_url, migrate=False)
    try:
        check_source(source)  # before the target exists: a refused copy leaves no file behind
    except Exception:
        source.dispose()
        raise
    target = open_store(target_url, migrate=False)
    started = time.monotonic()

    def progress(name: str, rows: int) -> None:
        if not quiet and not as_json:
            print(f"  {name}: {rows} rows", file=sys.stderr)

    try:
        copied = copy_store(source, target, on_table=progress)
    finally:
        source.dispose()
        target.dispose()
    seconds = time.monotonic() - started
    if as_json:
        tables = {c.table: c.target_rows for c in copied}
        sys.stdout.write(json.dumps({"tables": tables, "seconds": round(seconds, 3)}) + "\n")
    elif not quiet:
        total = sum(c.target_rows for c in copied)
        print(
            f"copied {total} rows in {len(copied)} tables to {_safe(target_url)} in"
            f" {seconds:.1f} s; every table's row count matches the source"
        )


def _safe(url: str) -> str:
    """The URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
