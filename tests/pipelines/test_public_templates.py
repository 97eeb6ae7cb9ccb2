"""Databricks' lakeflow-pipelines template (Python), as `databricks bundle init` renders it in
the Databricks CLI's acceptance tests, run unchanged: `bundle validate`, then `bundle run
sample_job` fails naming the sample table and how to install it, then after `headrace samples
install` it completes on the SYNTHETIC `samples.nyctaxi.trips`.

The template comes from a git directory of github.com/databricks/cli
(`HEADRACE_TEST_DATABRICKS_CLI_GIT`); the test is skipped without one."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support import Headrace

pytestmark = pytest.mark.spark

CLI_GIT = Path(
    os.environ.get("HEADRACE_TEST_DATABRICKS_CLI_GIT", "/work/.mirror/databricks+cli/repo")
)
# What the CLI's acceptance tests put in the rendered templates' place (bench/public_bundles.py).
PLACEHOLDERS = {
    "[UUID]": "00000000-0000-4000-8000-000000000000",
    "[DATABRICKS_URL]": "https://example.cloud.databricks.com",
    "[USERNAME]": "someone@example.com",
    "[NODE_TYPE_ID]": "i3.xlarge",
}


def export_template(variant: str, dest: Path) -> Path:
    """acceptance/bundle/templates/<variant>/output/<project> under `dest`, placeholders filled."""
    if not (CLI_GIT / "HEAD").is_file():
        pytest.skip(f"no git directory of databricks/cli at {CLI_GIT}")
    folder = f"acceptance/bundle/templates/{variant}/output"
    archive = subprocess.run(
        ["git", f"--git-dir={CLI_GIT}", "archive", "HEAD", folder],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    (project,) = (dest / folder).iterdir()
    for path in project.rglob("*"):
        if path.is_file() and path.suffix in (".yml", ".toml", ".py", ".sql"):
            text = path.read_text()
            for key, value in PLACEHOLDERS.items():
                text = text.replace(key, value)
            path.write_text(text)
    return project


@pytest.fixture
def spark_home(tmp_path: Path) -> Iterator[Headrace]:
    from spark.compute_support import spark_cli

    yield from spark_cli(tmp_path)


def only_task(run: dict[str, Any]) -> dict[str, Any]:
    (task,) = run["tasks"]
    return task


def test_the_lakeflow_pipelines_template_runs_unchanged_on_synthetic_samples(
    spark_home: Headrace, tmp_path: Path
) -> None:
    hr = spark_home
    hr.env["DATABRICKS_USER"] = "someone@example.com"
    hr.env.pop("DATABRICKS_HOST", None)
    project = export_template("lakeflow-pipelines/python", tmp_path)
    validated = hr("bundle", "validate", "--path", project)
    assert validated.returncode == 0, str(validated)

    before = hr("bundle", "run", "sample_job", "--path", project, "--json", timeout=1500)
    message = only_task(before.json())["state"]["state_message"]
    assert "samples.nyctaxi.trips is a Databricks sample dataset" in message, message
    assert "run `headrace samples install`" in message

    installed = hr("samples", "install", "--only", "nyctaxi", timeout=900)
    assert installed.returncode == 0, str(installed)
    assert "registered in the shared Spark catalog" in installed.stdout

    after = hr("bundle", "run", "sample_job", "--path", project, "--json", timeout=1500)
    run = after.json()
    assert only_task(run)["state"]["result_state"] == "SUCCESS", str(after)
    log = next((hr.home / "logs" / str(run["run_id"])).glob("refresh_pipeline/*/output.log"))
    text = log.read_text()
    assert "Flow main.someone.sample_zones_my_lakeflow_pipelines has COMPLETED" in text, text


@pytest.mark.parametrize("variant", ["classic", "serverless"])
def test_the_default_python_template_runs_unchanged(
    spark_home: Headrace, tmp_path: Path, variant: str
) -> None:
    """default-python: a notebook, a wheel doing `from databricks.sdk.runtime import spark` (its
    environment holds only the wheel: pyspark comes from the runtime, as on a Databricks cluster
    or in a serverless environment, which carries Databricks Connect) and a pipeline; classic on
    a job cluster, serverless in environment 4. As a Databricks user would, the dev schema
    (`hive_metastore.<short name>`) is created first, and the samples installed."""
    hr = spark_home
    hr.env["DATABRICKS_USER"] = "someone@example.com"
    hr.env.pop("DATABRICKS_HOST", None)
    project = export_template(f"default-python/{variant}", tmp_path)
    validated = hr("bundle", "validate", "--path", project)
    assert validated.returncode == 0, str(validated)
    installed = hr("samples", "install", "--only", "nyctaxi", timeout=900)
    assert installed.returncode == 0, str(installed)
    schema = hr.write(
        "schema.py",
        """
        from pyspark.sql import SparkSession

        SparkSession.builder.getOrCreate().sql("CREATE SCHEMA IF NOT EXISTS hive_metastore.someone")
        """,
    )
    job = hr.write(
        "schema.yml",
        f"""
        name: schema
        tasks:
          - task_key: create
            spark_python_task: {{python_file: {schema}}}
        """,
    )
    hr.run_json(job, expect=0)

    result = hr("bundle", "run", "sample_job", "--path", project, "--json", timeout=1500)
    run = result.json()
    states = {t["task_key"]: t["state"].get("result_state") for t in run["tasks"]}
    assert set(states.values()) == {"SUCCESS"}, str(result)
    log = next((hr.home / "logs" / str(run["run_id"])).glob("python_wheel_task/*/output.log"))
    text = log.read_text()
    assert "tpep_pickup_datetime" in text and "only showing top 5 rows" in text, text
