"""A bundle shaped exactly as `databricks bundle init default-scala` writes it (the Databricks
CLI's acceptance output: databricks.yml, resources/my_default_scala.job.yml, unchanged but for
the placeholders), with the sbt build swapped for a shell script that builds a Java stand-in of
com.examples.Main with javac/jar at the same path. The job names the jar only as
`${workspace.artifact_path}/.internal/my_default_scala-assembly-0.1.jar` in the environment's
java_dependencies: `bundle run` must put the built jar there, as the CLI's upload does."""

from __future__ import annotations

import stat
import textwrap
import uuid
from pathlib import Path

import pytest

from support import Headrace

DATABRICKS_YML = """
# This is a Declarative Automation Bundle definition for my_default_scala.
# See https://docs.databricks.com/dev-tools/bundles/index.html for documentation.
bundle:
  name: my_default_scala
  uuid: {uuid}

include:
  - resources/*.yml

variables:
  catalog:
    description: The catalog to use
  schema:
    description: The schema to use

workspace:
  host: http://127.0.0.1:1
  artifact_path: /Volumes/test-folder/${{bundle.name}}/${{bundle.target}}/${{workspace.current_user.short_name}}

artifacts:
  default:
    type: jar
    build: {build}
    path: .
    files:
      - source: ./target/scala-2.13/my_default_scala-assembly-0.1.jar

targets:
  dev:
    mode: development
    default: true
    workspace:
      host: http://127.0.0.1:1
    variables:
      catalog: main
      schema: ${{workspace.current_user.short_name}}

  prod:
    mode: production
    workspace:
      host: http://127.0.0.1:1
      root_path: /Workspace/Users/alice@example.com/.bundle/${{bundle.name}}/${{bundle.target}}
    permissions:
      - user_name: alice@example.com
        level: CAN_MANAGE
    variables:
      catalog: main
      schema: default
"""

JOB_YML = """
# The main job for my_default_scala

resources:
  jobs:
    my_default_scala:
      name: my_default_scala
      parameters:
        - name: catalog
          default: ${var.catalog}
        - name: schema
          default: ${var.schema}
      tasks:
        - task_key: main_task
          spark_jar_task:
            main_class_name: com.examples.Main
            parameters:
              - "--catalog"
              - "{{job.parameters.catalog}}"
              - "--schema"
              - "{{job.parameters.schema}}"
          environment_key: default
      environments:
        - environment_key: default
          spec:
            environment_version: "4"
            java_dependencies:
              - ${workspace.artifact_path}/.internal/my_default_scala-assembly-0.1.jar
"""

# The template's Main.scala, in Java (no Scala compiler here): the same output lines, SQL and
# choice of session (`getSession`: SparkSession.active where DATABRICKS_RUNTIME_VERSION is set,
# as in a Databricks cluster's driver; otherwise Databricks Connect to a workspace).
MAIN_JAVA = """
package com.examples;

import org.apache.spark.sql.SparkSession;

public class Main {
  public static void main(String[] args) {
    System.out.println("Hello, World!");
    if (!System.getenv().containsKey("DATABRICKS_RUNTIME_VERSION")) {
      System.out.println("Running outside Databricks");
      throw new IllegalStateException("would connect to a Databricks workspace");
    }
    System.out.println("Running in a Databricks cluster");
    SparkSession spark = SparkSession.active();
    for (int i = 0; i + 1 < args.length; i += 2) {
      if (args[i].equals("--catalog")) {
        spark.sql("USE CATALOG `" + args[i + 1] + "`");
        System.out.println("Using catalog: " + args[i + 1]);
      } else if (args[i].equals("--schema")) {
        spark.sql("USE SCHEMA `" + args[i + 1] + "`");
        System.out.println("Using schema: " + args[i + 1]);
      }
    }
    System.out.println("Showing range ...");
    spark.range(3).show();
  }
}
"""

BUILD_SH = """#!/bin/sh
# Stands in for `sbt package && sbt assembly`: the same jar path.
set -e
mkdir -p target/classes target/scala-2.13
javac -d target/classes -cp "{jars}/*" src/main/java/com/examples/Main.java
jar cf target/scala-2.13/my_default_scala-assembly-0.1.jar -C target/classes .
"""


def make_bundle(folder: Path, build: str = "./build.sh") -> Path:
    from headrace.compute.server import spark_home

    (folder / "resources").mkdir(parents=True)
    (folder / "databricks.yml").write_text(
        DATABRICKS_YML.format(uuid=uuid.uuid4(), build=build).lstrip()
    )
    (folder / "resources" / "my_default_scala.job.yml").write_text(JOB_YML.lstrip())
    main = folder / "src" / "main" / "java" / "com" / "examples" / "Main.java"
    main.parent.mkdir(parents=True)
    main.write_text(textwrap.dedent(MAIN_JAVA))
    script = folder / "build.sh"
    script.write_text(BUILD_SH.format(jars=spark_home() / "jars"))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return folder


def _log(hr: Headrace, run: dict) -> str:
    folder = hr.home / "logs" / str(run["run_id"])
    return "\n".join(p.read_text() for p in folder.glob("*/*/output.log"))


@pytest.mark.spark
def test_the_default_scala_shape_runs_its_built_jar_from_artifact_path(spark_hr: Headrace) -> None:
    folder = make_bundle(spark_hr.dir / "my_default_scala")
    # dev's schema is the user's own (it exists on their workspace); here: default.
    result = spark_hr(
        "bundle",
        "run",
        "my_default_scala",
        "--path",
        folder,
        "--var",
        "schema=default",
        "--json",
        timeout=900,
    )
    assert result.returncode == 0, str(result)
    run = result.json()
    log = _log(spark_hr, run)
    assert run["state"]["result_state"] == "SUCCESS", log
    expected = ("Hello, World!", "Running in a Databricks cluster", "Using catalog: main")
    for line in (*expected, "Using schema: default", "|  2|"):
        assert line in log, log
    # Where the CLI uploads it: <artifact_path>/.internal/<file>, under this data directory.
    from headrace.compute.volumes import volumes_root

    copies = list(
        (volumes_root(spark_hr.home) / "test-folder" / "my_default_scala" / "dev").glob(
            "*/.internal/my_default_scala-assembly-0.1.jar"
        )
    )
    assert len(copies) == 1, copies


def test_the_real_template_build_names_sbt(tmp_path: Path) -> None:
    """With the template's own build (`sbt package && sbt assembly`) and no sbt on PATH, the
    run stops before any task, naming sbt and what the build needs."""
    folder = make_bundle(tmp_path / "my_default_scala", build="sbt package && sbt assembly")
    hr = Headrace(tmp_path)
    hr.env["PATH"] = "/usr/bin:/bin"  # no sbt here (Debian bookworm has none)
    try:
        result = hr("bundle", "run", "my_default_scala", "--path", folder, timeout=300)
    finally:
        hr.close()
    assert result.returncode != 0
    assert "sbt: not found" in result.stderr, result.stderr
    assert "needs sbt" in result.stderr, result.stderr
