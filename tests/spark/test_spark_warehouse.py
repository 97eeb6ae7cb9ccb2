"""sql_task on a Spark warehouse: the real `headrace run` runs a script that writes a table on
one Spark JVM, a script that reads it on another, and SQL tasks on the Spark warehouse that
count it: one catalog for Spark tasks and SQL tasks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from support import Headrace

pytestmark = pytest.mark.spark

WRITE = """
import sys
from pyspark.sql import SparkSession

spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
spark.sql("CREATE SCHEMA IF NOT EXISTS main.lake")
rows = [(i, float(i) * 1.5) for i in range(1, 6)]
spark.createDataFrame(rows, "id INT, km DOUBLE").write.mode("overwrite").saveAsTable(
    "main.lake.trips"
)
print("wrote", spark.table("main.lake.trips").count())
"""

READ = """
import sys
from pyspark.sql import SparkSession

spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
n = spark.table("main.lake.trips").count()
assert n == 5, n
spark.sql("INSERT INTO main.lake.trips VALUES (6, 9.0)")
print("read", n)
"""

JOB = """
name: lake
tasks:
  - task_key: write
    spark_python_task: {{python_file: write.py, parameters: ["{a}"]}}
  - task_key: read
    depends_on: [{{task_key: write}}]
    spark_python_task: {{python_file: read.py, parameters: ["{b}"]}}
  - task_key: count
    depends_on: [{{task_key: read}}]
    sql_task:
      warehouse_id: lake
      parameters: {{min_id: "2"}}
      query:
        query_text: |
          USE CATALOG main;
          USE SCHEMA lake;
          SELECT count(*) AS n, max(id) AS top FROM trips WHERE id >= :min_id;
"""


def _hr(tmp_path: Path, remote: str) -> Headrace:
    hr = Headrace(tmp_path)
    hr.env["HEADRACE_WAREHOUSE_LAKE_URL"] = remote
    return hr


def _output(run: dict, key: str) -> dict:
    [task] = [t for t in run["tasks"] if t["task_key"] == key]
    log_path = Path(task["attempts"][-1]["log_path"])
    return json.loads((log_path.parent / "output.json").read_text())


def test_script_writes_another_jvm_reads_and_a_sql_task_counts(catalog_env, tmp_path: Path) -> None:
    hr = _hr(tmp_path, catalog_env.b.remote)
    hr.write("write.py", WRITE)
    hr.write("read.py", READ)
    job = hr.write("job.yml", JOB.format(a=catalog_env.a.remote, b=catalog_env.b.remote))
    result = hr("run", job, "--json", timeout=600)
    run = result.json()
    states = {t["task_key"]: t["state"].get("result_state") for t in run["tasks"]}
    assert states == {"write": "SUCCESS", "read": "SUCCESS", "count": "SUCCESS"}, result
    output = _output(run, "count")["sql_output"]["query_output"]
    assert output["warehouse_id"] == "lake"
    assert output["statements_executed"] == 3
    assert output["result"]["columns"] == ["n", "top"]
    assert output["result"]["rows"] == [[5, 6]]
    # The same table from the other JVM, directly.
    spark = catalog_env.a.session()
    assert spark.table("main.lake.trips").count() == 6


def test_a_failing_spark_statement_fails_the_task_with_one_line(
    catalog_env, tmp_path: Path
) -> None:
    hr = _hr(tmp_path, catalog_env.b.remote)
    job = hr.write(
        "bad.yml",
        """
        name: bad
        tasks:
          - task_key: delta
            sql_task:
              warehouse_id: lake
              query: {query_text: "CREATE TABLE main.default.dd (a INT) USING DELTA"}
        """,
    )
    result = hr("run", job, "--json", timeout=300)
    assert result.returncode != 0
    [task] = result.json()["tasks"]
    message = task["state"]["state_message"]
    assert message.startswith("WarehouseError: Delta Lake is not installed on this Spark"), message
    assert "\n" not in message and "at org.apache" not in message


def test_an_unknown_spark_url_form_is_refused_by_name(tmp_path: Path) -> None:
    from headrace.warehouse import WarehouseError, execute

    os.environ["HEADRACE_WAREHOUSE_ODD_URL"] = "spark://somewhere/else"
    try:
        with pytest.raises(WarehouseError, match="warehouse 'odd': url 'spark://somewhere/else'"):
            execute("SELECT 1", "odd", home=tmp_path)
    finally:
        del os.environ["HEADRACE_WAREHOUSE_ODD_URL"]


WARM_JOB = """
name: warm-lake
tasks:
  - task_key: notebook
    notebook_task: {notebook_path: ./make_table.py}
  - task_key: count
    depends_on: [{task_key: notebook}]
    sql_task:
      warehouse_id: lake
      query: {query_text: "SELECT count(*) AS n FROM main.warm.numbers"}
"""

NOTEBOOK = """
# Databricks notebook source
spark.sql("CREATE SCHEMA IF NOT EXISTS main.warm")
spark.range(7).write.mode("overwrite").saveAsTable("main.warm.numbers")
"""


def test_notebook_table_is_counted_by_a_sql_task_on_the_warm_server(tmp_path: Path) -> None:
    """`spark://`: the SQL task runs on the data directory's warm server, where the notebook
    (no cluster named) wrote its table."""
    from .compute_support import stop_everything

    hr = _hr(tmp_path, "spark://")
    hr.env["HEADRACE_SPARK_DRIVER_MEMORY"] = "512m"
    try:
        hr.write("make_table.py", NOTEBOOK)
        job = hr.write("warm.yml", WARM_JOB)
        result = hr("run", job, "--json", timeout=900)
        run = result.json()
        states = {t["task_key"]: t["state"].get("result_state") for t in run["tasks"]}
        assert states == {"notebook": "SUCCESS", "count": "SUCCESS"}, result
        output = _output(run, "count")["sql_output"]["query_output"]
        assert output["result"]["rows"] == [[7]]

        # The metastore service stopped (idle stop, crash): the next SQL task restarts it on
        # the same port with the same Derby database, the running warm server reconnects and
        # the table is still there.
        from headrace.compute.catalog import metastore_port, stop_metastore

        port = metastore_port(hr.home)
        assert stop_metastore(hr.home)
        count_only = hr.write("count.yml", COUNT_JOB)
        again = hr("run", count_only, "--json", timeout=900)
        [task] = again.json()["tasks"]
        assert task["state"].get("result_state") == "SUCCESS", task["state"]
        output = _output(again.json(), "count")["sql_output"]["query_output"]
        assert output["result"]["rows"] == [[7]]
        assert metastore_port(hr.home) == port
    finally:
        stop_everything(hr.home)


COUNT_JOB = """
name: count-again
tasks:
  - task_key: count
    sql_task:
      warehouse_id: lake
      query: {query_text: "SELECT count(*) AS n FROM main.warm.numbers"}
"""
