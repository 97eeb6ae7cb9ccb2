"""Job clusters as real Spark: shared by a run's tasks (one JVM), stopped at the run's end or
cancel, Spark's own errors for a failing task and for a spark_conf Spark cannot start with.

One `headrace server`; each test starts one job cluster (a JVM) at most.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support import Server, User, wait_for

from .compute_support import (
    finish,
    jvms_of,
    raw_run,
    submit,
    task,
    wait_cluster_state,
    write,
)

pytestmark = pytest.mark.spark

SHARED = {
    "job_cluster_key": "shared",
    "new_cluster": {
        "spark_version": "15.4.x-scala2.12",
        "node_type_id": "i3.xlarge",  # cloud hardware: accepted and shown, not used
        "num_workers": 2,
        "spark_conf": {"spark.sql.shuffle.partitions": "2"},
        "spark_env_vars": {"PIPELINE_STAGE": "test"},
    },
}


@pytest.fixture(scope="module")
def server(spark_server: Server) -> Server:
    return spark_server  # shared by the modules of tests/spark (conftest)


@pytest.fixture(scope="module")
def alice(server: Server) -> User:
    return server.user("alice")


def test_notebook_table_script_on_one_shared_job_cluster(
    alice: User, server: Server, tmp_path: Path
) -> None:
    w = alice.w
    produce = write(
        tmp_path / "produce.py",
        """
        # Databricks notebook source
        df = spark.range(10).withColumnRenamed("id", "n")
        df.write.mode("overwrite").saveAsTable("numbers")
        display(spark.table("numbers").orderBy("n"))

        # COMMAND ----------
        # MAGIC %sql
        # MAGIC SELECT count(*) AS how_many FROM numbers

        # COMMAND ----------
        assert type(_sqldf).__module__.startswith("pyspark.sql"), type(_sqldf)
        dbutils.notebook.exit(str(_sqldf.first()["how_many"]))
        """,
    )
    consume = write(
        tmp_path / "consume.py",
        """
        import os
        from pyspark.sql import SparkSession

        active = SparkSession.getActiveSession()  # no builder call first: as on Databricks
        assert active is not None
        built = SparkSession.builder.getOrCreate()
        from databricks.sdk.runtime import spark

        assert spark.table("numbers").count() == 10
        print("total", built.table("numbers").groupBy().sum("n").first()[0])
        print("stage", os.environ["PIPELINE_STAGE"], os.environ["SPARK_REMOTE"])
        """,
    )
    top = write(
        tmp_path / "top.py",
        """
        # Databricks notebook source
        # MAGIC %sql SELECT max(n) AS top FROM numbers

        # COMMAND ----------
        dbutils.notebook.exit(str(_sqldf.first()["top"]))
        """,
    )
    broken = write(
        tmp_path / "broken.py",
        "spark = __import__('pyspark.sql').sql.SparkSession.builder.getOrCreate()\nspark.table('no_such_table').show()\n",
    )
    after = [{"task_key": "produce"}]
    run_id = submit(
        w,
        {
            "run_name": "shared cluster",
            "job_clusters": [SHARED],
            "tasks": [
                {
                    "task_key": "produce",
                    "job_cluster_key": "shared",
                    "notebook_task": {"notebook_path": str(produce)},
                },
                {
                    "task_key": "consume",
                    "job_cluster_key": "shared",
                    "depends_on": after,
                    "spark_python_task": {"python_file": str(consume)},
                },
                {
                    "task_key": "top",
                    "job_cluster_key": "shared",
                    "depends_on": after,
                    "notebook_task": {"notebook_path": str(top)},
                },
                {
                    "task_key": "broken",
                    "job_cluster_key": "shared",
                    "depends_on": after,
                    "spark_python_task": {"python_file": str(broken)},
                },
            ],
        },
    )
    run = finish(w, run_id)
    states = {t["task_key"]: t["state"].get("result_state") for t in run["tasks"]}
    assert states == {
        "produce": "SUCCESS",
        "consume": "SUCCESS",
        "top": "SUCCESS",
        "broken": "FAILED",
    }, run

    # One cluster for the run, named by every task, started once (one JVM).
    cluster_id = f"run-{run_id}-shared"
    assert [c["cluster_id"] for c in run["clusters"]] == [cluster_id]
    assert {t["cluster_instance"]["cluster_id"] for t in run["tasks"]} == {cluster_id}
    cluster = run["clusters"][0]
    assert cluster["node_type_id"] == "i3.xlarge" and cluster["job_cluster_key"] == "shared"
    assert cluster["spark_ui_url"].startswith("http://127.0.0.1:")
    driver_log = Path(cluster["driver_log"]).read_text()
    assert driver_log.count("Spark Connect server started at") == 1
    assert "local[2]" in (Path(cluster["driver_log"]).parent / "launch.json").read_text()

    assert w.jobs.get_run_output(task(run, "produce")["run_id"]).notebook_output.result == "10"
    assert w.jobs.get_run_output(task(run, "top")["run_id"]).notebook_output.result == "9"
    html = w.api_client.do(
        "GET", "/api/2.2/jobs/runs/export", query={"run_id": task(run, "produce")["run_id"]}
    )["views"][0]["content"]
    assert "<th>n</th>" in html and "<td>9</td>" in html  # display(df) rendered the rows
    consume_log = Path(task(run, "consume")["log_path"]).read_text()
    assert "total 45" in consume_log and "stage test sc://127.0.0.1:" in consume_log

    # A failing Spark call: Spark's error on one line, not a gRPC dump.
    error = w.jobs.get_run_output(task(run, "broken")["run_id"]).error
    assert error.startswith("AnalysisException: [TABLE_OR_VIEW_NOT_FOUND]"), error
    assert "JVM stacktrace" not in error and "grpc" not in error.lower()

    # The run is over: its cluster stops, its JVM is gone.
    wait_cluster_state(w, run_id, cluster_id, "TERMINATED")
    assert jvms_of(cluster_id) == []


def test_a_cancelled_run_stops_its_cluster(alice: User, tmp_path: Path) -> None:
    w = alice.w
    marker = tmp_path / "started"
    slow = write(
        tmp_path / "slow.py",
        f"""
        # Databricks notebook source
        import pathlib, time
        spark.range(3).count()
        pathlib.Path({str(marker)!r}).write_text("yes")
        time.sleep(600)
        """,
    )
    run_id = submit(
        w,
        {
            "run_name": "cancelled",
            "job_clusters": [{"job_cluster_key": "c", "new_cluster": {"num_workers": 1}}],
            "tasks": [
                {
                    "task_key": "slow",
                    "job_cluster_key": "c",
                    "notebook_task": {"notebook_path": str(slow)},
                }
            ],
        },
    )
    cluster_id = f"run-{run_id}-c"
    wait_for(marker.exists, 600, "the notebook to use Spark")
    assert len(jvms_of(cluster_id)) == 1
    w.jobs.cancel_run(run_id)
    run = finish(w, run_id)
    assert run["state"]["result_state"] == "CANCELED"
    wait_cluster_state(w, run_id, cluster_id, "TERMINATED")
    wait_for(lambda: jvms_of(cluster_id) == [], 30, "the cluster's JVM to end")


def test_a_spark_conf_spark_cannot_start_with_fails_the_tasks_with_its_message(
    alice: User, tmp_path: Path
) -> None:
    w = alice.w
    script = write(tmp_path / "never.py", "print('never runs')\n")
    bad = {
        "job_cluster_key": "bad",
        "new_cluster": {"num_workers": 1, "spark_conf": {"spark.driver.memory": "lots"}},
    }
    tasks = [
        {
            "task_key": key,
            "job_cluster_key": "bad",
            "spark_python_task": {"python_file": str(script)},
        }
        for key in ("first", "second")
    ]
    run_id = submit(w, {"run_name": "bad conf", "job_clusters": [bad], "tasks": tasks})
    run = finish(w, run_id)
    for key in ("first", "second"):
        error = w.jobs.get_run_output(task(run, key)["run_id"]).error
        assert error == "Spark failed to start: Invalid maximum heap size: -Xmxlots", error
    assert raw_run(w, run_id)["clusters"][0]["state"] == "ERROR"
    assert jvms_of(f"run-{run_id}-bad") == []
