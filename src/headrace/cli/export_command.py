"""`headrace runs export RUN_ID TASK_KEY [--html] [-o FILE]`: a task's executed notebook."""

from __future__ import annotations

import sys
from pathlib import Path

from headrace.config import Settings
from headrace.errors import NotFound
from headrace.store.db import Store

# The notebook runner keeps the executed notebook next to the attempt's log.
EXECUTED_NAME = "notebook.ipynb"


def executed_notebook(store: Store, run_id: int, task_key: str, attempt: int | None) -> Path:
    """The executed notebook of a task's attempt (its last by default). Raises: NotFound."""
    from headrace.cli.runs_commands import find_task

    task = find_task(store, run_id, task_key)
    if "notebook_task" not in task:
        raise NotFound(f"task {task_key!r} of run {run_id} is not a notebook task")
    attempts = task.get("attempts", [])
    chosen = (
        (attempts[-1] if attempts else None)
        if attempt is None
        else next((a for a in attempts if a["attempt_number"] == attempt), None)
    )
    if chosen is None:
        what = "has not run" if not attempts else f"has no attempt {attempt}"
        raise NotFound(f"task {task_key!r} of run {run_id} {what}")
    path = Path(chosen.get("log_path") or "").parent / EXECUTED_NAME
    if not chosen.get("log_path") or not path.exists():
        raise NotFound(
            f"attempt {chosen['attempt_number']} of task {task_key!r} kept no executed notebook "
            f"(it ended before its kernel started: see `headrace runs logs {run_id} {task_key}`)"
        )
    return path


def export(
    settings: Settings,
    store: Store,
    run_id: int,
    task_key: str,
    *,
    attempt: int | None,
    html: bool,
    output: Path | None,
) -> None:
    path = executed_notebook(store, run_id, task_key, attempt)
    if html:
        from headrace.notebook.export import to_html

        data = to_html(path).encode()
    else:
        data = path.read_bytes()
    if output is None:
        sys.stdout.buffer.write(data)
        return
    output.write_bytes(data)
    print(f"wrote {output}", file=sys.stderr)
