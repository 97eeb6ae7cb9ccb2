"""The shared Spark catalog: two Spark JVMs of one data directory see each other's tables;
three-part names, USE CATALOG / USE SCHEMA; Parquet tables; a one-line error for Delta."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from headrace.compute.catalog import ensure_metastore, metastore_port
from headrace.warehouse.spark_backend import spark_message

pytestmark = pytest.mark.spark


def test_a_table_written_by_one_jvm_is_read_by_another(catalog_env) -> None:
    a = catalog_env.a.session()
    b = catalog_env.b.session()
    a.sql("CREATE SCHEMA IF NOT EXISTS main.shared")
    a.createDataFrame([(1, "x"), (2, "y"), (3, "z")], "id INT, v STRING").write.mode(
        "overwrite"
    ).saveAsTable("main.shared.events")

    assert b.table("main.shared.events").count() == 3
    b.sql("INSERT INTO main.shared.events VALUES (4, 'w')")
    assert a.sql("SELECT count(*) AS n FROM main.shared.events").collect()[0].n == 4
    # Managed tables are Parquet files in the data directory's warehouse folder.
    folder = catalog_env.home / "spark-warehouse" / "shared.db" / "events"
    assert any(p.suffix == ".parquet" for p in folder.iterdir())


def test_three_part_names_use_catalog_and_use_schema(catalog_env) -> None:
    spark = catalog_env.a.session()
    spark.sql("CREATE SCHEMA IF NOT EXISTS main.sales")
    spark.sql("CREATE TABLE IF NOT EXISTS main.sales.orders (id INT, amount DOUBLE)")
    spark.sql("INSERT INTO main.sales.orders VALUES (1, 2.5), (2, 4.0)")
    for name in ("main.sales.orders", "spark_catalog.sales.orders", "hive_metastore.sales.orders"):
        assert spark.table(name).count() == 2, name

    spark.sql("USE CATALOG main")
    spark.sql("USE SCHEMA sales")
    assert spark.sql("SELECT sum(amount) AS s FROM orders").collect()[0].s == 6.5
    spark.sql("use catalog `hive_metastore`")
    assert spark.table("sales.orders").count() == 2
    provider = {
        r.col_name: r.data_type
        for r in spark.sql("DESCRIBE TABLE EXTENDED main.sales.orders").collect()
    }["Provider"]
    assert provider == "parquet"
    # The other JVM sees the schema and its table by the same names.
    other = catalog_env.b.session()
    assert "sales" in [r.namespace for r in other.sql("SHOW SCHEMAS IN main").collect()]
    assert [r.tableName for r in other.sql("SHOW TABLES IN main.sales").collect()] == ["orders"]


def test_delta_without_delta_jars_is_a_one_line_error(catalog_env) -> None:
    spark = catalog_env.a.session()
    with pytest.raises(Exception) as caught:
        spark.sql("CREATE TABLE main.default.d (a INT) USING DELTA")
    message = spark_message(caught.value)
    assert "\n" not in message
    assert message.startswith("Delta Lake is not installed on this Spark")
    assert "spark.jars.packages=io.delta:delta-spark_2.13" in message
    with pytest.raises(Exception) as caught:
        spark.range(2).write.format("delta").save(str(catalog_env.home / "d"))
    assert spark_message(caught.value).startswith("Delta Lake is not installed")


def test_metastore_is_shared_and_listens_on_loopback_only(catalog_env) -> None:
    port = metastore_port(catalog_env.home)
    assert port is not None
    assert ensure_metastore(catalog_env.home) == port  # a second caller reuses it
    assert catalog_env.conf["spark.hadoop.hive.metastore.uris"] == f"thrift://127.0.0.1:{port}"
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                listening.append(local.rsplit(":", 1)[0])
    assert listening and all(
        addr in ("0100007F", "0000000000000000FFFF00000100007F") for addr in listening
    )


@pytest.mark.skipif(shutil.which("javac") is None, reason="javac not installed")
def test_checked_in_jar_is_built_from_the_sources(tmp_path: Path) -> None:
    from headrace.compute.catalog import jar_path

    build = Path(jar_path()).parent.parent / "java" / "build.py"
    out = tmp_path / "rebuilt.jar"
    subprocess.run([sys.executable, str(build), str(out)], check=True, capture_output=True)
    assert out.read_bytes() == Path(jar_path()).read_bytes()
