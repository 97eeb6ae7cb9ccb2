"""pipeline_task through `headrace run`: real Spark Declarative Pipelines on the warm Spark
Connect server; datasets in the shared catalog read by a downstream task; the tool's own
message for a cycle and for an unsupported DLT construct; for_each, run_if and retries."""

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


def create(hr: Headrace, name: str, body: str) -> str:
    path = hr.write(f"{name}.yml", body)
    result = hr("pipelines", "create", path)
    assert result.returncode == 0, str(result)
    return result.stdout.strip()


def test_pipeline_tasks(spark_hr: Headrace, sources: Path) -> None:
    good = create(
        spark_hr,
        "good",
        f"name: good\ncatalog: main\nschema: shop\nlibraries: [{{glob: {{include: {sources}/good/**}}}}]\n",
    )
    cycle = create(
        spark_hr, "cycle", f"name: cycle\nlibraries: [{{glob: {{include: {sources}/cycle/**}}}}]\n"
    )
    expect = create(
        spark_hr,
        "expect",
        f"name: expect\nlibraries: [{{file: {{path: {sources}/expect/checked.py}}}}]\n",
    )
    reader = spark_hr.write(
        "read.py",
        """
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.getOrCreate()
        print("summary", spark.table("main.shop.summary").collect())
        """,
    )
    job = spark_hr.write(
        "job.yml",
        f"""
        name: pipelines
        tasks:
          - task_key: refresh
            pipeline_task: {{pipeline_id: {good}, full_refresh: true}}
          - task_key: read
            depends_on: [{{task_key: refresh}}]
            spark_python_task: {{python_file: {reader}}}
          - task_key: cycle
            depends_on: [{{task_key: read}}]
            max_retries: 1
            pipeline_task: {{pipeline_id: {cycle}}}
          - task_key: expect
            depends_on: [{{task_key: read}}]
            pipeline_task: {{pipeline_id: {expect}}}
          - task_key: on_failure
            depends_on: [{{task_key: cycle}}]
            run_if: AT_LEAST_ONE_FAILED
            for_each_task:
              inputs: '["{good}"]'
              task:
                task_key: again
                pipeline_task: {{pipeline_id: "{{{{input}}}}"}}
        """,
    )
    result = spark_hr("run", job, "--json", timeout=1500)
    run = result.json()
    assert result_of(task(run, "refresh")) == "SUCCESS", str(result)
    assert result_of(task(run, "read")) == "SUCCESS"
    read_logs = list((spark_hr.home / "logs" / str(run["run_id"])).glob("read/*/output.log"))
    assert "summary [Row(customers=3, orders=10)]" in read_logs[0].read_text()

    cycle_task = task(run, "cycle")
    assert result_of(cycle_task) == "FAILED"
    assert len(cycle_task["attempts"]) == 2
    message = cycle_task["state"]["state_message"]
    assert "Circular dependencies are not supported in a pipeline" in message, message

    message = task(run, "expect")["state"]["state_message"]
    assert "dlt.expect is not supported by Spark Declarative Pipelines" in message, message

    assert result_of(task(run, "on_failure")) == "SUCCESS"

    listed = spark_hr("pipelines", "get", good)
    assert '"state": "COMPLETED"' in listed.stdout, str(listed)


def test_the_example_bundle_refreshes_and_reads_the_pipeline(spark_hr: Headrace) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "pipelines"
    result = spark_hr("bundle", "run", "refresh_shop", "--path", example, "--json", timeout=1500)
    run = result.json()
    assert result_of(task(run, "refresh")) == "SUCCESS", str(result)
    assert result_of(task(run, "report")) == "SUCCESS", str(result)
    logs = (spark_hr.home / "logs" / str(run["run_id"])).glob("report/*/output.log")
    assert "3 customers, 10 orders" in next(logs).read_text()


def test_the_template_shape_runs_catalog_on_demand_and_samples_named(spark_hr: Headrace) -> None:
    """The lakeflow-pipelines template's shape: catalog literally `catalog` (made on demand),
    `@dp.table` over batch reads (materialized views, as on Databricks) and
    `samples.nyctaxi.trips`: missing, the error names the sample table; once a table of ours
    stands in for it (made here, in the shared catalog), the same pipeline runs."""
    src = spark_hr.dir / "template_src"
    src.mkdir()
    (src / "trips.py").write_text(
        "from pyspark import pipelines as dp\n\n\n@dp.table\ndef trips():\n"
        '    return spark.read.table("samples.nyctaxi.trips")\n'
    )
    (src / "zones.py").write_text(
        "from pyspark import pipelines as dp\nfrom pyspark.sql.functions import col, sum\n\n\n"
        "@dp.table\ndef zones():\n"
        '    return spark.read.table("trips").groupBy(col("pickup_zip"))'
        '.agg(sum("fare_amount").alias("total_fare"))\n'
    )
    pipeline = create(
        spark_hr,
        "template",
        f"name: template\ncatalog: catalog\nschema: someone\n"
        f"libraries: [{{glob: {{include: {src}/**}}}}]\n",
    )
    maker = spark_hr.write(
        "make_trips.py",
        """
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.getOrCreate()
        spark.sql("CREATE SCHEMA IF NOT EXISTS nyctaxi")
        rows = [(10001, 5.0), (10001, 7.5), (10002, 3.0)]
        spark.createDataFrame(rows, "pickup_zip int, fare_amount double").write.mode(
            "overwrite"
        ).saveAsTable("nyctaxi.trips")
        """,
    )
    reader = spark_hr.write(
        "read_zones.py",
        """
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.getOrCreate()
        print("zones", sorted(spark.table("main.someone.zones").collect()))
        """,
    )
    job = spark_hr.write(
        "template_job.yml",
        f"""
        name: template
        tasks:
          - task_key: without_samples
            pipeline_task: {{pipeline_id: {pipeline}}}
          - task_key: make_trips
            depends_on: [{{task_key: without_samples}}]
            run_if: ALL_DONE
            spark_python_task: {{python_file: {maker}}}
          - task_key: with_trips
            depends_on: [{{task_key: make_trips}}]
            pipeline_task: {{pipeline_id: {pipeline}}}
          - task_key: read
            depends_on: [{{task_key: with_trips}}]
            spark_python_task: {{python_file: {reader}}}
        """,
    )
    result = spark_hr("run", job, "--json", timeout=1500)
    run = result.json()
    message = task(run, "without_samples")["state"]["state_message"]
    assert "`samples`.`nyctaxi`.`trips` cannot be found" in message, message
    assert "samples.nyctaxi.trips is a Databricks sample dataset, not part of Headrace" in message
    assert result_of(task(run, "with_trips")) == "SUCCESS", str(result)
    assert result_of(task(run, "read")) == "SUCCESS", str(result)
    log = next((spark_hr.home / "logs" / str(run["run_id"])).glob("read/*/output.log"))
    assert (
        "zones [Row(pickup_zip=10001, total_fare=12.5), Row(pickup_zip=10002, total_fare=3.0)]"
        in (log.read_text())
    )
