"""notebook_task end to end: the real CLI, a real Jupyter kernel per attempt."""

from __future__ import annotations

import json
import os
import signal
import subprocess

from headrace.limits import MAX_NOTEBOOK_RESULT_BYTES
from notebooks.helpers import (
    cell_text,
    executed,
    ipynb,
    log,
    output,
    source_notebook,
    task,
)
from support import Headrace, read_pid, wait_dead


def _state(run: dict, key: str) -> tuple[str | None, str]:
    state = task(run, key)["state"]
    return state.get("result_state"), state.get("state_message") or ""


def test_source_notebook_widgets_task_values_exit_and_a_downstream_task(hr: Headrace) -> None:
    source_notebook(
        hr,
        "etl.py",
        """
        # MAGIC %md
        # MAGIC # Daily ETL
        """,
        """
        dbutils.widgets.text("day", "1999-01-01")
        dbutils.widgets.dropdown("region", "emea", ["emea", "amer"])
        day, region = dbutils.widgets.get("day"), dbutils.widgets.get("region")
        print(f"day={day} region={region}")
        print(sorted(dbutils.widgets.getAll().items()))
        """,
        """
        from databricks.sdk.runtime import dbutils as sdk_dbutils, display as sdk_display
        print("same dbutils:", sdk_dbutils is dbutils, sdk_display is display)
        dbutils.jobs.taskValues.set("rows", 42)
        display([{"region": region, "rows": 42}])
        """,
        """
        dbutils.notebook.exit(f"loaded {day}")
        """,
        """
        raise RuntimeError("cells after notebook.exit must not run")
        """,
    )
    job = hr.write(
        "job.yml",
        """
        name: nb
        parameters: [{name: day, default: "2026-11-23"}]
        tasks:
          - task_key: etl
            notebook_task: {notebook_path: ./etl}
          - task_key: report
            depends_on: [{task_key: etl}]
            shell_command_task: {command: "echo rows={{tasks.etl.values.rows}}"}
        """,
    )

    _, run = hr.run_json(job, "-p", "day=2026-12-01", expect=0)

    text = log(run, "etl")
    assert "day=2026-12-01 region=emea" in text  # the job parameter wins; the default fills in
    assert "[('day', '2026-12-01'), ('region', 'emea')]" in text
    assert "same dbutils: True True" in text
    assert "rows=42" in log(run, "report")
    assert output(run, "etl")["notebook_output"] == {
        "result": "loaded 2026-12-01",
        "truncated": False,
    }
    nb = executed(run, "etl")
    assert nb["cells"][0]["cell_type"] == "markdown"
    assert "region" in cell_text(nb["cells"][2]) and "<table>" in cell_text(nb["cells"][2])
    assert cell_text(nb["cells"][3]) == "Notebook exited: loaded 2026-12-01\n"
    assert nb["cells"][4]["outputs"] == [] and nb["cells"][4]["execution_count"] is None


def test_ipynb_gets_a_parameters_cell_injected_after_the_tagged_one(hr: Headrace) -> None:
    ipynb(
        hr,
        "report.ipynb",
        ('threshold = "10"\nlabel = "default"', ["parameters"]),
        'print(f"threshold={threshold} label={label}")',
        'print("widget:", dbutils.widgets.get("threshold"))',
        "dbutils.notebook.exit(threshold)",
    )
    job = hr.write(
        "job.yml",
        """
        name: nb
        tasks:
          - task_key: report
            notebook_task: {notebook_path: report.ipynb, base_parameters: {threshold: "25"}}
        """,
    )

    _, run = hr.run_json(job, expect=0)

    assert "threshold=25 label=default" in log(run, "report")
    assert "widget: 25" in log(run, "report")
    nb = executed(run, "report")
    injected = nb["cells"][1]
    assert injected["metadata"]["tags"] == ["injected-parameters"]
    assert "threshold = '25'" in "".join(injected["source"])
    assert output(run, "report")["notebook_output"]["result"] == "25"


