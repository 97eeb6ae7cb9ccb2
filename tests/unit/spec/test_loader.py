"""Loading job files: shapes, path resolution, and error reports with paths and reasons."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from headrace.errors import SpecError
from headrace.spec.loader import load_job_file, parse_job_settings


def shell(key: str, **extra: Any) -> dict[str, Any]:
    return {"task_key": key, "shell_command_task": {"command": "true"}, **extra}


def write(tmp_path: Path, name: str, content: str | object) -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def spec_error(path: Path) -> SpecError:
    with pytest.raises(SpecError) as caught:
        load_job_file(path)
    return caught.value


def lines(error: SpecError) -> list[str]:
    return [str(issue) for issue in error.issues]


YAML_JOB = """\
name: nightly
parameters:
  - {name: day, default: 2024-01-01}
tasks:
  - task_key: extract
    spark_python_task:
      python_file: scripts/extract.py
      parameters: ["--day={{ job.parameters.day }}", 3]
  - task_key: check
    depends_on: [{task_key: extract}]
    condition_task: {op: GREATER_THAN, left: "{{tasks.extract.values.rows}}", right: 0}
  - task_key: load
    depends_on: [{task_key: check, outcome: true}]
    shell_command_task: {command: echo done}
"""


def test_single_yaml_job(tmp_path: Path) -> None:
    [job] = load_job_file(write(tmp_path, "job.yml", YAML_JOB))
    assert job.name == "nightly"
    assert [t.task_key for t in job.tasks] == ["extract", "check", "load"]
    assert job.parameters[0].default == "2024-01-01"
    assert job.tasks[2].depends_on[0].outcome == "true"
    assert job.tasks[0].spark_python_task is not None
    assert job.tasks[0].spark_python_task.parameters == ["--day={{ job.parameters.day }}", "3"]


@pytest.mark.parametrize("name", ["job.json", "job.yaml", "job.txt"])
def test_json_content_loads_whatever_the_extension(tmp_path: Path, name: str) -> None:
    [job] = load_job_file(write(tmp_path, name, {"name": "j", "tasks": [shell("a")]}))
    assert job.name == "j"


def test_databricks_settings_wrapper(tmp_path: Path) -> None:
    got = {
        "job_id": "42",
        "created_time": 1,
        "settings": {"name": "wrapped", "tasks": [shell("a")]},
    }
    [job] = load_job_file(write(tmp_path, "job.json", got))
    assert job.name == "wrapped"


def test_list_of_jobs_and_jobs_key(tmp_path: Path) -> None:
    jobs = [{"name": "one", "tasks": [shell("a")]}, {"settings": {"name": "two"}}]
    assert [j.name for j in load_job_file(write(tmp_path, "list.json", jobs))] == ["one", "two"]
    page = {"jobs": jobs, "has_more": False}
    assert [j.name for j in load_job_file(write(tmp_path, "page.json", page))] == ["one", "two"]


def test_issues_in_several_jobs_are_prefixed(tmp_path: Path) -> None:
    jobs = {
        "jobs": [
            {"name": "ok"},
            {"tasks": [shell("a", depends_on=[{"task_key": "b"}])]},
            {"nam": "x"},
        ]
    }
    error = spec_error(write(tmp_path, "jobs.yml", json.dumps(jobs)))
    assert lines(error) == [
        "jobs[1].tasks[0].depends_on[0].task_key: no task named 'b'",
        "jobs[2].nam: unknown field 'nam' (did you mean 'name'?)",
    ]
    assert error.source == str(tmp_path / "jobs.yml")


def test_relative_paths_resolve_against_the_file(tmp_path: Path) -> None:
    spec = {
        "tasks": [
            {"task_key": "py", "spark_python_task": {"python_file": "src/../main.py"}},
            {"task_key": "nb", "notebook_task": {"notebook_path": "./notebooks/nb"}},
            {
                "task_key": "sh",
                "shell_command_task": {"command": "ls", "working_directory": "../data"},
            },
            {"task_key": "sql", "sql_task": {"warehouse_id": "w", "file": {"path": "q.sql"}}},
            {
                "task_key": "fe",
                "for_each_task": {
                    "inputs": "[1]",
                    "task": {"task_key": "i", "spark_python_task": {"python_file": "inner.py"}},
                },
            },
            {"task_key": "abs", "spark_python_task": {"python_file": "/opt/x.py"}},
            {"task_key": "url", "spark_python_task": {"python_file": "dbfs:/x.py"}},
            {
                "task_key": "ref",
                "spark_python_task": {"python_file": "{{job.parameters.dir}}/x.py"},
            },
            {"task_key": "git", "spark_python_task": {"python_file": "x.py", "source": "GIT"}},
        ],
        "parameters": [{"name": "dir", "default": "/tmp"}],
    }
    folder = tmp_path / "jobs"
    folder.mkdir()
    [job] = load_job_file(write(folder, "job.json", spec))
    t = {task.task_key: task for task in job.tasks}
    assert t["py"].spark_python_task.python_file == str(folder / "main.py")  # type: ignore[union-attr]
    assert t["nb"].notebook_task.notebook_path == str(folder / "notebooks/nb")  # type: ignore[union-attr]
    assert t["sh"].shell_command_task.working_directory == str(tmp_path / "data")  # type: ignore[union-attr]
    assert t["sql"].sql_task.file.path == str(folder / "q.sql")  # type: ignore[union-attr]
    inner = t["fe"].for_each_task.task.spark_python_task  # type: ignore[union-attr]
    assert inner.python_file == str(folder / "inner.py")  # type: ignore[union-attr]
    assert t["abs"].spark_python_task.python_file == "/opt/x.py"  # type: ignore[union-attr]
    assert t["url"].spark_python_task.python_file == "dbfs:/x.py"  # type: ignore[union-attr]
    assert t["ref"].spark_python_task.python_file == "{{job.parameters.dir}}/x.py"  # type: ignore[union-attr]
    assert t["git"].spark_python_task.python_file == "x.py"  # type: ignore[union-attr]


def test_a_job_git_source_keeps_paths_repository_relative(tmp_path: Path) -> None:
    spec = {
        "git_source": {"git_url": "https://x/y.git", "git_provider": "gitHub"},
        "tasks": [
            {"task_key": "nb", "notebook_task": {"notebook_path": "nb"}},
            {"task_key": "ws", "notebook_task": {"notebook_path": "nb", "source": "WORKSPACE"}},
        ],
    }
    [job] = load_job_file(write(tmp_path, "job.json", spec))
    assert job.tasks[0].notebook_task.notebook_path == "nb"  # type: ignore[union-attr]
    assert job.tasks[1].notebook_task.notebook_path == str(tmp_path / "nb")  # type: ignore[union-attr]


def test_parse_job_settings_resolves_only_with_a_base_dir_and_never_mutates(tmp_path: Path) -> None:
    data = {"tasks": [{"task_key": "py", "spark_python_task": {"python_file": "a.py"}}]}
    before = copy.deepcopy(data)
    assert parse_job_settings(data).tasks[0].spark_python_task.python_file == "a.py"  # type: ignore[union-attr]
    job = parse_job_settings(data, base_dir=tmp_path)
    assert job.tasks[0].spark_python_task.python_file == str(tmp_path / "a.py")  # type: ignore[union-attr]
    assert data == before


def test_parse_job_settings_reports_every_issue_with_the_source() -> None:
    with pytest.raises(SpecError) as caught:
        parse_job_settings(
            {"tasks": [shell("a", depends_on=[{"task_key": "x"}]), shell("a")]}, source="api"
        )
    assert caught.value.source == "api"
    assert lines(caught.value) == [
        "tasks[1].task_key: duplicate task_key 'a' (also tasks[0])",
        "tasks[0].depends_on[0].task_key: no task named 'x'",
    ]
    assert str(caught.value).startswith("api: 2 errors in job spec\n")


BAD_FIELDS = """\
name: demo
max_concurrent_runs: -1
tasks:
  - task_key: extract
    depnds_on: []
    spark_python_task: {python_file: x.py}
  - task_key: load
    run_if: SOMETIMES
    max_retries: many
    shell_command_task: {command: [echo]}
  - task_key: bad key
    notebook_task: {notebok_path: x}
  - task_key: dash
    dashboard_task: {}
  - just a string
