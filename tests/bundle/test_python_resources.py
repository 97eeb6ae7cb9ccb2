"""Jobs written in Python with Databricks' `databricks-bundles`, in a bundle and on their own."""

from __future__ import annotations

from support import Headrace, hr

__all__ = ["hr"]

BUNDLE = """
bundle:
  name: mixed
python:
  resources:
    - "resources:load_resources"
variables:
  region:
    default: eu
targets:
  dev:
    default: true
  prod:
    variables:
      region: us
resources:
  jobs:
    from_yaml:
      name: from-yaml
      tasks:
        - task_key: hello
          shell_command_task: {command: "echo yaml ${var.region}"}
"""

RESOURCES = """
from databricks.bundles.core import Bundle, Resources, Variable, variables
from databricks.bundles.jobs import Job, SparkPythonTask, Task


@variables
class Vars:
    region: Variable[str]


def load_resources(bundle: Bundle) -> Resources:
    resources = Resources()
    region = bundle.resolve_variable(Vars.region)
    resources.add_job(
        "from_python",
        Job(
            name=f"from-python-{bundle.target}",
            parameters=[{"name": "day", "default": "monday"}],
            tasks=[
                Task(
                    task_key="report",
                    spark_python_task=SparkPythonTask(
                        python_file="src/report.py",
                        parameters=[region, "{{job.parameters.day}}"],
                    ),
                ),
                {
                    "task_key": "after",
                    "depends_on": [{"task_key": "report"}],
                    "shell_command_task": {"command": "echo after ${var.region}"},
                },
            ],
        ),
    )
    return resources
"""

REPORT = "import sys\nprint('report', *sys.argv[1:])\n"


def make_bundle(hr: Headrace) -> None:
    hr.write("databricks.yml", BUNDLE)
    hr.write("resources/__init__.py", RESOURCES)
    hr.write("src/report.py", REPORT)


def logs(hr: Headrace, run_id: int, key: str) -> str:
    result = hr("runs", "logs", str(run_id), key)
    assert result.returncode == 0, str(result)
    return result.stdout.strip()


def test_a_bundle_mixes_yaml_and_python_jobs(hr: Headrace) -> None:
    make_bundle(hr)
    valid = hr("bundle", "validate", "-t", "prod", timeout=120)
    assert valid.returncode == 0, str(valid)
    assert "from_yaml: 'from-yaml', 1 tasks" in valid.stdout
    assert "from_python: 'from-python-prod', 2 tasks" in valid.stdout
    run = hr(
        "bundle", "run", "from_python", "-t", "prod", "-p", "day=friday", "--json", timeout=120
    )
    assert run.returncode == 0, str(run)
    run_id = run.json()["run_id"]
    # Paths in Python resources are relative to the bundle root (as the CLI); ${var...} resolves.
    assert logs(hr, run_id, "report") == "report us friday"
    assert logs(hr, run_id, "after") == "after us"


def test_python_resource_errors_point_into_python(hr: Headrace) -> None:
    make_bundle(hr)
    hr.write(
        "resources/__init__.py",
        RESOURCES.replace("resources = Resources()", "resources = Resources()\n    1 / 0"),
    )
    bad = hr("bundle", "validate", timeout=120)
    assert bad.returncode == 2, str(bad)
    assert "Failed to load resources" in bad.stderr
    assert "ZeroDivisionError" in bad.stderr or "division by zero" in bad.stderr
    assert "resources/__init__.py" in bad.stderr


PIPELINE = """
from databricks.bundles.jobs import Job, Task, ConditionTask

nightly = Job(
    name="nightly",
    tasks=[
        Task(task_key="check", condition_task=ConditionTask(op="EQUAL_TO", left="1", right="1")),
        {
            "task_key": "shout",
            "depends_on": [{"task_key": "check", "outcome": "true"}],
            "shell_command_task": {"command": "echo from python"},
        },
    ],
)
"""


def test_headrace_run_accepts_a_python_module_of_jobs(hr: Headrace) -> None:
    module = hr.write("pipeline.py", PIPELINE)
    valid = hr("validate", module, timeout=120)
    assert valid.returncode == 0, str(valid)
    assert "valid (1 job: 'nightly'; 2 tasks)" in valid.stdout
    result, run = hr.run_json(module)
    assert result.returncode == 0, str(result)
    assert logs(hr, run["run_id"], "shout") == "from python"
    empty = hr.write("empty.py", "x = 1\n")
    refused = hr("run", empty, timeout=120)
    assert refused.returncode == 2
    assert "defines no databricks.bundles.jobs.Job" in refused.stderr