def test_a_failing_cell_fails_the_task_with_its_error_and_keeps_the_notebook(
    hr: Headrace,
) -> None:
    source_notebook(
        hr,
        "bad.py",
        'print("first cell ran")',
        """
        def check(row):
            raise ValueError(f"bad row {row}")

        check(7)
        """,
        'print("never printed")',
    )
    job = hr.write(
        "job.yml",
        """
        name: nb
        tasks:
          - task_key: bad
            notebook_task: {notebook_path: bad.py}
        """,
    )

    _, run = hr.run_json(job, expect=1)

    result, message = _state(run, "bad")
    assert result == "FAILED"
    assert message.startswith("ValueError: bad row 7"), message
    text = log(run, "bad")
    assert "first cell ran" in text and "never printed" not in text
    trace = text[text.index("Traceback (most recent call last):") :]
    assert "notebook bad.py, cell 2" in trace and "check(7)" in trace
    assert "\x1b[" not in trace  # no terminal colour codes in the log
    nb = executed(run, "bad")
    assert "ValueError: bad row 7" in cell_text(nb["cells"][1])
    assert nb["cells"][2]["execution_count"] is None
    assert "notebook_output" not in output(run, "bad")


def test_timeout_kills_the_kernel_and_what_its_cells_started(hr: Headrace, reap: list[int]) -> None:
    pids = hr.dir / "pids"
    source_notebook(
        hr,
        "slow.py",
        f"""
        import os, subprocess, time
        child = subprocess.Popen(["sleep", "600"])
        open({str(pids)!r}, "w").write(f"{{os.getpid()}} {{child.pid}}")
        time.sleep(600)
        """,
    )
    job = hr.write(
        "job.yml",
        """
        name: nb
        tasks:
          - task_key: slow
            timeout_seconds: 6
            notebook_task: {notebook_path: slow.py}
        """,
    )

    _, run = hr.run_json(job, expect=1)

    assert _state(run, "slow")[0] == "TIMEDOUT"
    assert pids.exists(), "the kernel did not start within the 6 s timeout"
    kernel, child = (int(p) for p in pids.read_text().split())
    reap.extend([kernel, child])
    wait_dead(kernel)
    wait_dead(child)


def test_cancel_kills_the_kernel(hr: Headrace, reap: list[int]) -> None:
    pid_file = hr.dir / "kernel.pid"
    source_notebook(
        hr,
        "wait.py",
        f"""
        import os, time
        open({str(pid_file)!r}, "w").write(str(os.getpid()))
        time.sleep(600)
        """,
    )
    job = hr.write(
        "job.yml",
        """
        name: nb
        tasks:
          - task_key: wait
            notebook_task: {notebook_path: wait.py}
        """,
    )
    proc = hr.popen("run", job, "--quiet")
    kernel = read_pid(pid_file, timeout=60)
    reap.append(kernel)

    os.kill(proc.pid, signal.SIGINT)
    try:
        proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        raise AssertionError("headrace run did not exit within 15 s of SIGINT") from None

    assert proc.returncode == 130
    wait_dead(kernel)
    run_id = hr.runs()[0]["run_id"]
    assert _state(hr.get(run_id), "wait")[0] == "CANCELED"


def test_run_magic_runs_notebooks_inline_sh_and_md(hr: Headrace) -> None:
    source_notebook(
        hr,
        "lib/helpers.py",
        """
        %run ./constants
        """,
        """
        def greet(name):
            return f"{GREETING}, {name}"
        """,
    )
    source_notebook(hr, "lib/constants.py", 'GREETING = "hello"')
    source_notebook(
        hr,
        "main.py",
        "# MAGIC %run ./lib/helpers",
        'print(greet("notebook"))',
        """
        # MAGIC %sh
        # MAGIC echo "from bash in $(basename "$PWD")"
        """,
        """
        # MAGIC %md Some *docs*
        """,
        """
        # MAGIC %sh exit 3
        """,
    )
    job = hr.write(
        "job.yml",
        """
        name: nb
        tasks:
          - task_key: main
            notebook_task: {notebook_path: main}
        """,
    )

    _, run = hr.run_json(job, expect=1)

    text = log(run, "main")
    assert "hello, notebook" in text
    assert f"from bash in {hr.dir.name}" in text  # the notebook's folder is the cwd
    result, message = _state(run, "main")
    assert result == "FAILED"
    assert message.startswith("ShellCommandError: %sh command exited with status 3"), message
    nb = executed(run, "main")
    assert nb["cells"][3]["cell_type"] == "markdown"


