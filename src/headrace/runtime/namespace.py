"""The names a Databricks notebook has without imports: dbutils, display, displayHTML, ..."""

from __future__ import annotations

from typing import Any


def notebook_globals() -> dict[str, Any]:
    """dbutils and friends; `spark` (and `sql`, `table`, `udf`) is a Spark Connect session on
    the task's compute when pyspark is installed (headrace.runtime.spark), else None."""
    from headrace.runtime.dbutils import dbutils
    from headrace.runtime.display import display, displayHTML
    from headrace.runtime.spark import spark_globals

    names = {
        "dbutils": dbutils,
        "display": display,
        "displayHTML": displayHTML,
        "getArgument": dbutils.widgets.getArgument,
        "spark": None,
        "sc": None,
        "sqlContext": None,
        "sql": None,
        "table": None,
        "udf": None,
    }
    names.update(spark_globals())
    return names


def sdk_path() -> str:
    """The folder to put on a Python task's PYTHONPATH for `databricks.sdk.runtime`."""
    from pathlib import Path

    return str(Path(__file__).resolve().parent / "sdk_path")
