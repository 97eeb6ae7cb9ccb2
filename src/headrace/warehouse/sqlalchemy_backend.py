"""Running SQL on a warehouse named by a SQLAlchemy URL (PostgreSQL, SQLite, ...).

Statements are split by sqlparse: it knows quotes, `$$` bodies and comments of the common
dialects, is small, pure Python and long maintained (Django's splitter); sqlglot would also
parse, but it is ten times the size and re-parsing is not needed to split.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from headrace.warehouse.errors import WarehouseError
from headrace.warehouse.markers import MarkedSql, for_sqlalchemy, statement_text
from headrace.warehouse.parameters import check_given
from headrace.warehouse.result import PreviewCollector, SqlResult, StatementResult

_TRANSACTION_WORDS = {"BEGIN", "START", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"}
_DML = {"INSERT", "UPDATE", "DELETE", "MERGE", "REPLACE", "UPSERT"}


def split(sql: str) -> list[tuple[str, str]]:
    """(statement text, kind) for each statement that is more than comments and whitespace."""
    import sqlparse

    out = []
    for statement in sqlparse.parse(sql):
        words = [
            t
            for t in statement.flatten()
            if not t.is_whitespace
            and t.ttype not in sqlparse.tokens.Comment
            and t.ttype not in sqlparse.tokens.Comment.Single
            and t.value != ";"
        ]
        if not words:
            continue
        kind = statement.get_type()
        if kind == "UNKNOWN":
            kind = words[0].value.upper()
        out.append((statement_text(str(statement)), kind))
    return out


def execute(sql: str, url: str, parameters: Mapping[str, str], warehouse_id: str) -> SqlResult:
    """Run `sql` in one transaction (unless it manages its own) on the database at `url`."""
    statements = split(sql)
    marked = [for_sqlalchemy(text) for text, _ in statements]
    check_given(_ordered_names(marked), parameters)
    own_transactions = any(kind in _TRANSACTION_WORDS for _, kind in statements)
    engine = _engine(url, warehouse_id)
    try:
        with _connect(engine, warehouse_id, autocommit=own_transactions) as conn:
            return _run(conn, statements, marked, parameters, own_transactions, sql, warehouse_id)
    finally:
        engine.dispose()


def _ordered_names(marked: list[MarkedSql]) -> list[str]:
    return list(dict.fromkeys(n for m in marked for n in m.names))


def _engine(url: str, warehouse_id: str) -> Any:
    from sqlalchemy import create_engine
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError
    from sqlalchemy.pool import NullPool

    try:
        return create_engine(url, poolclass=NullPool)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise WarehouseError(f"warehouse {warehouse_id!r} has an unusable URL: {exc}") from None


def _connect(engine: Any, warehouse_id: str, *, autocommit: bool) -> Any:
    from sqlalchemy.exc import SQLAlchemyError

    try:
        conn = engine.connect()
    except SQLAlchemyError as exc:
        where = engine.url.render_as_string(hide_password=True)
        reason = _db_message(exc)
        raise WarehouseError(
            f"cannot connect to warehouse {warehouse_id!r} ({where}): {reason}"
        ) from None
    if autocommit:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
    return conn


def _run(
    conn: Any,
    statements: list[tuple[str, str]],
    marked: list[MarkedSql],
    parameters: Mapping[str, str],
    own_transactions: bool,
    sql: str,
    warehouse_id: str,
) -> SqlResult:
    from sqlalchemy import text as sql_text
    from sqlalchemy.exc import SQLAlchemyError

    done: list[StatementResult] = []
    preview: PreviewCollector | None = None
    transaction = None if own_transactions else conn.begin()
    for i, ((original, kind), m) in enumerate(zip(statements, marked, strict=True)):
        values = {n: parameters[n] for n in m.names}
        try:
            result = conn.execute(sql_text(m.text), values)
            rows_affected, collected = _read(result, kind)
        except SQLAlchemyError as exc:
            if transaction is not None:
                transaction.rollback()
            message = _db_message(exc)
            raise WarehouseError(
                message, statement=original, index=i, count=len(statements)
            ) from None
        done.append(StatementResult(original, kind, rows_affected))
        preview = collected if collected is not None else preview
    if transaction is not None:
        transaction.commit()
    return SqlResult.of(warehouse_id, sql, done, preview)


def _read(result: Any, kind: str) -> tuple[int | None, PreviewCollector | None]:
    """(rows affected, preview) of an executed statement."""
    count = result.rowcount if result.rowcount is not None and result.rowcount >= 0 else None
    if not result.returns_rows:
        return count, None
    preview = PreviewCollector(list(map(str, result.keys())))
    for row in result:
        if not preview.add(row):
            break
    result.close()
    return (count if kind in _DML else None), preview


def _db_message(exc: Exception) -> str:
    """The database's own message, without SQLAlchemy's wrapping and background links."""
    orig = getattr(exc, "orig", None)
    message = str(orig) if orig is not None else str(exc).split("\n(Background on")[0]
    return message.strip()
