"""Helpers for the API tests: jobs and runs through the official SDK.

The `Server`, `User`, `shell`, `settle` and the process helpers are in tests/support.py.
"""

from __future__ import annotations

import datetime
import textwrap
from pathlib import Path
from typing import Any

from databricks.sdk import WorkspaceClient
from databricks.sdk.service import jobs

from support import settle, wait_for


def python(key: str, path: Path, *params: str, **kw: Any) -> jobs.Task:
    return jobs.Task(
        task_key=key,
        spark_python_task=jobs.SparkPythonTask(python_file=str(path), parameters=list(params)),
        **kw,
    )


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def result(w: WorkspaceClient, waiter: Any, timeout: float = 30) -> jobs.Run:
    """`waiter.result()`, after waiting here for the end with a quicker poll than the SDK's."""
    settle(w, waiter.run_id, timeout)
    return waiter.result(timeout=datetime.timedelta(seconds=timeout))


def raw_run(w: WorkspaceClient, run_id: int) -> dict[str, Any]:
    """runs/get as JSON, with Headrace's extras (attempts) the SDK's Run drops."""
    return w.api_client.do("GET", "/api/2.2/jobs/runs/get", query={"run_id": run_id})


def task_of(run: jobs.Run, key: str) -> jobs.RunTask:
    for t in run.tasks or []:
        if t.task_key == key:
            return t
    raise AssertionError(f"no task {key!r} in run {run.run_id}")


def wait_task_running(w: WorkspaceClient, run_id: int, key: str, timeout: float = 15) -> None:
    def running() -> bool:
        run = w.jobs.get_run(run_id)
        return task_of(run, key).state.life_cycle_state == jobs.RunLifeCycleState.RUNNING

    wait_for(running, timeout, f"task {key} of run {run_id} to run")
