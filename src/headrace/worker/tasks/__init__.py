"""Task types that run as a process: one module each, behind `build_command`."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

from headrace.worker.tasks.base import TaskCommand

_MODULES = {
    "shell_command_task": "headrace.worker.tasks.shell_command",
    "spark_python_task": "headrace.worker.tasks.spark_python",
    "python_wheel_task": "headrace.worker.tasks.python_wheel",
    "notebook_task": "headrace.worker.tasks.notebook",
    "sql_task": "headrace.worker.tasks.sql",
    "dbt_task": "headrace.worker.tasks.dbt",
    "spark_jar_task": "headrace.worker.tasks.spark_jar",
    "spark_submit_task": "headrace.worker.tasks.spark_submit",
    "pipeline_task": "headrace.worker.tasks.pipeline",
}


def command_builder(task_type: str) -> Callable[[dict[str, Any]], TaskCommand]:
    """The `build_command` of a task type's module."""
    return import_module(_MODULES[task_type]).build_command  # type: ignore[no-any-return]


__all__ = ["TaskCommand", "command_builder"]