"""


def test_structural_errors_are_all_reported_with_paths_and_reasons(tmp_path: Path) -> None:
    error = spec_error(write(tmp_path, "bad.yml", BAD_FIELDS))
    assert lines(error) == [
        "tasks[0].depnds_on: unknown field 'depnds_on' (did you mean 'depends_on'?)",
        "tasks[1].run_if: must be one of: ALL_SUCCESS, AT_LEAST_ONE_SUCCESS, NONE_FAILED, "
        "ALL_DONE, AT_LEAST_ONE_FAILED, ALL_FAILED (got 'SOMETIMES')",
        "tasks[1].max_retries: must be an integer (got 'many')",
        "tasks[1].shell_command_task.command: must be a string (got ['echo'])",
        "tasks[2].task_key: 'bad key' may only contain characters in [A-Za-z0-9_-]",
        "tasks[2].notebook_task.notebook_path: field required",
        "tasks[2].notebook_task.notebok_path: unknown field 'notebok_path' "
        "(did you mean 'notebook_path'?)",
        "tasks[3].dashboard_task: task type 'dashboard_task' is not supported by Headrace",
        "tasks[4]: must be a mapping (got 'just a string')",
        "max_concurrent_runs: must be >= 0 (got -1)",
    ]
    assert str(error).startswith(f"{tmp_path / 'bad.yml'}: 10 errors in job spec\n  tasks[0]")


def test_unknown_field_in_a_nested_for_each_task_gets_a_suggestion(tmp_path: Path) -> None:
    inner = {"task_key": "i", "shell_command_task": {"command": "x", "working_dir": "/"}}
    spec = {"tasks": [{"task_key": "f", "for_each_task": {"inputs": "[]", "task": inner}}]}
    assert lines(spec_error(write(tmp_path, "j.json", spec))) == [
        "tasks[0].for_each_task.task.shell_command_task.working_dir: "
        "unknown field 'working_dir' (did you mean 'working_directory'?)"
    ]


SEMANTIC = """\
parameters: [{name: day, default: x}]
schedule: {quartz_cron_expression: "0 0 * * * *", timezone_id: Mars/Base}
tasks:
  - task_key: a
    depends_on: [{task_key: c}]
    shell_command_task: {command: "echo {{job.parameters.dya}} {{tasks.d.values.v}}"}
  - task_key: b
    depends_on: [{task_key: a}, {task_key: lod}]
    shell_command_task: {command: x}
    notebook_task: {notebook_path: /n}
  - task_key: c
    depends_on: [{task_key: b, outcome: "true"}]
  - task_key: d
    shell_command_task: {command: x}
