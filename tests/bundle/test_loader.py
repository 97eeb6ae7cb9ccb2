"""Loading Asset Bundles: includes, targets, variables, references, modes, paths, errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from headrace.bundle.loader import load_bundle
from headrace.errors import SpecError

ROOT = """
bundle:
  name: sales
include:
  - resources/*.yml
variables:
  rows:
    description: how many rows
    default: "10"
  greeting:
    default: hello ${bundle.target}
  owner:
    description: no default on purpose
targets:
  dev:
    default: true
    mode: development
    variables:
      owner: dev-team
  prod:
    variables:
      rows: "1000"
      owner: ops
    resources:
      jobs:
        etl:
          schedule:
            pause_status: UNPAUSED
          tasks:
            - task_key: load
              shell_command_task:
                command: echo prod ${var.rows}
            - task_key: extra
              depends_on: [{task_key: report}]
              shell_command_task: {command: echo extra}
"""

ETL = """
resources:
  jobs:
    etl:
      name: sales-etl
      tags: {team: "${var.owner}"}
      schedule:
        quartz_cron_expression: "0 0 2 * * ?"
        timezone_id: UTC
      tasks:
        - task_key: load
          shell_command_task:
            command: echo load ${var.rows} ${var.greeting}
        - task_key: report
          depends_on: [{task_key: load}]
          spark_python_task:
            python_file: ../src/report.py
            parameters: ["${bundle.target}", "${workspace.current_user.userName}"]
"""


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return folder


@pytest.fixture
def bundle_dir(tmp_path: Path) -> Path:
    return write(
        tmp_path, {"databricks.yml": ROOT, "resources/etl.yml": ETL, "src/report.py": "print(1)"}
    )


ENV = {"DATABRICKS_USER": "ada.lovelace@example.com"}


def errors_of(exc: pytest.ExceptionInfo[SpecError]) -> list[str]:
    return [str(i) for i in exc.value.issues]


def test_default_target_is_development_mode(bundle_dir: Path) -> None:
    bundle = load_bundle(bundle_dir, env=ENV)
    assert (bundle.name, bundle.target, bundle.mode) == ("sales", "dev", "development")
    etl = bundle.jobs["etl"].settings
    # Databricks' development mode: prefixed name, paused schedule, dev tag, concurrent runs.
    assert etl.name == "[dev ada_lovelace] sales-etl"
    assert etl.schedule is not None and etl.schedule.pause_status == "PAUSED"
    assert etl.tags == {"dev": "ada_lovelace", "team": "dev-team"}
    assert etl.max_concurrent_runs == 4
    load = etl.tasks[0]
    assert load.shell_command_task is not None
    assert load.shell_command_task.command == "echo load 10 hello dev"


def test_target_overrides_merge_tasks_by_key_and_variables(bundle_dir: Path) -> None:
    bundle = load_bundle(bundle_dir, target="prod", env=ENV)
    etl = bundle.jobs["etl"].settings
    assert etl.name == "sales-etl"
    assert etl.schedule is not None and etl.schedule.pause_status == "UNPAUSED"
    assert etl.schedule.quartz_cron_expression == "0 0 2 * * ?"  # kept from resources
    assert [t.task_key for t in etl.tasks] == ["load", "report", "extra"]
    assert etl.tasks[0].shell_command_task.command == "echo prod 1000"  # type: ignore[union-attr]
    assert etl.tags == {"team": "ops"}


def test_paths_are_relative_to_the_file_that_names_them(bundle_dir: Path) -> None:
    bundle = load_bundle(bundle_dir, env=ENV)
    report = bundle.jobs["etl"].settings.tasks[1].spark_python_task
    assert report is not None
    assert report.python_file == str(bundle_dir / "src" / "report.py")
    assert report.parameters == ["dev", "ada.lovelace@example.com"]


def test_variable_precedence_flag_then_env_then_target_then_default(bundle_dir: Path) -> None:
    assert load_bundle(bundle_dir, target="prod", env=ENV).variables["rows"] == "1000"
    env = {**ENV, "BUNDLE_VAR_rows": "7"}
    assert load_bundle(bundle_dir, target="prod", env=env).variables["rows"] == "7"
    flags = load_bundle(bundle_dir, target="prod", env=env, variables={"rows": "3"})
    assert flags.variables["rows"] == "3"
    assert load_bundle(bundle_dir, env=ENV).variables["rows"] == "10"


def test_workspace_file_path_is_the_bundle_folder_locally(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "databricks.yml": """
            bundle: {name: ws}
            resources:
              jobs:
                j:
                  tasks:
                    - task_key: a
                      spark_python_task:
                        python_file: ${workspace.file_path}/src/a.py
            """
        },
    )
    local = load_bundle(tmp_path, env=ENV)
    task = local.jobs["j"].settings.tasks[0].spark_python_task
    assert task is not None and task.python_file == f"{tmp_path}/src/a.py"
    assert local.jobs["j"].settings.name == "j"  # a job without a name is named by its key
    remote = load_bundle(tmp_path, env=ENV, local=False)
    task = remote.jobs["j"].settings.tasks[0].spark_python_task
    assert task is not None
    assert task.python_file == (
        "/Workspace/Users/ada.lovelace@example.com/.bundle/ws/default/files/src/a.py"
    )


def test_errors_name_file_line_and_field_all_at_once(bundle_dir: Path) -> None:
    write(
        bundle_dir,
        {
            "resources/broken.yml": """
            resources:
              jobs:
                broken:
                  tasks:
                    - task_key: a
                      shell_command_task: {commnd: x}
                    - task_key: b
                      depends_on: [{task_key: zz}]
                      spark_python_task:
                        python_file: ${var.nope}
            """
        },
    )
    with pytest.raises(SpecError) as exc:
        load_bundle(bundle_dir, env=ENV)
    errors = errors_of(exc)
    assert any(
        e.startswith("resources/broken.yml:10:") and "var has no 'nope'" in e for e in errors
    ), errors
    # The unknown field is a warning (as the Databricks CLI); the missing one an error.
    assert any(
        e.startswith("resources/broken.yml:6: resources.jobs.broken.tasks[0].shell_command_task")
        and "command: field required" in e
        for e in errors
    ), errors
    assert any("commnd: unknown field" in w for w in exc.value.warnings)  # type: ignore[attr-defined]
    assert any(
        e.startswith("resources/broken.yml:8: resources.jobs.broken.tasks[1].depends_on")
        and "zz" in e
        for e in errors
    ), errors
    assert "error" in str(exc.value) and "bundle" in str(exc.value)


def test_an_override_error_points_at_the_target_line(bundle_dir: Path) -> None:
    path = bundle_dir / "databricks.yml"
    marker = "              shell_command_task: {command: echo extra}"
    text = path.read_text().replace(marker, "              timeout_seconds: soon\n" + marker)
    path.write_text(text)
    line = text.splitlines().index("              timeout_seconds: soon") + 1
    with pytest.raises(SpecError) as exc:
        load_bundle(bundle_dir, target="prod", env=ENV)
    (error,) = errors_of(exc)
    assert error.startswith(f"databricks.yml:{line}: resources.jobs.etl.tasks[2].timeout_seconds")


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda t: t.replace("  name: sales\n", "  nam: sales\n"), "bundle.name: is required"),
        (lambda t: t.replace("resources/*.yml", "resources/etl.yaml"), "does not match any files"),
        (lambda t: t.replace("      owner: dev-team\n", ""), "variables.owner: has no value"),
        (lambda t: t.replace("mode: development", "mode: staging"), "mode: must be one of"),
    ],
)
def test_bad_bundles_are_refused_with_a_reason(bundle_dir: Path, edit, expected: str) -> None:  # type: ignore[no-untyped-def]
    path = bundle_dir / "databricks.yml"
    path.write_text(edit(path.read_text()))
    with pytest.raises(SpecError) as exc:
        load_bundle(bundle_dir, env=ENV)
    assert expected in str(exc.value)


def test_unknown_target_and_unknown_var_flag(bundle_dir: Path) -> None:
    with pytest.raises(SpecError, match="no target 'qa' \\(the bundle has: dev, prod\\)"):
        load_bundle(bundle_dir, target="qa", env=ENV)
    with pytest.raises(SpecError, match=r"--var rowz: no such variable .*did you mean 'rows'"):
        load_bundle(bundle_dir, env=ENV, variables={"rowz": "1"})


def test_a_resource_defined_twice_names_both_places(bundle_dir: Path) -> None:
    write(bundle_dir, {"resources/again.yml": ETL})
    with pytest.raises(SpecError) as exc:
        load_bundle(bundle_dir, env=ENV)
    (error,) = errors_of(exc)
    assert error.startswith("resources/etl.yml:3: resources.jobs.etl")
    assert "first defined at resources/again.yml:3" in error


def test_duplicate_yaml_key_and_syntax_errors_have_lines(tmp_path: Path) -> None:
    write(tmp_path, {"databricks.yml": "bundle:\n  name: a\n  name: b\n"})
    with pytest.raises(SpecError, match=r"databricks\.yml:3: duplicate key 'name'"):
        load_bundle(tmp_path, env=ENV)
    write(tmp_path, {"databricks.yml": "bundle:\n  name: [a\n"})
    with pytest.raises(SpecError, match=r"databricks.yml:\d+: invalid YAML"):
        load_bundle(tmp_path, env=ENV)


def test_found_from_a_subfolder_and_missing_bundle(
    bundle_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    assert load_bundle(bundle_dir / "src", env=ENV).name == "sales"
    empty = tmp_path_factory.mktemp("nowhere")
    with pytest.raises(SpecError, match=r"no databricks\.yml"):
        load_bundle(empty, env={"HOME": str(empty)})


def test_resource_ids_resolve_run_job_task_references(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "databricks.yml": """
            bundle: {name: ids}
            resources:
              jobs:
                child:
                  tasks: [{task_key: a, shell_command_task: {command: "true"}}]
                parent:
                  tasks:
                    - task_key: call
                      run_job_task: {job_id: "${resources.jobs.child.id}"}
            """
        },
    )
    placeholder = load_bundle(tmp_path, env=ENV).jobs["parent"].settings.tasks[0]
    assert placeholder.run_job_task is not None and placeholder.run_job_task.job_id == 0
    real = load_bundle(tmp_path, env=ENV, resource_ids={"child": 17, "parent": 18})
    call = real.jobs["parent"].settings.tasks[0].run_job_task
    assert call is not None and call.job_id == 17
