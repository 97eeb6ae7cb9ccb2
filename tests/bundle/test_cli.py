"""`headrace bundle validate | run` through the real CLI."""

from __future__ import annotations

from support import Headrace, hr

__all__ = ["hr"]

BUNDLE = """
bundle:
  name: shop
variables:
  who:
    default: world
targets:
  dev:
    default: true
    mode: development
  prod:
    variables:
      who: production
resources:
  jobs:
    child:
      name: shop-child
      tasks:
        - task_key: hello
          shell_command_task: {command: "echo hello ${var.who} from ${bundle.target}"}
    parent:
      name: shop-parent
      parameters: [{name: day, default: monday}]
      tasks:
        - task_key: script
          spark_python_task:
            python_file: ./src/show.py
            parameters: ["{{job.parameters.day}}", "${var.who}"]
        - task_key: call_child
          depends_on: [{task_key: script}]
          run_job_task: {job_id: "${resources.jobs.child.id}"}
"""


def make_bundle(hr: Headrace) -> None:
    hr.write("databricks.yml", BUNDLE)
    hr.write("src/show.py", "import sys\nprint('show', *sys.argv[1:])\n")


def test_validate_prints_jobs_then_errors_with_file_and_line(hr: Headrace) -> None:
    make_bundle(hr)
    ok = hr("bundle", "validate", "-t", "prod")
    assert ok.returncode == 0, str(ok)
    assert "Target: prod" in ok.stdout and "Validation OK!" in ok.stdout
    assert "parent: 'shop-parent', 2 tasks" in ok.stdout
    text = hr.write("databricks.yml", BUNDLE.replace("python_file: ./src/show.py", "python_fle: x"))
    line = text.read_text().splitlines().index("            python_fle: x") + 1
    bad = hr("bundle", "validate")
    assert bad.returncode == 2, str(bad)
    where = f"databricks.yml:{line}: resources.jobs.parent.tasks[0].spark_python_task.python_fle"
    # As the Databricks CLI: an unknown field is a warning (and dropped); here python_file is
    # then missing, which is the error.
    assert (
        f"warning: {where}: unknown field 'python_fle' (did you mean 'python_file'?)" in bad.stderr
    )
    assert "spark_python_task.python_file: field required" in bad.stderr


def test_run_a_bundle_job_with_target_vars_params_and_a_child_job(hr: Headrace) -> None:
    make_bundle(hr)
    result = hr("bundle", "run", "parent", "-t", "prod", "-p", "day=friday", "--json")
    assert result.returncode == 0, str(result)
    run = result.json()
    assert run["run_name"] == "shop-parent"
    logs = hr("runs", "logs", str(run["run_id"]), "script")
    assert logs.stdout.strip() == "show friday production"
    # The child job was found through ${resources.jobs.child.id} and ran as its own job.
    call = next(t for t in run["tasks"] if t["task_key"] == "call_child")
    assert call["state"]["result_state"] == "SUCCESS"
    jobs = hr("jobs", "list", "--json").json()["jobs"]
    child_id = next(j["job_id"] for j in jobs if j["name"] == "shop-child")
    assert call["run_job_task"]["job_id"] == child_id


def test_development_target_prefixes_names_and_a_second_run_reuses_the_job(hr: Headrace) -> None:
    make_bundle(hr)
    first = hr("bundle", "run", "child", "--json", "--var", "who=ada")
    second = hr("bundle", "run", "child", "--json", "--var", "who=ada")
    assert first.returncode == 0 and second.returncode == 0, (str(first), str(second))
    one, two = first.json(), second.json()
    assert one["job_id"] == two["job_id"]
    assert one["run_name"].startswith("[dev ") and one["run_name"].endswith("] shop-child")
    logs = hr("runs", "logs", str(two["run_id"]), "hello")
    assert logs.stdout.strip() == "hello ada from dev"
    listed = hr("jobs", "list")
    assert "[dev " in listed.stdout  # a user's name is text, not terminal markup


def test_run_refuses_unknown_job_key_and_bad_var_flag(hr: Headrace) -> None:
    make_bundle(hr)
    missing = hr("bundle", "run", "nope")
    assert missing.returncode == 2
    assert "the bundle has no job 'nope' (it has: child, parent)" in missing.stderr
    bad = hr("bundle", "run", "child", "--var", "who")
    assert bad.returncode == 2
    assert "--var: expected NAME=VALUE" in bad.stderr
