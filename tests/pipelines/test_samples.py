"""`headrace samples install` without Spark: SYNTHETIC datasets with Databricks' schemas in the
embedded DuckDB warehouse and under dbfs, deterministic, labelled; a missing sample table's
error says how to install them (and nothing is generated on demand)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import duckdb

from support import Headrace

TRIPS_COLUMNS = [
    ("tpep_pickup_datetime", "TIMESTAMP"),
    ("tpep_dropoff_datetime", "TIMESTAMP"),
    ("trip_distance", "DOUBLE"),
    ("fare_amount", "DOUBLE"),
    ("pickup_zip", "INTEGER"),
    ("dropoff_zip", "INTEGER"),
]


def samples_catalog(home: Path) -> Path:
    return home / "warehouse" / "default.catalogs" / "samples.duckdb"


def trips_digest(home: Path) -> tuple[int, str, list[Any], str]:
    con = duckdb.connect(str(samples_catalog(home)), read_only=True)
    try:
        rows = con.execute("SELECT * FROM nyctaxi.trips ORDER BY ALL").fetchall()
        columns = con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'trips' ORDER BY ordinal_position"
        ).fetchall()
        (comment,) = con.execute(
            "SELECT comment FROM duckdb_tables() WHERE table_name = 'trips'"
        ).fetchall()[0]
    finally:
        con.close()
    return len(rows), hashlib.sha256(repr(rows).encode()).hexdigest(), columns, comment


def sql_job(hr: Headrace) -> Path:
    return hr.write(
        "trips.yml",
        """
        name: trips
        tasks:
          - task_key: busiest
            sql_task:
              query:
                query_text: >
                  SELECT pickup_zip, count(*) AS n FROM samples.nyctaxi.trips
                  GROUP BY pickup_zip ORDER BY n DESC, pickup_zip LIMIT 1
        """,
    )


def test_a_missing_sample_table_says_how_to_install_it(tmp_path: Path) -> None:
    hr = Headrace(tmp_path)
    _, run = hr.run_json(sql_job(hr), expect=1)
    message = run["tasks"][0]["state"]["state_message"]
    assert "samples.nyctaxi.trips is a Databricks sample dataset" in message, message
    assert "run `headrace samples install`" in message
    assert not samples_catalog(hr.home).exists()  # never generated on demand


def test_install_writes_labelled_deterministic_synthetic_data(tmp_path: Path) -> None:
    hr = Headrace(tmp_path)
    result = hr("samples", "install", "--no-spark")
    assert result.returncode == 0, str(result)
    assert "21932 SYNTHETIC rows" in result.stdout and "4074 SYNTHETIC orders" in result.stdout
    count, digest, columns, comment = trips_digest(hr.home)
    assert count == 21932 and columns == TRIPS_COLUMNS
    assert comment.startswith("SYNTHETIC data written by `headrace samples install`")
    assert "SYNTHETIC" in (hr.home / "samples" / "nyctaxi" / "README.md").read_text()
    assert (hr.home / "samples" / "nyctaxi" / "trips" / "part-00000.parquet").is_file()

    orders = hr.home / "dbfs" / "databricks-datasets" / "retail-org"
    assert "SYNTHETIC" in (orders / "README.md").read_text()
    lines = (orders / "sales_orders" / "part-00000.json").read_text().splitlines()
    first = json.loads(lines[0])
    assert len(lines) == 4074
    assert {"customer_name", "order_datetime", "order_number", "ordered_products"} <= set(first)

    again = hr("samples", "install", "--no-spark", "--only", "nyctaxi")
    assert again.returncode == 0, str(again)
    assert trips_digest(hr.home)[1] == digest  # the same rows every time

    _, run = hr.run_json(sql_job(hr), expect=0)
    assert run["tasks"][0]["state"]["result_state"] == "SUCCESS"


def test_only_names_known_datasets(tmp_path: Path) -> None:
    hr = Headrace(tmp_path)
    result = hr("samples", "install", "--only", "nyctaxi,tpcds", "--no-spark")
    assert result.returncode != 0
    assert "--only" in result.stderr and "tpcds" in result.stderr, str(result)
    assert not samples_catalog(hr.home).exists()
    listed = hr("samples", "list")
    assert "nyctaxi\t21932 rows" in listed.stdout and "retail-org" in listed.stdout
