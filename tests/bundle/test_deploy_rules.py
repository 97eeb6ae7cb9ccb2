"""Deploy rules against a real `headrace server`: permissions, sync paths and patterns, the
deployment lock, `bundle destroy` and `bundle summary`."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
from databricks.sdk.service.workspace import ImportFormat

from support import Headrace, Server, User, hr

__all__ = ["hr"]

BUNDLE = """
bundle:
  name: rules
sync:
  paths: [., ../shared]
  exclude: [scratch/*]
permissions:
  - {level: CAN_RUN, user_name: bob}
resources:
  schemas:
    raw: {catalog_name: main, name: raw}
  jobs:
    report:
      name: rules-report
      permissions:
        - {level: CAN_VIEW, group_name: users}
      tasks:
        - task_key: use_shared
          spark_python_task:
            python_file: ./src/report.py
"""

REPORT = """
import os, sys
# Databricks' own example does this: the shared folder next to the bundle's, by a relative path.
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../shared"))
from shared_lib import answer
print("answer is", answer())
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("bundle-rules-server"), workers=1)
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


@pytest.fixture
def alice(server: Server) -> User:
    return server.user("alice")


def make_bundle(hr: Headrace) -> None:
    hr.write("app/databricks.yml", BUNDLE)
    hr.write("app/src/report.py", REPORT)
    hr.write("app/scratch/notes.txt", "not for upload\n")
    hr.write("shared/shared_lib/__init__.py", "def answer():\n    return 42\n")


def test_deploy_applies_permissions_and_uploads_sync_paths(
    hr: Headrace, server: Server, alice: User
) -> None:
    make_bundle(hr)
    auth = ("--path", "app", "--server", server.url, "--token", alice.token)
    valid = hr("bundle", "validate", "--path", "app")
    assert valid.returncode == 0, str(valid)
    assert "permission: CAN_MANAGE_RUN for user bob" in valid.stdout
    assert "permission: CAN_VIEW for group users" in valid.stdout
    deployed = hr("bundle", "deploy", *auth, timeout=120)
    assert deployed.returncode == 0, str(deployed)
    # This server has no Unity Catalog API: the schema is named in a warning, not lost.
    assert "resources.schemas.raw: not created on the server" in deployed.stderr
    job_id = next(j.job_id for j in alice.w.jobs.list() if j.settings.name == "rules-report")
    acl = alice.w.jobs.get_permissions(str(job_id)).access_control_list
    levels = {
        (a.user_name or a.group_name): {p.permission_level.value for p in a.all_permissions}
        for a in acl
    }
    assert "CAN_MANAGE_RUN" in levels["bob"] and "CAN_VIEW" in levels["users"]

    # The sync root is the common folder of app/ and shared/: both arrive, side by side.
    root = "/Workspace/Users/alice/.bundle/rules/default/files"
    task = alice.w.jobs.get(job_id).settings.tasks[0]
    assert task.spark_python_task.python_file == f"{root}/app/src/report.py"
    names = {o.path for o in alice.w.workspace.list(f"{root}/shared/shared_lib")}
    assert names == {f"{root}/shared/shared_lib/__init__.py"}
    app = {o.path.rsplit("/", 1)[-1] for o in alice.w.workspace.list(f"{root}/app")}
    assert "scratch" not in app and "src" in app  # sync.exclude

    ran = hr("bundle", "run", "report", *auth, "--json", timeout=180)
    assert ran.returncode == 0, str(ran) + server.log()
    run_id = ran.json()["tasks"][0]["run_id"]
    assert "answer is 42" in alice.w.jobs.get_run_output(run_id).logs

    summary = hr("bundle", "summary", *auth, "--json")
    assert summary.returncode == 0, str(summary)
    doc = summary.json()
    assert doc["resources"]["jobs"]["report"]["url"] == f"{server.url}/jobs/{job_id}"
    assert doc["resources"]["schemas"]["raw"]["name"] == "raw"


def test_deployment_lock_names_its_holder_and_force_lock_takes_it(
    hr: Headrace, server: Server, alice: User
) -> None:
    make_bundle(hr)
    hr.write(
        "app/databricks.yml",
        BUNDLE.replace("name: rules\n", "name: locked\n").replace("rules-report", "locked-report"),
    )
    lock = "/Workspace/Users/alice/.bundle/locked/default/state/deploy.lock"
    held = {"ID": "x", "AcquisitionTime": "2026-12-01T10:00:00+00:00", "User": "carol"}
    alice.w.workspace.mkdirs(lock.rsplit("/", 1)[0])
    alice.w.workspace.upload(lock, io.BytesIO(json.dumps(held).encode()), format=ImportFormat.AUTO)
    auth = ("--path", "app", "--server", server.url, "--token", alice.token)
    refused = hr("bundle", "deploy", *auth, timeout=120)
    assert refused.returncode == 4, str(refused)
    assert "held by carol since 2026-12-01T10:00:00+00:00" in refused.stderr
    assert "--force-lock" in refused.stderr
    assert "locked-report" not in [j.settings.name for j in alice.w.jobs.list()]
    forced = hr("bundle", "deploy", *auth, "--force-lock", timeout=120)
    assert forced.returncode == 0, str(forced)
    # The lock is released when the deploy ends.
    state = {o.path for o in alice.w.workspace.list(lock.rsplit("/", 1)[0])}
    assert lock not in state


def test_destroy_asks_then_removes_jobs_and_files(
    hr: Headrace, server: Server, alice: User
) -> None:
    make_bundle(hr)
    hr.write(
        "app/databricks.yml",
        BUNDLE.replace("name: rules\n", "name: gone\n").replace("rules-report", "gone-report"),
    )
    auth = ("--path", "app", "--server", server.url, "--token", alice.token)
    assert hr("bundle", "deploy", *auth, timeout=120).returncode == 0
    job_id = next(j.job_id for j in alice.w.jobs.list() if j.settings.name == "gone-report")
    refused = hr("bundle", "destroy", *auth, timeout=60)
    assert refused.returncode == 4, str(refused)
    assert f"report (job {job_id})" in refused.stderr
    assert job_id in [j.job_id for j in alice.w.jobs.list()]
    done = hr("bundle", "destroy", *auth, "--auto-approve", timeout=60)
    assert done.returncode == 0, str(done)
    assert job_id not in [j.job_id for j in alice.w.jobs.list()]
    root = "/Workspace/Users/alice/.bundle/gone"
    listed = [o.path for o in alice.w.workspace.list(root)]
    assert f"{root}/default" not in listed