"""


def test_semantic_errors_are_all_reported_in_one_error(tmp_path: Path) -> None:
    error = spec_error(write(tmp_path, "sem.yml", SEMANTIC))
    assert lines(error) == [
        "tasks[1]: task 'b' has 2 task types (notebook_task, shell_command_task); set exactly one",
        "tasks[2]: task 'c' has no task type; set exactly one of: notebook_task, "
        "spark_python_task, "
        "python_wheel_task, shell_command_task, condition_task, for_each_task, sql_task, "
        "run_job_task, spark_jar_task, spark_submit_task, dbt_task, pipeline_task",
        "tasks[1].depends_on[1].task_key: no task named 'lod'",
        "tasks[2].depends_on[0].outcome: outcome is only allowed on a dependency on a "
        "condition_task; 'b' is not a condition_task",
        "tasks[0].depends_on[0]: dependency cycle: a -> b -> c -> a",
        "tasks[0].shell_command_task.command: {{job.parameters.dya}}: no job parameter named "
        "'dya' (did you mean 'day'?)",
        "tasks[0].shell_command_task.command: {{tasks.d.values.v}}: task 'd' is not upstream of "
        "'a'; add it to depends_on (directly or through another task) to use its values",
        "schedule.quartz_cron_expression: exactly one of day-of-month and day-of-week must be "
        "'?' (e.g. '0 0 12 * * ?')",
        "schedule.timezone_id: unknown time zone 'Mars/Base' (use an id like 'UTC' or "
        "'Europe/Berlin')",
    ]


def test_yaml_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    error = spec_error(
        write(tmp_path, "job.yml", "name: x\ntasks:\n  - task_key: a\n   bad: indent\n")
    )
    assert lines(error) == ["invalid YAML at line 4, column 4: did not find expected '-' indicator"]


def test_json_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    error = spec_error(write(tmp_path, "job.json", '{\n  "name": "x",\n}'))
    assert lines(error) == [
        "invalid JSON at line 3, column 1: Expecting property name enclosed in double quotes"
    ]


def test_duplicate_yaml_keys_are_errors(tmp_path: Path) -> None:
    error = spec_error(write(tmp_path, "job.yml", "name: a\ntasks: []\nname: b\n"))
    assert lines(error) == ["invalid YAML at line 3, column 1: duplicate key 'name'"]


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yml"
    error = spec_error(missing)
    assert lines(error) == [f"no such file: {missing}"]
    assert error.source == str(missing)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        ("[]", "the file holds no jobs"),
        (
            "42",
            "the file must hold a job's settings (a mapping), a list of them, "
            "or {jobs: [...]}; got int",
        ),
        ("jobs: {a: 1}", "jobs: must be a list"),
        ("jobs: []\nextra: 1", "extra: unknown field 'extra' next to 'jobs'"),
        (
            "settings: {}\njob_idd: 1",
            "job_idd: unknown field 'job_idd' next to 'settings' (did you mean 'job_id'?)",
        ),
        ("bundle: {name: x}\nresources: {}", "this looks like an Asset Bundle (databricks.yml)"),
    ],
)
def test_file_shape_errors(tmp_path: Path, content: str, message: str) -> None:
    [issue] = lines(spec_error(write(tmp_path, "job.yml", content)))
    assert issue.startswith(message)
