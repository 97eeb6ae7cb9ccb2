"""SQL warehouses: the embedded DuckDB default, named ones configured by SQLAlchemy URL, and
Spark ones (`spark://`, `sc://HOST:PORT`: the shared Spark catalog, see `spark_backend`).

`execute()` is what sql_task and notebook `%sql` cells call. Nothing heavy is imported here:
DuckDB, SQLAlchemy and sqlparse load only when SQL runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from headrace.warehouse.errors import WarehouseError
from headrace.warehouse.result import SqlResult, StatementResult


def execute(
    sql_text: str,
    warehouse_id: str | None = None,
    parameters: Mapping[str, str] | None = None,
    *,
    home: Path | None = None,
) -> SqlResult:
    """Run one or more `;`-separated statements, binding `:name` markers from `parameters`.

    All statements run in one transaction unless the SQL has its own BEGIN/COMMIT; a failing
    statement rolls the others back.

    Raises:
        WarehouseError: an unknown warehouse, a missing parameter (before anything runs), or
            the database's error with the failing statement.
    """
    from headrace.warehouse.config import resolve

    warehouse = resolve(warehouse_id, home=home)
    given = {str(k): str(v) for k, v in (parameters or {}).items()}
    if warehouse.duckdb_path is not None:
        from headrace.warehouse import duckdb_backend

        return duckdb_backend.execute(
            sql_text, warehouse.duckdb_path, given, warehouse.warehouse_id
        )
    url = warehouse.url or ""  # resolve() sets a DuckDB path or a URL
    if url.startswith(("spark://", "sc://")):
        from headrace.config import default_home
        from headrace.warehouse import spark_backend

        where = home if home is not None else default_home()
        return spark_backend.execute(sql_text, url, given, warehouse.warehouse_id, home=where)
    from headrace.warehouse import sqlalchemy_backend

    return sqlalchemy_backend.execute(sql_text, url, given, warehouse.warehouse_id)


__all__ = ["SqlResult", "StatementResult", "WarehouseError", "execute"]
