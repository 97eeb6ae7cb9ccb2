"""Running SQL on an embedded DuckDB file (DuckDB's own parser splits the statements)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from headrace.warehouse import lock
from headrace.warehouse.errors import WarehouseError
from headrace.warehouse.markers import for_duckdb, statement_text
from headrace.warehouse.parameters import check_given
from headrace.warehouse.result import PreviewCollector, SqlResult, StatementResult

# Statement kinds whose single "Count" column is the number of rows changed, not a result.
_CHANGES_ROWS = {"INSERT", "UPDATE", "DELETE", "MERGE_INTO", "CREATE", "COPY"}


def execute(sql: str, path: Path, parameters: Mapping[str, str], warehouse_id: str) -> SqlResult:
    """Run `sql` in one transaction (unless it manages its own) on the DuckDB file at `path`."""
    import duckdb

    marked = for_duckdb(sql)
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
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WarehouseError(f"cannot create the warehouse {path}: {exc}") from None
    with lock.exclusive(path):
        con = _connect(duckdb, path)
        try:
            return _run(con, statements, texts, parameters, own_transactions, sql, warehouse_id)
        finally:
            con.close()


def _connect(duckdb: Any, path: Path) -> Any:
    try:
        return duckdb.connect(str(path))
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
) -> SqlResult:
    import duckdb

    done: list[StatementResult] = []
    preview: PreviewCollector | None = None
    if not own_transactions:
        con.begin()
    for i, (st, text) in enumerate(zip(statements, texts, strict=True)):
        kind = st.type.name
        values = {n: parameters[n] for n in st.named_parameters}
        try:
            cursor = con.execute(st.query, values) if values else con.execute(st.query)
            rows_affected, collected = _read(cursor, kind)
        except duckdb.Error as exc:
            if not own_transactions:
                con.rollback()
            message = _as_written(str(exc), st.named_parameters)
            raise WarehouseError(message, statement=text, index=i, count=len(statements)) from None
        done.append(StatementResult(text, kind, rows_affected))
        preview = collected if collected is not None else preview
    if not own_transactions:
        con.commit()
    return SqlResult.of(warehouse_id, sql, done, preview)


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
