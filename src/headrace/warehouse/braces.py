"""Databricks SQL's `{{name}}` parameters: the value put into the SQL text before it runs.

Databricks substitutes `{{name}}` in a SQL file or saved query as text (the legacy query
parameter syntax; `USE CATALOG {{catalog}}` in its SQL templates), where `:name` markers are
bound as values. Headrace does both: `{{name}}` first, as text, then `:name` markers bound.
Only plain names are parameters; `{{job.run_id}}`-style dynamic references (with a dot) were
resolved by the engine before the task started and never reach here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from headrace.warehouse.errors import WarehouseError

PATTERN = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def names(sql: str) -> list[str]:
    """The `{{name}}` parameters `sql` uses, in order of first use."""
    return list(dict.fromkeys(m.group(1) for m in PATTERN.finditer(sql)))


def substitute(sql: str, parameters: Mapping[str, str]) -> str:
    """`sql` with each `{{name}}` replaced by its parameter's text.

    Raises:
        WarehouseError: naming every `{{name}}` no parameter gives (nothing has run).
    """
    if "{{" not in sql:
        return sql
    missing = [n for n in names(sql) if n not in parameters]
    if missing:
        given = ", ".join(sorted(parameters)) or "none"
        listed = ", ".join("{{" + n + "}}" for n in missing)
        raise WarehouseError(
            f"the SQL uses {listed} but the task does not give "
            f"{'them' if len(missing) != 1 else 'it'} (given: {given}); "
            "add it to sql_task.parameters or the job's parameters"
        )
    return PATTERN.sub(lambda m: str(parameters[m.group(1)]), sql)
