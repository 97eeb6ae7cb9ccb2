"""notebook_task: a Jupyter or Databricks source notebook, run cell by cell (see headrace.notebook).

The attempt's process is `python -m headrace.notebook.runner FILE` (see headrace.notebook);
this module only finds the file and builds the command, so the worker never imports nbclient.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from headrace.worker.tasks.base import TaskCommand
from headrace.worker.tasks.python_env import python_task_env


def build_command(settings: dict[str, Any]) -> TaskCommand:
    """Resolve `notebook_path` (workspace paths, lookup without extension) to its file.

    Raises:
        ValueError: no such notebook, or one of a language that does not run here.
    """
    from headrace.notebook.paths import resolve

    path = resolve(settings.get("notebook_path"), source=settings.get("source"))
    env = python_task_env()
    # The worker keeps its HEADRACE_* settings from tasks: pass on the one the runner reads
    # (HEADRACE_NOTEBOOK_EXECUTOR=kernel: every notebook in a Jupyter kernel).
    executor = os.environ.get("HEADRACE_NOTEBOOK_EXECUTOR")
    if executor:
        env["HEADRACE_NOTEBOOK_EXECUTOR"] = executor
    warehouse = settings.get("warehouse_id")
    if warehouse:
        env["HEADRACE_NOTEBOOK_WAREHOUSE"] = str(warehouse)
    argv = [sys.executable, "-m", "headrace.notebook.runner", str(path)]
    # The runner stays on Headrace's interpreter (IPython, nbclient) and puts the task's
    # environment, if it has one, first on the cells' path: it builds it itself.
    return TaskCommand(argv, env=env, cwd=str(path.parent), own_environment=True)
