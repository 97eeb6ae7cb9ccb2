"""`bundle deploy` hands a bundle's pipelines to a real server's Pipelines API: created, then
edited in place, `${resources.pipelines.<key>.id}` in a job names them, the ones the bundle
drops are deleted, and `bundle destroy` removes them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from support import Headrace, Server, User, hr

__all__ = ["hr"]

BUNDLE = """
bundle:
  name: flows
resources:
  pipelines:
    taxi:
      name: flows-taxi
      catalog: main
      schema: flows
      configuration: {source: "v1"}
      libraries:
        - file: {path: ./src/taxi.py}
      permissions:
        - {level: CAN_VIEW, group_name: users}
    extra:
      name: flows-extra
      libraries:
        - glob: {include: ./src/**}
  jobs:
    refresh:
      name: flows-refresh
      tasks:
        - task_key: refresh
          pipeline_task: {pipeline_id: "${resources.pipelines.taxi.id}"}
"""
SOURCE = "from pyspark import pipelines as dp\n\n\n@dp.table\ndef trips():\n    return None\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("bundle-pipelines-server"), workers=1)
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


@pytest.fixture
def alice(server: Server) -> User:
    return server.user("alice")


def pipelines_of(alice: User) -> dict[str, str]:
    """name -> pipeline id, as the server lists them."""
    return {p.name: p.pipeline_id for p in alice.w.pipelines.list_pipelines() if p.name}


def test_deploy_creates_edits_and_deletes_pipelines(
    hr: Headrace, server: Server, alice: User
) -> None:
    hr.write("app/databricks.yml", BUNDLE)
    hr.write("app/src/taxi.py", SOURCE)
    auth = ("--path", "app", "--server", server.url, "--token", alice.token)
    first = hr("bundle", "deploy", *auth, timeout=120)
    assert first.returncode == 0, str(first)
    listed = pipelines_of(alice)
    taxi = listed["flows-taxi"]
    assert f"pipelines.taxi: pipeline {taxi}" in first.stdout
    assert "flows-extra" in listed
    spec = alice.w.pipelines.get(taxi).spec
    assert spec is not None and spec.configuration == {"source": "v1"}
    # The file path is the uploaded copy's, under the target's workspace file path.
    path = spec.libraries[0].file.path  # type: ignore[index,union-attr]
    assert path.startswith("/Workspace/Users/alice/.bundle/flows/") and path.endswith("taxi.py")
    job = next(
        j for j in alice.w.jobs.list(expand_tasks=True) if j.settings.name == "flows-refresh"
    )
    assert job.settings.tasks[0].pipeline_task.pipeline_id == taxi  # type: ignore[index,union-attr]
    # The server's own CLI sees them in its store.
    local = subprocess.run(
        [sys.executable, "-m", "headrace", "pipelines", "list"],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert local.returncode == 0 and taxi in local.stdout, local.stdout + local.stderr

    # Redeploy: the same pipeline, edited; a pipeline the bundle dropped asks, then goes.
    hr.write(
        "app/databricks.yml",
        BUNDLE.replace('"v1"', '"v2"').split("    extra:")[0]
        + BUNDLE.split("glob: {include: ./src/**}\n")[1],
    )
    refused = hr("bundle", "deploy", *auth, timeout=120)
    assert refused.returncode == 4 and "extra (pipeline " in refused.stderr, str(refused)
    again = hr("bundle", "deploy", *auth, "--auto-approve", timeout=120)
    assert again.returncode == 0, str(again)
    listed = pipelines_of(alice)
    assert listed["flows-taxi"] == taxi and "flows-extra" not in listed
    spec = alice.w.pipelines.get(taxi).spec
    assert spec is not None and spec.configuration == {"source": "v2"}

    done = hr("bundle", "destroy", *auth, "--auto-approve", timeout=60)
    assert done.returncode == 0, str(done)
    assert f"deleted pipeline {taxi} (taxi)" in done.stderr
    assert "flows-taxi" not in pipelines_of(alice)
