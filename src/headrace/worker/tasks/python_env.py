"""What every Python task process gets in its environment (notebook, spark_python, wheel)."""

from __future__ import annotations

import os

from headrace.runtime.namespace import sdk_path


def python_task_env() -> dict[str, str]:
    """The SDK hook on PYTHONPATH: `from databricks.sdk.runtime import dbutils` gives
    Headrace's dbutils (the supervisor adds HEADRACE_HOME, where secrets and dbfs:/ live)."""
    parts = [sdk_path()]
    current = os.environ.get("PYTHONPATH")
    if current:
        parts.append(current)
    return {"PYTHONPATH": os.pathsep.join(parts)}