def test_notebook_run_starts_a_child_notebook_with_arguments(hr: Headrace, reap: list[int]) -> None:
    pid_file = hr.dir / "child-kernel.pid"
    source_notebook(
        hr,
        "children/square.py",
        """
        dbutils.widgets.text("n", "0")
        n = int(dbutils.widgets.get("n"))
        dbutils.jobs.taskValues.set("from_child", n)
        dbutils.notebook.exit(str(n * n))
        """,
    )
    source_notebook(hr, "children/broken.py", "1 / 0")
    source_notebook(
        hr,
        "children/sleepy.py",
        f"""
        import os, time
        open({str(pid_file)!r}, "w").write(str(os.getpid()))
        time.sleep(600)
        """,
    )
    source_notebook(
        hr,
        "parent.py",
        """
        dbutils.jobs.taskValues.set("from_parent", 1)
        print("square:", dbutils.notebook.run("./children/square", 60, {"n": 7}))
        """,
        """
        try:
            dbutils.notebook.run("children/broken", 60)
        except Exception as exc:
            print("broken:", type(exc).__name__, exc)
        """,
        """
        try:
            dbutils.notebook.run("children/sleepy", 5)
        except Exception as exc:
            print("sleepy:", exc)
        """,
    )
    job = hr.write(
        "job.yml",
        """
        name: nb
        tasks:
          - task_key: parent
            notebook_task: {notebook_path: parent.py}
        """,
    )

    _, run = hr.run_json(job, expect=0)

    text = log(run, "parent")
    assert "Running notebook ./children/square" in text and "children/1-square" in text
    assert "square: 49" in text
    assert "broken: NotebookRunError" in text and "ZeroDivisionError" in text
    assert "sleepy: notebook children/sleepy timed out after 5 s" in text
    assert task(run, "parent")["task_values"] == {"from_parent": 1, "from_child": 7}
    # The child's kernel (if it got as far as starting on a loaded machine) is gone too.
    if pid_file.exists():
        kernel = read_pid(pid_file)
        reap.append(kernel)
        wait_dead(kernel)


def test_a_missing_notebook_fails_the_task_naming_the_path(hr: Headrace) -> None:
    job = hr.write(
        "job.yml",
        """
        name: nb
        tasks:
          - task_key: gone
            notebook_task: {notebook_path: ./nowhere/etl}
        """,
    )

    _, run = hr.run_json(job, expect=1)

    result, message = _state(run, "gone")
    assert result == "FAILED"
    assert "cannot start task: notebook" in message and "nowhere/etl" in message
    assert ".py, .ipynb, .sql" in message


