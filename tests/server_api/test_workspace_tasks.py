"""Tasks whose files are workspace paths run the uploaded files (engine.workspace's mapping).

These need the worker to map task paths through `engine.workspace.task_local_path`
(spark_python_task.python_file, shell_command_task.working_directory).
"""

from __future__ import annotations

from pathlib import Path

from databricks.sdk.service import jobs

from support import User, settle, shell

SCRIPT = b"""\
import os, sys
from pathlib import Path
Path(sys.argv[1]).write_text(f"{os.getcwd()}|{sys.argv[2]}")
"""


def _run(user: User, name: str, task: jobs.Task) -> jobs.Run:
    job_id = user.w.jobs.create(name=name, tasks=[task]).job_id
    return settle(user.w, user.w.jobs.run_now(job_id).run_id)


def test_spark_python_task_runs_an_uploaded_workspace_file(alice: User, tmp_path: Path) -> None:
    alice.w.workspace.upload("/Workspace/Users/alice/tasks/etl.py", SCRIPT, overwrite=True)
    out = tmp_path / "out.txt"
    task = jobs.Task(
        task_key="etl",
        spark_python_task=jobs.SparkPythonTask(
            python_file="/Workspace/Users/alice/tasks/etl.py", parameters=[str(out), "ok"]
        ),
    )

    run = _run(alice, "ws-python", task)

    assert run.state.result_state == jobs.RunResultState.SUCCESS, run.state
    cwd, arg = out.read_text().split("|")
    assert arg == "ok"
    assert cwd.endswith("/workspace/Workspace/Users/alice/tasks")


def test_spark_python_task_takes_the_path_without_workspace_prefix(
    alice: User, tmp_path: Path
) -> None:
    alice.w.workspace.upload("/Users/alice/tasks/etl2.py", SCRIPT, overwrite=True)
    out = tmp_path / "out.txt"
    task = jobs.Task(
        task_key="etl",
        spark_python_task=jobs.SparkPythonTask(
            python_file="/Users/alice/tasks/etl2.py",
            parameters=[str(out), "bare"],
            source=jobs.Source.WORKSPACE,
        ),
    )

    run = _run(alice, "ws-python-bare", task)

    assert run.state.result_state == jobs.RunResultState.SUCCESS, run.state
    assert out.read_text().endswith("|bare")


def test_shell_task_working_directory_in_the_workspace(alice: User, tmp_path: Path) -> None:
    alice.w.workspace.upload("/Users/alice/proj/data.txt", b"from the workspace", overwrite=True)
    out = tmp_path / "out.txt"
    task = shell("cat", f"cat data.txt > {out}", working_directory="/Workspace/Users/alice/proj")

    run = _run(alice, "ws-shell", task)

    assert run.state.result_state == jobs.RunResultState.SUCCESS, run.state
    assert out.read_text() == "from the workspace"
