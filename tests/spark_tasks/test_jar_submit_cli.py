"""spark_jar_task and spark_submit_task through `headrace run`: a real jar (javac), JAR tasks in
the warm cluster's driver, spark-submit for spark_submit_task, the tool's own error as the
task's error; for_each, run_if and retries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from support import Headrace

pytestmark = pytest.mark.spark


def task(run: dict[str, Any], key: str) -> dict[str, Any]:
    return next(t for t in run["tasks"] if t["task_key"] == key)


def result_of(t: dict[str, Any]) -> str | None:
    return t["state"].get("result_state")


def log_of(hr: Headrace, run: dict[str, Any], key: str) -> str:
    return "\n".join(
        p.read_text()
        for p in sorted((hr.home / "logs" / str(run["run_id"])).glob(f"{key}*/*/output.log"))
    )


def run_job(hr: Headrace, job: Path) -> dict[str, Any]:
    result = hr("run", job, "--json", timeout=900)
    return result.json()


def test_jar_and_submit_tasks(spark_hr: Headrace, hello_jar: Path) -> None:
    app = spark_hr.write(
        "app.py",
        """
        import sys
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.getOrCreate()
        print("python app", sys.argv[1:], spark.range(3).count(), type(spark).__module__)
        """,
    )
    job = spark_hr.write(
        "jobs.yml",
        f"""
        name: jvm
        tasks:
          - task_key: jar
            spark_jar_task: {{main_class_name: demo.Hello, parameters: ["a", "b"]}}
            libraries: [{{jar: {hello_jar}}}]
          - task_key: bad_class
            spark_jar_task: {{main_class_name: demo.Nope}}
            libraries: [{{jar: {hello_jar}}}]
          - task_key: throws
            depends_on: [{{task_key: jar}}]
            max_retries: 1
            spark_jar_task: {{main_class_name: demo.Hello, parameters: ["fail"]}}
            libraries: [{{jar: {hello_jar}}}]
          - task_key: after_failure
            depends_on: [{{task_key: throws}}]
            run_if: ALL_FAILED
            spark_submit_task:
              parameters: ["--class", "demo.Hello", "{hello_jar}", "submitted"]
          - task_key: python
            depends_on: [{{task_key: jar}}]
            spark_submit_task: {{parameters: ["{app}", "x", "y"]}}
          - task_key: each
            depends_on: [{{task_key: python}}]
            for_each_task:
              inputs: '["p", "q"]'
              task:
                task_key: each_jar
                spark_jar_task: {{main_class_name: demo.Hello, parameters: ["{{{{input}}}}"]}}
                libraries: [{{jar: {hello_jar}}}]
        """,
    )
    run = run_job(spark_hr, job)
    assert result_of(task(run, "jar")) == "SUCCESS"
    assert "hello from the jar a,b count=5" in log_of(spark_hr, run, "jar")

    bad = task(run, "bad_class")
    assert result_of(bad) == "FAILED"
    # In the warm driver (the tool's own words, as spark-submit says them).
    assert "spark_jar_task failed: Failed to load class demo.Nope." in bad["state"]["state_message"]

    throws = task(run, "throws")
    assert result_of(throws) == "FAILED"
    assert len(throws["attempts"]) == 2
    message = throws["state"]["state_message"]
    assert "java.lang.IllegalStateException: the jar says no" in message, message

    assert result_of(task(run, "after_failure")) == "SUCCESS"
    assert "hello from the jar submitted count=5" in log_of(spark_hr, run, "after_failure")

    assert result_of(task(run, "python")) == "SUCCESS"
    python_log = log_of(spark_hr, run, "python")
    assert "python app ['x', 'y'] 3 pyspark.sql.session" in python_log, python_log  # classic

    assert result_of(task(run, "each")) == "SUCCESS"
    each_log = log_of(spark_hr, run, "each")
    assert "hello from the jar p count=5" in each_log and "hello from the jar q" in each_log


def test_a_jar_task_without_a_jar_names_the_fix(spark_hr: Headrace) -> None:
    job = spark_hr.write(
        "nojar.yml",
        """
        name: nojar
        tasks:
          - task_key: t
            spark_jar_task: {main_class_name: demo.Hello}
        """,
    )
    run = run_job(spark_hr, job)
    message = task(run, "t")["state"]["state_message"]
    assert "no jar to run; add the jar that holds 'demo.Hello'" in message, message


def test_the_example_builds_and_runs_its_jar(spark_hr: Headrace) -> None:
    import os
    import shutil
    import sys

    example = spark_hr.dir / "spark_jar"
    shutil.copytree(Path(__file__).resolve().parents[2] / "examples" / "spark_jar", example)
    spark_hr.env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + spark_hr.env["PATH"]
    run = run_job(spark_hr, example / "job.yml")
    assert result_of(task(run, "jar")) == "SUCCESS", run
    assert f"hello from the jar {run['run_id']} count=5" in log_of(spark_hr, run, "jar")
