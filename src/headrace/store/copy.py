"""Copying a whole store to another database (issue 16): SQLite <-> PostgreSQL.

Every table of `schema.metadata` is copied, parents before children (so tables added later are
copied too), rows in primary-key order with their ids as they are, in batches, inside ONE
transaction on the target: a copy that fails leaves the target as empty as it found it. The
target must be empty (a new store); the source must be at this Headrace's schema and idle (no
server coordinating it, no live worker), since a copy of a store that is changing is not a
copy. Row counts are compared per table after the copy.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, func, select, text

from headrace.store.db import SCHEMA_HEAD, Store, StoreError, current_revision, ensure_schema
from headrace.store.schema import counters, metadata, workers

BATCH_ROWS = 5_000
# A worker whose heartbeat is older than this is dead, whatever its row says.
LIVE_WORKER_MS = 120_000


class CopyRefused(StoreError):
    """The copy cannot start: the target is not empty, or the source is in use."""

    exit_code = 2


@dataclass(frozen=True)
class TableCopy:
    """One table's copied rows, counted on both sides."""

    table: str
    source_rows: int
    target_rows: int


def tables_in_order() -> list[Table]:
    """The store's tables, each after the tables its foreign keys point at."""
    return list(metadata.sorted_tables)


def _count(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def check_target_empty(target: Store) -> None:
    """Raises CopyRefused naming a table that already holds rows (the counters' seed aside)."""
    with target.read() as conn:
        for table in tables_in_order():
            if table is counters:
                continue  # a new store seeds its id counters; the copy replaces them
            rows = _count(conn, table)
            if rows:
                raise CopyRefused(
                    f"the target store is not empty: table {table.name} has {rows} row(s);"
                    " copy into a new database (or schema) only"
                )


def check_source_idle(source: Store, *, now_ms: int | None = None) -> None:
    """Raises CopyRefused when a server coordinates the store or a worker is alive."""
    from headrace.store.leader import Leadership

    lock = Leadership(source)
    try:
        if not lock.try_acquire():
            raise CopyRefused(
                "a headrace server is using this store (it holds the coordinator lock):"
                " stop the server (and its workers) first, then copy"
            )
    finally:
        lock.release()
    now = int(time.time() * 1000) if now_ms is None else now_ms
    with source.read() as conn:
        live = conn.execute(
            select(workers.c.worker_id, workers.c.host, workers.c.pid).where(
                workers.c.stopped_at.is_(None),
                workers.c.heartbeat_at > now - LIVE_WORKER_MS,
            )
        ).all()
    if live:
        names = ", ".join(f"{w.worker_id} (pid {w.pid} on {w.host})" for w in live[:5])
        raise CopyRefused(
            f"{len(live)} worker(s) are alive on this store: {names}; stop them first"
            " (`headrace workers list` shows them)"
        )


def check_source(source: Store) -> None:
    """Raises CopyRefused unless the source is at this Headrace's schema and idle."""
    revision = current_revision(source)
    if revision != SCHEMA_HEAD:
        raise CopyRefused(
            f"the source store is at schema {revision}, this Headrace writes {SCHEMA_HEAD}:"
            " run `headrace db upgrade` on it first"
        )
    check_source_idle(source)


def copy_store(
    source: Store,
    target: Store,
    *,
    batch_rows: int = BATCH_ROWS,
    on_table: Callable[[str, int], None] | None = None,
) -> list[TableCopy]:
    """Copy every row of `source` into the empty store `target`, ids intact; verify counts.

    `target` is created at this schema if its database is empty. `on_table(name, rows)` is
    called after each table. Raises: CopyRefused, StoreError (counts differ: nothing kept).
    """
    check_source(source)
    ensure_schema(target)
    check_target_empty(target)
    results: list[TableCopy] = []
    with _reading(source) as src, target.begin() as dst:
        dst.execute(counters.delete())
        for table in tables_in_order():
            copied = _copy_table(src, dst, table, batch_rows)
            if on_table is not None:
                on_table(table.name, copied)
        if not target.is_sqlite:
            _advance_sequences(dst)
        for table in tables_in_order():
            result = TableCopy(table.name, _count(src, table), _count(dst, table))
            if result.source_rows != result.target_rows:
                raise StoreError(  # rolls the whole copy back
                    f"copy of table {table.name} has {result.target_rows} rows, the source"
                    f" {result.source_rows}; nothing was kept"
                )
            results.append(result)
    return results


def _reading(source: Store) -> AbstractContextManager[Any]:
    """The source's read: on PostgreSQL a transaction of its own, since `yield_per` streams
    through a server-side cursor, which needs one (the store's reads run in autocommit)."""
    return source.read() if source.is_sqlite else source.engine.begin()


def _copy_table(src: Connection, dst: Connection, table: Table, batch_rows: int) -> int:
    order = list(table.primary_key.columns) or list(table.columns)
    result = src.execution_options(yield_per=batch_rows).execute(select(table).order_by(*order))
    copied = 0
    for rows in result.partitions():
        dst.execute(table.insert(), [dict(r._mapping) for r in rows])
        copied += len(rows)
    return copied


def _advance_sequences(dst: Connection) -> None:
    """PostgreSQL hands out ids from sequences that a copy with explicit ids does not move:
    set each to the copied maximum, so the next row gets the next id."""
    for table in tables_in_order():
        for column in table.primary_key.columns:
            if column.autoincrement is not True and not (
                column.autoincrement == "auto" and len(table.primary_key.columns) == 1
            ):
                continue
            sequence = dst.execute(
                text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": column.name}
            ).scalar()
            if sequence is None:
                continue
            top = dst.execute(select(func.max(column))).scalar()
            if top is not None:
                dst.execute(text("SELECT setval(:s, :v)"), {"s": sequence, "v": int(top)})
