"""sql_task: SQL run on a warehouse by `headrace.warehouse.run_task` in its own process."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from headrace.engine.workspace import task_local_path
from headrace.worker.tasks.base import TaskCommand


def build_command(settings: dict[str, Any]) -> TaskCommand:
    """`python -m headrace.warehouse.run_task SPEC`; a file task runs from the file's folder.

    Raises:
        ValueError: the settings name no runnable SQL (the spec validation stops this earlier).
    """
    spec: dict[str, Any] = {
        "warehouse_id": settings.get("warehouse_id"),
        "parameters": settings.get("parameters") or {},
    }
    query = settings.get("query") or {}
    sql_file = settings.get("file") or {}
    cwd = None
    if isinstance(query.get("query_text"), str):
        spec["query_text"] = query["query_text"]
    elif isinstance(sql_file.get("path"), str):
        path = Path(task_local_path(sql_file["path"], source=sql_file.get("source")))
        if not path.is_file():
            raise ValueError(f"sql_task.file.path: no such file {str(path)!r}")
        spec["file"] = str(path)
        cwd = str(path.parent)
    else:
        raise ValueError("sql_task: only query.query_text and file.path can run here")
    argv = [
        sys.executable,
        "-m",
        "headrace.warehouse.run_task",
        json.dumps(spec, ensure_ascii=False),
    ]
    return TaskCommand(argv, cwd=cwd)
