"""The sql_task process: `python -m headrace.warehouse.run_task SPEC_JSON`.

SPEC_JSON carries `warehouse_id`, `parameters` and either `query_text` or `file` (a local
path). Job parameters pushed down by the worker (the task context) win over the task's own,
as on Databricks. `{{name}}` in the SQL is replaced by the parameter's text first
(`warehouse/braces.py`), then `:name` markers are bound as values. Exit code 0 on success, 1 when the SQL fails, 2 for a bad spec.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from headrace.warehouse.errors import WarehouseError


def main(argv: list[str]) -> int:
    try:
        spec = json.loads(argv[0]) if len(argv) == 1 else None
    except ValueError:
        spec = None
    if not isinstance(spec, dict):
        print("usage: python -m headrace.warehouse.run_task SPEC_JSON", file=sys.stderr)
        return 2
    try:
        run(spec)
    except WarehouseError as exc:
        print(str(exc), file=sys.stderr, flush=True)
        # The worker takes a task's error from the last line of its log.
        print(f"WarehouseError: {exc.summary}", file=sys.stderr, flush=True)
        return 1
    return 0


def run(spec: dict[str, Any]) -> None:
    """Run the task's SQL, print a summary and the preview, report `sql_output`."""
    from headrace.runtime.output import report_output
    from headrace.warehouse import braces, execute

    parameters = {**(spec.get("parameters") or {}), **_pushed_down_parameters()}
    parameters = {str(k): str(v) for k, v in parameters.items()}
    warehouse_id = spec.get("warehouse_id") or "default"
    sql = braces.substitute(  # Databricks' {{name}}, as text
        _sql_text(spec), parameters, backslash_escapes=_backslash_escapes(warehouse_id)
    )
    print(f"warehouse: {warehouse_id}", flush=True)
    result = execute(sql, warehouse_id, parameters)
    for i, statement in enumerate(result.statements):
        changed = statement.rows_affected
        tail = "" if changed is None else f"  -- {changed} row{'s' if changed != 1 else ''}"
        first_line = " ".join(statement.text.split())[:200]
        print(f"[{i + 1}/{len(result.statements)}] {first_line}{tail}")
    if result.has_result_set:
        print(result.preview_text())
    n = len(result.statements)
    print(f"{n} statement{'s' if n != 1 else ''} executed", flush=True)
    report_output(sql_output=result.to_output())


def _backslash_escapes(warehouse_id: str) -> bool:
    """Does the warehouse's SQL read a backslash in a string as an escape (Spark, MySQL)?"""
    from headrace.warehouse.config import resolve

    warehouse = resolve(warehouse_id)
    url = (warehouse.url or "").lower() if warehouse.duckdb_path is None else ""
    return url.startswith(("spark://", "sc://", "mysql", "mariadb"))


def _sql_text(spec: dict[str, Any]) -> str:
    if isinstance(spec.get("query_text"), str):
        return spec["query_text"]
    path = spec.get("file")
    if not isinstance(path, str):
        raise WarehouseError("sql_task needs query.query_text or file.path")
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as exc:
        raise WarehouseError(f"sql_task.file.path: cannot read {path}: {exc.strerror}") from None


def _pushed_down_parameters() -> dict[str, str]:
    """The task's key-value parameters with the job's parameters merged in (worker context)."""
    path = os.environ.get("HEADRACE_CONTEXT")
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            context = json.load(f)
    except (OSError, ValueError):
        return {}
    params = context.get("parameters") if isinstance(context, dict) else None
    return {str(k): str(v) for k, v in params.items()} if isinstance(params, dict) else {}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
