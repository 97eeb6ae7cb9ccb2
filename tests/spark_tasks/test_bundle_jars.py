"""A bundle's JAR task keeps its jar libraries (paths from the YAML file), for spark-submit; a
jar artifact built by its `build` command feeds JAR tasks."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from headrace.bundle.loader import load_bundle
from headrace.errors import SpecError
from support import Headrace


def test_jar_libraries_of_a_jar_task_are_kept(tmp_path: Path) -> None:
    (tmp_path / "resources").mkdir()
    (tmp_path / "databricks.yml").write_text("bundle: {name: b}\ninclude: [resources/*.yml]\n")
    (tmp_path / "resources" / "job.yml").write_text(
        "resources:\n  jobs:\n    j:\n      tasks:\n"
        "        - task_key: jar\n"
        "          spark_jar_task: {main_class_name: demo.Hello}\n"
        "          libraries: [{jar: ../target/hello.jar}]\n"
    )
    task = load_bundle(tmp_path / "databricks.yml").jobs["j"].settings.tasks[0]
    assert task.libraries == [{"jar": str(tmp_path / "target" / "hello.jar")}]


def test_a_jar_task_takes_jar_libraries_only(tmp_path: Path) -> None:
    (tmp_path / "databricks.yml").write_text(
        "bundle: {name: b}\nresources:\n  jobs:\n    j:\n      tasks:\n"
        "        - task_key: jar\n"
        "          spark_jar_task: {main_class_name: demo.Hello}\n"
        "          libraries: [{pypi: {package: rich}}]\n"
    )
    with pytest.raises(SpecError, match="a JAR task takes jar libraries only"):
        load_bundle(tmp_path / "databricks.yml")


def _jar_bundle(folder: Path, jar_task_extra: str = "") -> Path:
    """A bundle whose jar artifact is built by javac/jar from demo.Hello's source."""
    from headrace.compute.server import spark_home

    from .jar_support import HELLO

    source = folder / "src" / "demo" / "Hello.java"
    source.parent.mkdir(parents=True)
    source.write_text(textwrap.dedent(HELLO))
    build = (
        f"mkdir -p classes target && javac -d classes -cp '{spark_home() / 'jars'}/*' "
        "src/demo/Hello.java && jar cf target/hello.jar -C classes ."
    )
    (folder / "databricks.yml").write_text(
        textwrap.dedent(
            f"""
            bundle: {{name: jars}}
            artifacts:
              hello:
                type: jar
                build: "{build}"
                path: .
                files: [{{source: ./target/hello.jar}}]
            resources:
              jobs:
                jars:
                  name: jars
                  tasks:
            """
        )
        + textwrap.indent(textwrap.dedent(jar_task_extra), " " * 6)
    )
    return folder / "target" / "hello.jar"


def _logs(hr: Headrace, run: dict) -> str:
    folder = hr.home / "logs" / str(run["run_id"])
    return "\n".join(p.read_text() for p in folder.glob("*/*/output.log"))


@pytest.mark.spark
def test_a_jar_artifact_built_by_its_build_command_feeds_a_jar_task(spark_hr: Headrace) -> None:
    """`artifacts.<key>: {type: jar, build: ...}` is built on `bundle run`, and the task that
    names the built jar in `libraries` runs it with spark-submit."""
    folder = spark_hr.dir / "jar_bundle"
    jar = _jar_bundle(
        folder,
        """
        - task_key: classic
          spark_jar_task: {main_class_name: demo.Hello, parameters: [classic]}
          libraries: [{jar: ./target/hello.jar}]
        """,
    )
    assert not jar.exists()
    result = spark_hr("bundle", "run", "jars", "--path", folder, "--json", timeout=900)
    assert result.returncode == 0, str(result)
    assert jar.is_file()
    assert "hello from the jar classic count=5" in _logs(spark_hr, result.json())


@pytest.mark.spark
def test_a_jar_task_takes_its_environment_java_dependencies(spark_hr: Headrace) -> None:
    """Serverless JAR tasks (the default-scala template) name their jar in the environment's
    `java_dependencies`, not in `libraries`."""
    folder = spark_hr.dir / "jar_bundle_env"
    jar = folder / "target" / "hello.jar"
    _jar_bundle(
        folder,
        f"""
        - task_key: serverless
          environment_key: jvm
          spark_jar_task: {{main_class_name: demo.Hello, parameters: [serverless]}}
      environments:
        - environment_key: jvm
          spec: {{environment_version: "4", java_dependencies: ["{jar}"]}}
        """,
    )
    result = spark_hr("bundle", "run", "jars", "--path", folder, "--json", timeout=900)
    assert result.returncode == 0, str(result)
    assert "hello from the jar serverless count=5" in _logs(spark_hr, result.json())


def test_java_dependencies_join_the_jars_of_spark_submit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The JAR task's process puts its environment's java_dependencies after its libraries,
    and a missing one is named with where it came from."""
    from headrace.worker import submit_runner

    first, second = tmp_path / "a.jar", tmp_path / "b.jar"
    first.write_bytes(b"PK")
    second.write_bytes(b"PK")
    spec = {"kind": "jar", "settings": {"main_class_name": "demo.Hello", "parameters": ["x"]}}
    monkeypatch.setenv("HEADRACE_ENVIRONMENT_SPEC", json.dumps({"java_dependencies": [str(first)]}))
    assert submit_runner._arguments(spec, tmp_path) == ["--class", "demo.Hello", str(first), "x"]
    with_lib = {**spec, "settings": {**spec["settings"], "libraries": [{"jar": str(second)}]}}
    monkeypatch.setenv("HEADRACE_ENVIRONMENT_SPEC", json.dumps({"java_dependencies": [str(first)]}))
    assert submit_runner._arguments(with_lib, tmp_path) == [
        "--class",
        "demo.Hello",
        "--jars",
        str(first),
        str(second),
        "x",
    ]
    missing = "/Volumes/main/x/.internal/gone.jar"
    monkeypatch.setenv("HEADRACE_ENVIRONMENT_SPEC", json.dumps({"java_dependencies": [missing]}))
    with pytest.raises(
        submit_runner.SubmitError, match="environment java_dependencies: no such jar"
    ):
        submit_runner._arguments(spec, tmp_path)
