"""spark_python_task: a Python file run with its parameters as argv (no Spark needed)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from headrace.engine.workspace import task_local_path
from headrace.worker.tasks.base import TaskCommand
from headrace.worker.tasks.python_env import python_task_env


def build_command(settings: dict[str, Any]) -> TaskCommand:
    """`python FILE PARAM...`, run from the file's directory (workspace paths: engine.workspace)."""
    path = Path(task_local_path(settings["python_file"], source=settings.get("source")))
    params = [str(p) for p in settings.get("parameters") or []]
    return TaskCommand(
        [sys.executable, str(path), *params], env=python_task_env(), cwd=str(path.parent)
    )
