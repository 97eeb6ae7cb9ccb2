"""`headrace samples install` with Spark never replaces a user's own `nyctaxi.trips`.

`samples`, `main` and `hive_metastore` name one shared Spark catalog, so a user's
`main.nyctaxi.trips` is the table the samples would be registered as: install refuses (naming
the table and what to do, writing nothing), and replaces only a table of its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support import Headrace

pytestmark = pytest.mark.spark

SPARK = "from pyspark.sql import SparkSession\n\nspark = SparkSession.builder.getOrCreate()\n"


def run_script(hr: Headrace, name: str, body: str) -> str:
    """Run `body` as a spark_python_task on the warm local cluster; its output."""
    script = hr.write(f"{name}.py", SPARK + body)
    job = hr.write(
        f"{name}.yml",
        f"name: {name}\ntasks:\n  - task_key: t\n    spark_python_task: {{python_file: {script}}}\n",
    )
    result, run = hr.run_json(job)
    assert run["tasks"][0]["state"]["result_state"] == "SUCCESS", str(result)
    log = next((hr.home / "logs" / str(run["run_id"])).glob("t/*/output.log"))
    return log.read_text()


def samples_catalog(home: Path) -> Path:
    return home / "warehouse" / "default.catalogs" / "samples.duckdb"


def test_install_refuses_a_users_table_and_replaces_its_own(spark_hr: Headrace) -> None:
    hr = spark_hr
    run_script(
        hr,
        "mine",
        'spark.sql("CREATE SCHEMA IF NOT EXISTS main.nyctaxi")\n'
        'spark.range(3).write.saveAsTable("main.nyctaxi.trips")\n',
    )

    refused = hr("samples", "install", "--only", "nyctaxi", timeout=900)
    assert refused.returncode != 0, str(refused)
    assert "nyctaxi.trips that Headrace did not write" in refused.stderr, str(refused)
    assert "main.nyctaxi.trips" in refused.stderr and "--no-spark" in refused.stderr
    assert not samples_catalog(hr.home).exists()  # nothing written
    assert "count 3" in run_script(
        hr, "still_mine", 'print("count", spark.table("main.nyctaxi.trips").count())\n'
    )

    run_script(hr, "drop_mine", 'spark.sql("DROP TABLE main.nyctaxi.trips")\n')
    for _ in range(2):  # the second install replaces the table the first one registered
        installed = hr("samples", "install", "--only", "nyctaxi", timeout=900)
        assert installed.returncode == 0, str(installed)
        assert "registered in the shared Spark catalog" in installed.stdout
    assert "count 21932" in run_script(
        hr, "samples", 'print("count", spark.table("samples.nyctaxi.trips").count())\n'
    )
