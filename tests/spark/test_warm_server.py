"""Tasks that name no cluster share the data directory's warm Spark server: started by the
first task that uses Spark, reused by the next ones (one JVM), kept after the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support import Server, User

from .compute_support import finish, submit, task, write

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def server(spark_server: Server) -> Server:
    return spark_server  # shared by the modules of tests/spark (conftest)


@pytest.fixture(scope="module")
def alice(server: Server) -> User:
    return server.user("alice")


def test_tasks_without_a_cluster_share_one_warm_server(
    alice: User, server: Server, tmp_path: Path
) -> None:
    w = alice.w
    plain = write(tmp_path / "plain.py", "# Databricks notebook source\nprint('no Spark')\n")
    first = write(
        tmp_path / "first.py",
        """
        # Databricks notebook source
        spark.range(5).write.mode("overwrite").saveAsTable("warm_numbers")
        dbutils.notebook.exit(str(spark.table("warm_numbers").count()))
        """,
    )
    second = write(
        tmp_path / "second.py",
        """
        from pyspark.sql import SparkSession

        print("rows", SparkSession.getActiveSession().table("warm_numbers").count())
        """,
    )
    third = write(
        tmp_path / "third.py",
        """
        # Databricks notebook source
        # MAGIC %sql SELECT 1 AS one

        # COMMAND ----------
        # No cluster named: %sql stays on the SQL warehouse, Spark is still there.
        assert not type(_sqldf).__module__.startswith("pyspark"), type(_sqldf)
        dbutils.notebook.exit(str(table("warm_numbers").count()))
        """,
    )
    run_id = submit(
        w,
        {
            "run_name": "warm",
            "tasks": [
                {"task_key": "plain", "notebook_task": {"notebook_path": str(plain)}},
                {
                    "task_key": "first",
                    "depends_on": [{"task_key": "plain"}],
                    "notebook_task": {"notebook_path": str(first)},
                },
                {
                    "task_key": "second",
                    "depends_on": [{"task_key": "first"}],
                    "spark_python_task": {"python_file": str(second)},
                },
                {
                    "task_key": "third",
                    "depends_on": [{"task_key": "second"}],
                    "notebook_task": {"notebook_path": str(third)},
                },
            ],
        },
    )
    run = finish(w, run_id)
    assert run["state"]["result_state"] == "SUCCESS", run
    assert "clusters" not in run
    assert w.jobs.get_run_output(task(run, "first")["run_id"]).notebook_output.result == "5"
    assert "rows 5" in Path(task(run, "second")["log_path"]).read_text()
    assert w.jobs.get_run_output(task(run, "third")["run_id"]).notebook_output.result == "5"

    warm = server.home / "spark" / "warm"
    assert (warm / "driver.log").read_text().count("Spark Connect server started at") == 1
    state = json.loads((warm / "state.json").read_text())
    assert state["state"] == "RUNNING"  # kept warm for the next run
    # The task that started it had the worker's settings (the supervisor keeps HEADRACE_*
    # variables from tasks; the Spark ones are passed on).
    launch = json.loads((warm / "launch.json").read_text())
    assert launch["conf"]["spark.driver.memory"] == "512m"
    assert launch["idle_seconds"] == 600
