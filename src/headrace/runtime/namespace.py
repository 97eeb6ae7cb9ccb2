"""The names a Databricks notebook has without imports: dbutils, display, displayHTML, ..."""

from __future__ import annotations

from typing import Any


def notebook_globals() -> dict[str, Any]:
    """dbutils and friends; Spark names are None (there is no Spark here)."""
    from headrace.runtime.dbutils import dbutils
    from headrace.runtime.display import display, displayHTML

    return {
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


def sdk_path() -> str:
    """The folder to put on a Python task's PYTHONPATH for `databricks.sdk.runtime`."""
    from pathlib import Path

    return str(Path(__file__).resolve().parent / "sdk_path")
