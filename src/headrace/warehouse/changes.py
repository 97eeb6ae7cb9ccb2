"""The embedded warehouse's table change log: what `trigger.table_update` watches on DuckDB.

A DuckDB file does not say which table changed when, so the DuckDB backend says it: after a
transaction commits, every table its statements wrote (INSERT, UPDATE, DELETE, MERGE, COPY,
CREATE TABLE [AS], ALTER, DROP, TRUNCATE) gets its version counter raised and its commit time
set in `<folder of the DuckDB file>/table_changes.json`:

    {"tables": {"main.default.orders": {"version": 3, "commit_timestamp": 1764891234567}}}

Names are `catalog.schema.table`, lower case: the main catalog is `main` (DuckDB calls the
default file's catalog `default`; `HEADRACE_DEFAULT_CATALOG` renames it), and DuckDB's default
schema `main` is written `default`, Databricks' name for it. The file is replaced atomically
under a lock of its own, so a reader (the trigger loop) never sees half of it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

FILE_NAME = "table_changes.json"
DEFAULT_SCHEMA = "default"

_IDENT = r'(?:"[^"]+"|`[^`]+`|[A-Za-z_][\w$]*)'
_NAME = rf"({_IDENT}(?:\s*\.\s*{_IDENT}){{0,2}})"
# The table a writing statement changes (after its leading keywords).
_TARGETS = [
    re.compile(rf"^\s*INSERT\s+(?:OR\s+\w+\s+)?INTO\s+{_NAME}", re.I),
    re.compile(rf"^\s*UPDATE\s+{_NAME}", re.I),
    re.compile(rf"^\s*DELETE\s+FROM\s+{_NAME}", re.I),
    re.compile(rf"^\s*MERGE\s+INTO\s+{_NAME}", re.I),
    re.compile(rf"^\s*COPY\s+{_NAME}\s+FROM\b", re.I),
    re.compile(rf"^\s*TRUNCATE\s+(?:TABLE\s+)?{_NAME}", re.I),
    re.compile(rf"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?{_NAME}", re.I),
    re.compile(rf"^\s*ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?{_NAME}", re.I),
    re.compile(rf"^\s*DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?{_NAME}", re.I),
]
_PART = re.compile(_IDENT)


def written_table(statement: str) -> list[str] | None:
    """The name parts of the table a statement writes, or None (a read, a view, ...)."""
    for pattern in _TARGETS:
        match = pattern.match(statement)
        if match is not None:
            return [p.strip('"`') for p in _PART.findall(match.group(1))]
    return None


def qualified(parts: list[str], catalog: str, schema: str) -> str:
    """`catalog.schema.table` for a name as written, given the current catalog and schema."""
    if len(parts) == 1:
        parts = [catalog, schema, *parts]
    elif len(parts) == 2:
        parts = [catalog, *parts]
    return canonical(".".join(parts))


def canonical(name: str, main_catalog: str | None = None) -> str:
    """A table name as the change log and triggers compare it: three parts, lower case, the
    default schema called `default`. One part means the main catalog's default schema."""
    from headrace.warehouse.catalogs import main_catalog as main_name

    main = main_catalog or main_name()
    parts = [p.strip('"`').lower() for p in name.strip().split(".")]
    if len(parts) == 1:
        parts = [main, DEFAULT_SCHEMA, *parts]
    elif len(parts) == 2:
        parts = [main, *parts]
    if parts[1] == "main":
        parts[1] = DEFAULT_SCHEMA
    return ".".join(parts)


def log_path(folder: Path) -> Path:
    return folder / FILE_NAME


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    fd = os.open(folder / (FILE_NAME + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def record(folder: Path, tables: Iterable[str], now_ms: int) -> None:
    """Raise the version of each table (canonical names) and set its commit time."""
    names = sorted(set(tables))
    if not names:
        return
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder):
        doc = read(folder)
        for name in names:
            entry = doc.get(name) or {}
            doc[name] = {"version": int(entry.get("version", 0)) + 1, "commit_timestamp": now_ms}
        tmp = log_path(folder).with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"tables": doc}, sort_keys=True))
        os.replace(tmp, log_path(folder))


def read(folder: Path) -> dict[str, dict[str, Any]]:
    """{table: {version, commit_timestamp}} of every table the log knows (empty if none)."""
    try:
        doc = json.loads(log_path(folder).read_text())
    except (OSError, ValueError):
        return {}
    tables = doc.get("tables") if isinstance(doc, dict) else None
    return tables if isinstance(tables, dict) else {}
