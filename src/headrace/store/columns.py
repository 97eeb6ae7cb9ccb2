"""What SQL text needs to know of the tables without loading `schema.py` (SQLAlchemy): the
Python-side column defaults an INSERT must fill in, and column lists of wide tables.

`tests/unit/store/test_store_columns.py` checks both against `schema.py`, the tables' definition.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from headrace.store.sql import insert_sql

# Columns with a Python-side `default=` in schema.py, by table: an INSERT that leaves them out
# gets these values (SQLAlchemy's insert() filled them in; SQL text must do it itself).
DEFAULTS: dict[str, dict[str, Any]] = {
    "notifications": {"attempts": 0},
    "pipeline_updates": {"full_refresh": False},
    "spark_clusters": {"state_message": ""},
    "tokens": {"admin": False},
    "runs": {"state_message": "", "repair_count": 0},
    "repairs": {"state_message": ""},
    "task_runs": {"current": True, "state_message": "", "waiting_on": 0, "attempt_number": 0},
}

# Every column of `runs` but its settings snapshot (large; read on its own when needed).
RUN_COLUMNS = (
    "run_id, job_id, run_name, run_type, trigger_type, job_parameters, life_cycle_state,"
    " result_state, state_message, stop_reason, coordinator_id, repair_count,"
    " latest_repair_id, timeout_at, created_time, start_time, end_time, job_version, run_as,"
    " idempotency_token, trigger_info"
)


def with_defaults(table: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` with the table's Python-side defaults for the columns it leaves out."""
    defaults = DEFAULTS.get(table)
    return {**defaults, **values} if defaults else dict(values)


def insert(table: str, values: Mapping[str, Any], returning: str | None = None) -> tuple:
    """(SQL, parameters) inserting one row of `values` (defaults filled in)."""
    row = with_defaults(table, values)
    return insert_sql(table, list(row), returning), row


def insert_many(table: str, rows: list[Mapping[str, Any]]) -> tuple:
    """(SQL, parameter rows) inserting `rows`, which share their keys (defaults filled in)."""
    full = [with_defaults(table, r) for r in rows]
    return insert_sql(table, list(full[0])), full


# Rows per statement of json_insert_sql: a bound on one parameter's size (a task run is ~200
# bytes of JSON, a run ~1 kB plus its settings); more rows take more statements.
JSON_ROWS_PER_STATEMENT = 5_000


def json_rows(rows: list[dict[str, Any]]) -> str:
    """Rows as the JSON array of objects that `json_insert_sql`'s parameter takes."""
    return json.dumps(rows, ensure_ascii=False, separators=(",", ":"))


@lru_cache(maxsize=128)
def json_insert_sql(table: str, columns: tuple[str, ...], param: str) -> str:
    """PostgreSQL: `INSERT INTO table (columns)` of the rows in the JSON parameter `param`
    (`json_rows`), read with the table's own column types by `json_populate_recordset`. Its
    text depends on the column names only, never on the number of rows: psycopg caches a
    statement's conversion only up to 4,096 characters and 50 parameters and prepares only
    a text it runs again, which a VALUES list of every cell defeats (issue 18)."""
    names = ", ".join(f'"{c}"' for c in columns)
    return (
        f"INSERT INTO {table} ({names}) SELECT {names}"
        f" FROM json_populate_recordset(NULL::{table}, CAST(:{param} AS json))"
    )
