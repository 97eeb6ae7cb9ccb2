"""`headrace bundle deploy | run --server` against a real `headrace server`.

The bundle builds a wheel artifact (its build command writes a tiny wheel, no index needed),
uploads its files and runs on the server in a task environment that installs that wheel.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support import Headrace, Server, User, hr

__all__ = ["hr"]

BUNDLE = """
bundle:
  name: depot
artifacts:
  demo:
    type: whl
    path: ./pkg
    build: python make_wheel.py
variables:
  greeting:
    default: hello
targets:
  dev:
    default: true
    mode: development
  prod:
    variables:
      greeting: bonjour
resources:
  jobs:
    etl:
      name: depot-etl
      environments:
        - environment_key: demo
          spec: {client: "1", dependencies: ["./pkg/dist/*.whl"]}
      tasks:
        - task_key: show
          environment_key: demo
          spark_python_task:
            python_file: ./src/show.py
            parameters: ["${var.greeting}"]
        - task_key: child
          depends_on: [{task_key: show}]
          run_job_task: {job_id: "${resources.jobs.helper.id}"}
    helper:
      name: depot-helper
      tasks:
        - task_key: shout
          shell_command_task: {command: "echo helper in ${bundle.target}"}
"""

MAKE_WHEEL = """
import base64, hashlib, pathlib, zipfile
files = {
    "hrdemo/__init__.py": "VERSION = '1.0'\\n",
    "hrdemo-1.0.dist-info/METADATA": "Metadata-Version: 2.1\\nName: hrdemo\\nVersion: 1.0\\n",
    "hrdemo-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
}
record = []
for name, text in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
    record.append(f"{name},sha256={digest.decode()},{len(text)}")
files["hrdemo-1.0.dist-info/RECORD"] = "\\n".join(record + ["hrdemo-1.0.dist-info/RECORD,,"])
pathlib.Path("dist").mkdir(exist_ok=True)
with zipfile.ZipFile("dist/hrdemo-1.0-py3-none-any.whl", "w") as zf:
    for name, text in files.items():
        zf.writestr(name, text)
print("built dist/hrdemo-1.0-py3-none-any.whl")
"""

SHOW = """
import sys
import hrdemo
print(sys.argv[1], "from hrdemo", hrdemo.VERSION)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("bundle-server"), workers=2)
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


@pytest.fixture
def alice(server: Server) -> User:
    return server.user("alice")


def make_bundle(hr: Headrace, text: str = BUNDLE) -> None:
    hr.write("databricks.yml", text)
    hr.write("pkg/make_wheel.py", MAKE_WHEEL)
    hr.write("src/show.py", SHOW)


def test_deploy_run_redeploy_and_remove_jobs(hr: Headrace, server: Server, alice: User) -> None:
    make_bundle(hr)
    auth = ("--server", server.url, "--token", alice.token)
    first = hr("bundle", "deploy", "-t", "prod", *auth, timeout=120)
    assert first.returncode == 0, str(first)
    assert "building artifact demo" in first.stderr and "Deployment complete!" in first.stdout
    jobs = {j.settings.name: j.job_id for j in alice.w.jobs.list() if j.settings}
    assert {"depot-etl", "depot-helper"} <= set(jobs)

    # The job on the server points at the uploaded files, and at the other job by its id.
    etl = alice.w.jobs.get(jobs["depot-etl"]).settings
    assert etl is not None
    show = next(t for t in etl.tasks if t.task_key == "show")
    files = "/Workspace/Users/alice/.bundle/depot/prod/files"
    assert show.spark_python_task.python_file == f"{files}/src/show.py"
    child = next(t for t in etl.tasks if t.task_key == "child")
    assert child.run_job_task.job_id == jobs["depot-helper"]
    assert etl.environments[0].spec.dependencies == [f"{files}/pkg/dist/*.whl"]

    ran = hr("bundle", "run", "etl", "-t", "prod", *auth, "--json", timeout=180)
    assert ran.returncode == 0, str(ran) + server.log()
    run = ran.json()
    show_run = next(t for t in run["tasks"] if t["task_key"] == "show")
    out = alice.w.jobs.get_run_output(show_run["run_id"])
    assert "bonjour from hrdemo 1.0" in out.logs

    # A second deploy updates the same jobs: no new job appears.
    again = hr("bundle", "deploy", "-t", "prod", *auth, timeout=120)
    assert again.returncode == 0, str(again)
    assert f"updated job {jobs['depot-etl']} for etl" in again.stderr
    names = [j.settings.name for j in alice.w.jobs.list() if j.settings]
    assert names.count("depot-etl") == 1 and names.count("depot-helper") == 1

    # Dropping a job from the bundle deletes it on the server, but only when approved.
    hr.write(
        "databricks.yml",
        BUNDLE.replace(
            'run_job_task: {job_id: "${resources.jobs.helper.id}"}',
            "shell_command_task: {command: 'true'}",
        ).split("    helper:")[0],
    )
    refused = hr("bundle", "deploy", "-t", "prod", *auth, timeout=120)
    assert refused.returncode == 4, str(refused)
    assert f"it would delete helper (job {jobs['depot-helper']})" in refused.stderr
    assert "depot-helper" in [j.settings.name for j in alice.w.jobs.list() if j.settings]
    approved = hr("bundle", "deploy", "-t", "prod", *auth, "--auto-approve", timeout=120)
    assert approved.returncode == 0, str(approved)
    remaining = [j.settings.name for j in alice.w.jobs.list() if j.settings]
    assert "depot-helper" not in remaining and "depot-etl" in remaining


def test_targets_deploy_apart_and_bad_credentials_are_refused(
    hr: Headrace, server: Server, alice: User
) -> None:
    make_bundle(hr, BUNDLE.replace("name: depot\n", "name: depot2\n"))
    dev = hr("bundle", "deploy", "--server", server.url, "--token", alice.token, timeout=120)
    assert dev.returncode == 0, str(dev)
    names = [j.settings.name for j in alice.w.jobs.list() if j.settings]
    assert "[dev alice] depot-etl" in names
    bad = hr("bundle", "deploy", "--server", server.url, "--token", "nope", timeout=60)
    assert bad.returncode == 5, str(bad)
    nowhere = hr("bundle", "deploy", "--server", "ftp://x", "--token", "t")
    assert nowhere.returncode == 2 and "is not an http(s) URL" in nowhere.stderr
    not_deployed = hr(
        "bundle", "run", "etl", "-t", "prod", "--server", server.url, "--token", alice.token
    )
    assert not_deployed.returncode == 3
    assert "job 'etl' of target 'prod' is not deployed" in not_deployed.stderr
