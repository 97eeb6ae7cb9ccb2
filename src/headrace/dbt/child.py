"""Runs a dbt_task's commands with dbt's Python API, inside the task's dbt environment.

`python -m headrace.dbt.child COMMANDS_JSON`: dbt is imported once for all the commands. dbt's
own output is the task's log; when a command fails, the last line names the command and dbt's
own message (what failed and why), which becomes the task's error.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

_FAILED = ("error", "fail", "runtime error")
# Headrace's dbt package of Databricks materializations (streaming_table, materialized_view).
COMPAT_PACKAGE = "headrace_databricks_compat"
COMPAT_DIR = Path(__file__).resolve().parent / "databricks_compat"


def add_databricks_compat() -> None:
    """List Headrace's package among dbt's internal packages (those adapters bring along), so
    Databricks-only materializations resolve on local adapters without a file in the user's
    project. dbt has no setting for extra internal packages: its adapter factory is extended
    (dbt-core 1.11, pinned by headrace.dbt.profiles)."""
    from dbt.adapters import factory

    container = factory.FACTORY
    container.packages[COMPAT_PACKAGE] = COMPAT_DIR
    listed = container.get_adapter_package_names

    def package_names(name: str | None) -> list[str]:
        names = list(listed(name))
        if name != "databricks" and COMPAT_PACKAGE not in names:
            names.insert(max(len(names) - 1, 0), COMPAT_PACKAGE)  # before dbt's global project
        return names

    container.get_adapter_package_names = package_names  # type: ignore[method-assign]
    _translate_marked_sql()


_DIALECTS = {"duckdb": "duckdb", "postgres": "postgres", "spark": "spark"}  # dbt type: sqlglot's
_MARKED = r"/\*headrace:databricks-sql\*/(.*?)/\*headrace:end\*/"


def _translate_marked_sql() -> None:
    """The query of a model with a Databricks materialization is Databricks SQL (the compat
    package marks it): sqlglot rewrites that part of the statement in the adapter's dialect
    (`timestamp(x)`, `from_unixtime`, double-quoted strings...). Without sqlglot it runs as is."""
    import re

    try:
        import sqlglot
        from dbt.adapters.sql.connections import SQLConnectionManager
    except ImportError:
        return
    add_query = SQLConnectionManager.add_query

    def translated(self: Any, sql: str, *args: Any, **kwargs: Any) -> Any:
        dialect = _DIALECTS.get(self.TYPE)
        if dialect is not None and "/*headrace:databricks-sql*/" in sql:

            def one(match: re.Match[str]) -> str:
                return sqlglot.transpile(match.group(1), read="databricks", write=dialect)[0]

            sql = re.sub(_MARKED, one, sql, flags=re.S)
        return add_query(self, sql, *args, **kwargs)

    SQLConnectionManager.add_query = translated  # type: ignore[method-assign]


def main(argv: list[str]) -> int:
    commands = json.loads(argv[0])
    from dbt.cli.main import dbtRunner

    add_databricks_compat()
    runner = dbtRunner()
    for command in commands:
        words = shlex.split(command)
        print(f"[headrace] {command}", flush=True)
        result = runner.invoke(words[1:])
        if not result.success:
            print(f"{command!r} failed: {_reason(words, result)}", flush=True)
            return 1
    return 0


def _reason(words: list[str], result: Any) -> str:
    """dbt's own words for why a command failed."""
    if result.exception is not None:
        text = " ".join(str(result.exception).split())
        if len(words) > 1 and words[1] == "deps":
            return f"dbt deps could not install the packages (is the network reachable?): {text}"
        return text
    failures = []
    for node in getattr(result.result, "results", None) or []:
        if str(getattr(node, "status", "")).lower() in _FAILED:
            name = getattr(getattr(node, "node", None), "name", "?")
            kind = getattr(getattr(node, "node", None), "resource_type", "node")
            message = " ".join(str(getattr(node, "message", "") or "").split())
            failures.append(f"{kind} {name}: {message}")
    if failures:
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        return failures[0] + more
    return "dbt reported a failure (see the log above)"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
