"""Built artifact files land at `${workspace.artifact_path}/.internal/<file>` on deploy, as the
Databricks CLI uploads them: through the Files API for a /Volumes artifact path, the Workspace
API otherwise (a real `headrace server`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support import Headrace, Server, hr

__all__ = ["hr"]

BUNDLE = """
bundle:
  name: arts
artifacts:
  default:
    type: jar
    build: ./build.sh
    path: .
    files:
      - source: ./target/arts-*.jar
targets:
  volume:
    default: true
    workspace:
      artifact_path: /Volumes/main/default/builds/${bundle.name}/${bundle.target}
  workspace: {}
resources:
  jobs:
    j:
      name: arts
      tasks:
        - task_key: t
          shell_command_task: {command: "true"}
"""

BUILD = "#!/bin/sh\nset -e\nmkdir -p target\nprintf 'built jar bytes' > target/arts-0.1.jar\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("bundle-artifacts-server"), workers=1)
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


def _bundle(hr: Headrace) -> None:
    hr.write("app/databricks.yml", BUNDLE)
    script = hr.write("app/build.sh", BUILD)
    script.chmod(0o755)


def test_deploy_uploads_built_files_to_the_artifact_paths_internal_folder(
    hr: Headrace, server: Server
) -> None:
    root = server.user("root", admin=True)
    _bundle(hr)
    auth = ("--path", "app", "--server", server.url, "--token", root.token)
    deployed = hr("bundle", "deploy", *auth, timeout=120)
    assert deployed.returncode == 0, str(deployed)
    assert "uploaded 1 artifact file(s) to /Volumes/main/default/builds/arts/volume/.internal" in (
        deployed.stderr + deployed.stdout
    )
    got = root.w.files.download("/Volumes/main/default/builds/arts/volume/.internal/arts-0.1.jar")
    assert got.contents.read() == b"built jar bytes"

    deployed = hr("bundle", "deploy", "-t", "workspace", *auth, timeout=120)
    assert deployed.returncode == 0, str(deployed)
    user = root.w.current_user.me().user_name
    path = f"/Workspace/Users/{user}/.bundle/arts/workspace/artifacts/.internal/arts-0.1.jar"
    with root.w.workspace.download(path) as f:
        assert f.read() == b"built jar bytes"


def test_a_build_that_makes_no_file_names_the_field(hr: Headrace, server: Server) -> None:
    root = server.user("root", admin=True)
    hr.write("app/databricks.yml", BUNDLE)
    hr.write("app/build.sh", "#!/bin/sh\ntrue\n").chmod(0o755)
    auth = ("--path", "app", "--server", server.url, "--token", root.token)
    deployed = hr("bundle", "deploy", *auth, timeout=120)
    assert deployed.returncode != 0
    assert "artifacts.default.files[0].source: no such file after the build" in deployed.stderr
