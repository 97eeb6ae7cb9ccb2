"""Running SQL on an embedded DuckDB file (DuckDB's own parser splits the statements).

Catalogs (`CREATE CATALOG`, `USE CATALOG`, `catalog.schema.table`) are attached DuckDB files
(`warehouse/catalogs.py`); the tables a transaction wrote go to the change log that
`trigger.table_update` watches (`warehouse/changes.py`).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from headrace.warehouse import lock
from headrace.warehouse.changes import qualified, record, written_table
from headrace.warehouse.errors import WarehouseError
from headrace.warehouse.markers import for_duckdb, statement_text
from headrace.warehouse.parameters import check_given
from headrace.warehouse.result import PreviewCollector, SqlResult, StatementResult

# Statement kinds whose single "Count" column is the number of rows changed, not a result.
_CHANGES_ROWS = {"INSERT", "UPDATE", "DELETE", "MERGE_INTO", "CREATE", "COPY"}


def execute(sql: str, path: Path, parameters: Mapping[str, str], warehouse_id: str) -> SqlResult:
    """Run `sql` in one transaction (unless it manages its own) on the DuckDB file at `path`."""
    import duckdb

    from headrace.warehouse.catalogs import rewrite

    marked = for_duckdb(rewrite(sql, path))
    try:
        statements = duckdb.extract_statements(marked.text)
    except duckdb.Error as exc:
        raise WarehouseError(str(exc)) from None
    names = {n for st in statements for n in st.named_parameters}
    # In the order the SQL names them; DuckDB's own `$name` markers after the `:name` ones.
    check_given(
        [*(n for n in marked.names if n in names), *sorted(names - set(marked.names))], parameters
    )
    own_transactions = any(st.type.name == "TRANSACTION" for st in statements)
    texts = _original_texts(sql, marked.text, [st.query for st in statements])
    if marked.text != for_duckdb(sql).text:  # catalog names rewritten: offsets moved
        texts = [statement_text(st.query) for st in statements]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WarehouseError(f"cannot create the warehouse {path}: {exc}") from None
    with lock.exclusive(path):
        con = _connect(duckdb, path)
        try:
            try:
                return _run(
                    con, statements, texts, parameters, own_transactions, sql, warehouse_id, path
                )
            except _WritesTwoDatabases:
                # DuckDB writes one database per transaction: SQL writing to two catalogs is
                # run again (the first try rolled back), statement by statement, as SQL with
                # its own BEGIN/COMMIT is. Anything else stays one transaction.
                pass
            con.close()
            con = _connect(duckdb, path)
            return _run(con, statements, texts, parameters, True, sql, warehouse_id, path)
        finally:
            con.close()


# DuckDB's words when one transaction writes to a second attached database.
_MANY_DATABASES = "a single transaction can only write to a single attached database"


class _WritesTwoDatabases(Exception):
    """The SQL writes to two catalogs: it cannot be one DuckDB transaction."""


def _connect(duckdb: Any, path: Path) -> Any:
    from headrace.warehouse.catalogs import attach_all

    try:
        con = duckdb.connect(str(path))
        attach_all(con, path)
        return con
    except duckdb.Error as exc:
        # Another program (not a Headrace task) holds the file: DuckDB says which one.
        raise WarehouseError(f"cannot open the warehouse {path}: {exc}") from None


def _run(
    con: Any,
    statements: list[Any],
    texts: list[str],
    parameters: Mapping[str, str],
    own_transactions: bool,
    sql: str,
    warehouse_id: str,
    path: Path,
) -> SqlResult:
    import duckdb

    done: list[StatementResult] = []
    preview: PreviewCollector | None = None
    written: set[str] = set()
    if not own_transactions:
        con.begin()
    for i, (st, text) in enumerate(zip(statements, texts, strict=True)):
        kind = st.type.name
        values = {n: parameters[n] for n in st.named_parameters}
        try:
            cursor = con.execute(st.query, values) if values else con.execute(st.query)
            rows_affected, collected = _read(cursor, kind)
            table = written_table(st.query)
            if table is not None:
                written.add(_qualified(con, table, path))
        except duckdb.Error as exc:
            if not own_transactions:
                con.rollback()
                if _MANY_DATABASES in str(exc):
                    raise _WritesTwoDatabases from None
            message = _as_written(str(exc), st.named_parameters)
            raise WarehouseError(message, statement=text, index=i, count=len(statements)) from None
        done.append(StatementResult(text, kind, rows_affected))
        preview = collected if collected is not None else preview
    if not own_transactions:
        con.commit()
    _record(path, written)
    return SqlResult.of(warehouse_id, sql, done, preview)


def _qualified(con: Any, parts: list[str], path: Path) -> str:
    """A written table's `catalog.schema.table` (the current catalog and schema fill in)."""
    from headrace.warehouse.catalogs import main_catalog

    catalog, schema = con.execute("SELECT current_database(), current_schema()").fetchone()
    if len(parts) == 3 and parts[0].lower() == path.stem.lower():
        parts = [main_catalog(), *parts[1:]]
    if str(catalog).lower() == path.stem.lower():
        catalog = main_catalog()
    return qualified(parts, str(catalog), str(schema))


def _record(path: Path, written: set[str]) -> None:
    """Tell the change log (what table_update triggers watch) which tables were written."""
    import time

    tables = {t for t in written if not t.startswith(("temp.", "system."))}
    if tables:
        try:
            record(path.parent, tables, int(time.time() * 1000))
        except OSError as exc:  # the SQL committed; a trigger that misses it is the lesser harm
            print(f"warning: table change log not written: {exc}", file=sys.stderr, flush=True)


def _read(cursor: Any, kind: str) -> tuple[int | None, PreviewCollector | None]:
    """(rows affected, preview) of an executed statement."""
    description = cursor.description
    if description is None:
        return None, None
    columns = [d[0] for d in description]
    if kind in _CHANGES_ROWS and columns == ["Count"]:
        row = cursor.fetchone()
        return (int(row[0]) if row is not None else None), None
    preview = PreviewCollector(columns)
    while True:
        batch = cursor.fetchmany(64)
        if not batch or not all(preview.add(row) for row in batch):
            break
    return None, preview


def _as_written(message: str, names: set[str]) -> str:
    """DuckDB's message with `$name` shown as the `:name` the user wrote (same offsets)."""
    for name in sorted(names, key=len, reverse=True):
        message = message.replace(f"${name}", f":{name}")
    return message


def _original_texts(original: str, marked: str, queries: list[str]) -> list[str]:
    """Each statement as the user wrote it (`:name`, not `$name`): rewriting kept offsets."""
    texts, cursor = [], 0
    for query in queries:
        at = marked.find(query, cursor)
        if at < 0:
            texts.append(statement_text(query))
            continue
        texts.append(statement_text(original[at : at + len(query)]))
        cursor = at + len(query)
    return texts