def test_an_exit_value_over_the_limit_is_truncated(hr: Headrace) -> None:
    source_notebook(
        hr,
        "big.py",
        f'dbutils.notebook.exit("é" * {MAX_NOTEBOOK_RESULT_BYTES // 2 + 10})',
    )
    job = hr.write(
        "job.yml",
        """
        name: nb
        tasks:
          - task_key: big
            notebook_task: {notebook_path: big.py}
        """,
    )

    _, run = hr.run_json(job, expect=0)

    out = output(run, "big")["notebook_output"]
    assert out["truncated"] is True
    assert out["result"] == "é" * (MAX_NOTEBOOK_RESULT_BYTES // 2)


def test_runs_export_writes_the_executed_notebook_and_html(hr: Headrace) -> None:
    source_notebook(hr, "hello.py", 'print("hello from the kernel")')
    job = hr.write(
        "job.yml",
        """
        name: nb
        tasks:
          - task_key: hello
            notebook_task: {notebook_path: hello.py}
          - task_key: shell
            shell_command_task: {command: "true"}
        """,
    )
    _, run = hr.run_json(job, expect=0)
    run_id = str(run["run_id"])

    as_ipynb = hr("runs", "export", run_id, "hello")
    html_file = hr.dir / "hello.html"
    as_html = hr("runs", "export", run_id, "hello", "--html", "-o", str(html_file))
    not_a_notebook = hr("runs", "export", run_id, "shell")
    no_task = hr("runs", "export", run_id, "nope")

    assert as_ipynb.returncode == 0, str(as_ipynb)
    assert "hello from the kernel" in cell_text(as_ipynb.json()["cells"][0])
    assert as_html.returncode == 0, str(as_html)
    page = html_file.read_text()
    assert page.startswith("<!DOCTYPE html>") and "hello from the kernel" in page
    assert not_a_notebook.returncode == 3 and "not a notebook task" in not_a_notebook.stderr
    assert no_task.returncode == 3 and "no task 'nope'" in no_task.stderr


def test_pip_magic_runs_pip_of_the_task_interpreter_and_fails_the_cell_on_error(
    hr: Headrace,
) -> None:
    source_notebook(
        hr,
        "pip.py",
        "%pip --version",
        "%pip install --no-index /nonexistent/headrace_probe-0.0.0-py3-none-any.whl",
    )
    job = hr.write(
        "job.yml",
        """
        name: nb
        tasks:
          - task_key: pip
            notebook_task: {notebook_path: pip.py}
        """,
    )

    _, run = hr.run_json(job, expect=1)

    assert "pip " in log(run, "pip") and " from " in log(run, "pip")
    result, message = _state(run, "pip")
    assert result == "FAILED"
    assert message.startswith("ShellCommandError: %pip exited with status 1"), message


def test_ipynb_with_widgets_task_values_sql_run_and_exit(hr: Headrace) -> None:
    source_notebook(hr, "shared/setup.py", 'def label(n):\n    return f"{n} rows"')
    ipynb(
        hr,
        "all.ipynb",
        "%run ./shared/setup",
        'dbutils.widgets.text("n", "1")\nn = int(dbutils.widgets.get("n"))',
        "%sql\nSELECT range AS i FROM range(CAST(:n AS INTEGER))",
        "count = len(_sqldf.rows)\ndbutils.jobs.taskValues.set('count', count)",
        "dbutils.notebook.exit(label(count))",
    )
    job = hr.write(
        "job.yml",
        """
        name: nb
        tasks:
          - task_key: all
            notebook_task: {notebook_path: ./all, base_parameters: {n: "4"}}
        """,
    )

    _, run = hr.run_json(job, expect=0)

    assert task(run, "all")["task_values"] == {"count": 4}
    assert output(run, "all")["notebook_output"]["result"] == "4 rows"


def test_an_invalid_or_non_python_ipynb_fails_the_task_with_a_clear_message(
    hr: Headrace,
) -> None:
    (hr.dir / "broken.ipynb").write_text('{"cells": [')
    r_notebook = json.loads(ipynb(hr, "model.ipynb", "x <- 1").read_text())
    r_notebook["metadata"]["kernelspec"] = {"name": "ir", "display_name": "R", "language": "R"}
    (hr.dir / "model.ipynb").write_text(json.dumps(r_notebook))
    job = hr.write(
        "job.yml",
        """
        name: nb
        tasks:
          - task_key: broken
            notebook_task: {notebook_path: broken.ipynb}
          - task_key: model
            notebook_task: {notebook_path: model.ipynb}
        """,
    )

    _, run = hr.run_json(job, expect=1)

    result, message = _state(run, "broken")
    assert result == "FAILED"
    assert "broken.ipynb is not a valid .ipynb notebook" in message, message
    result, message = _state(run, "model")
    assert result == "FAILED"
    assert "model.ipynb is a R notebook: only Python notebooks run here" in message, message


def test_run_magic_arguments_are_widget_values_for_the_notebook_it_runs(hr: Headrace) -> None:
    source_notebook(
        hr,
        "child.py",
        'dbutils.widgets.text("day", "default-day")\nseen = dbutils.widgets.get("day")',
    )
    source_notebook(
        hr,
        "outer.py",
        'day = "a variable IPython must not expand"',
        '%run ./child $day="2026-01-02"',
        'print("child saw", seen, "| outer sees", dbutils.widgets.get("day"))',
        "%run ./child $day",
    )
    job = hr.write(
        "job.yml",
        """
        name: nb
        tasks:
          - task_key: outer
            notebook_task: {notebook_path: outer.py}
        """,
    )

    _, run = hr.run_json(job, expect=1)

    assert "child saw 2026-01-02 | outer sees default-day" in log(run, "outer")
    message = task(run, "outer")["state"]["state_message"]
    assert message.startswith("ValueError: %run arguments are written $name="), message
