"""`headrace samples install`: the SYNTHETIC sample datasets written where Databricks code looks.

- `nyctaxi`: table `samples.nyctaxi.trips` of the embedded DuckDB warehouse (the catalog file
  `<home>/warehouse/default.catalogs/samples.duckdb`, attached as `samples` on every warehouse
  connection), its Parquet copy `<home>/samples/nyctaxi/trips/`, and, unless `spark=False`, the
  table `nyctaxi.trips` of the shared Spark catalog over that copy (`samples` is a name of the
  session catalog during pipeline updates, so `samples.nyctaxi.trips` reads it);
- `retail-org`: JSON files at `<home>/dbfs/databricks-datasets/retail-org/sales_orders/`.

Each dataset says what it is: a table comment, and `README.md` files beside the data.
Nothing is ever generated on demand: a missing sample table's error says to run this.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from headrace.errors import HeadraceError, SpecError, SpecIssue
from headrace.samples.datasets import DATASETS, NOTICE, TRIPS_SQL, write_sales_orders

INSTALL_HINT = "run `headrace samples install` to write SYNTHETIC stand-ins (docs/samples.md)"


def samples_dir(home: Path) -> Path:
    return Path(home) / "samples"


def duckdb_catalog_file(home: Path) -> Path:
    """The embedded warehouse's `samples` catalog (warehouse.catalogs: one file per catalog)."""
    from headrace.warehouse.catalogs import catalogs_dir

    return catalogs_dir(Path(home) / "warehouse" / "default.duckdb") / "samples.duckdb"


def chosen(only: str | None) -> list[str]:
    """The datasets `--only` names (comma-separated), all by default.

    Raises:
        SpecError: an unknown name (field `--only`).
    """
    if not only:
        return list(DATASETS)
    names = [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in DATASETS]
    if unknown or not names:
        known = ", ".join(DATASETS)
        raise SpecError(
            [SpecIssue("--only", f"unknown dataset {unknown or only!r}; one of {known}")]
        )
    return names


def install(
    home: Path, names: list[str], *, spark: bool = True, say: Callable[[str], None] = print
) -> None:
    """Write the named datasets (replacing earlier copies)."""
    home = Path(home)
    for name in names:
        if name == "nyctaxi":
            rows = _nyctaxi_duckdb(home)
            say(f"samples.nyctaxi.trips: {rows} SYNTHETIC rows (DuckDB warehouse, Parquet copy)")
            if spark:
                _nyctaxi_spark(home)
                say("nyctaxi.trips: registered in the shared Spark catalog")
        elif name == "retail-org":
            folder = home / "dbfs" / "databricks-datasets" / "retail-org"
            rows = write_sales_orders(folder / "sales_orders")
            _readme(folder, "/databricks-datasets/retail-org/sales_orders/ (JSON lines)", rows)
            say(f"/databricks-datasets/retail-org/sales_orders/: {rows} SYNTHETIC orders")


def _readme(folder: Path, what: str, rows: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "README.md").write_text(
        f"# SYNTHETIC sample data\n\n{what}: {rows} rows.\n\n{NOTICE}\n"
        "Rewrite with `headrace samples install`; see docs/samples.md of Headrace.\n"
    )


def _nyctaxi_duckdb(home: Path) -> int:
    import duckdb

    catalog = duckdb_catalog_file(home)
    catalog.parent.mkdir(parents=True, exist_ok=True)
    copy = samples_dir(home) / "nyctaxi" / "trips"
    staging = copy.with_name(".trips.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        con = duckdb.connect(str(catalog))
    except duckdb.Error as exc:  # another process holds the file
        raise HeadraceError(f"cannot open {catalog}: {exc}") from None
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("BEGIN")
        con.execute("CREATE SCHEMA IF NOT EXISTS nyctaxi")
        con.execute(f"CREATE OR REPLACE TABLE nyctaxi.trips AS {TRIPS_SQL}")
        con.execute(f"COMMENT ON TABLE nyctaxi.trips IS '{NOTICE.replace(chr(39), chr(39) * 2)}'")
        con.execute("COMMIT")
        (rows,) = con.execute("SELECT count(*) FROM nyctaxi.trips").fetchone()  # type: ignore[misc]
        # Spark reads Parquet timestamps adjusted to UTC as its TIMESTAMP (Databricks' type).
        con.execute(
            "COPY (SELECT * REPLACE (tpep_pickup_datetime::TIMESTAMPTZ AS tpep_pickup_datetime, "
            "tpep_dropoff_datetime::TIMESTAMPTZ AS tpep_dropoff_datetime) FROM nyctaxi.trips) "
            f"TO '{staging / 'part-00000.parquet'}' (FORMAT parquet)"
        )
    finally:
        con.close()
    shutil.rmtree(copy, ignore_errors=True)
    staging.replace(copy)
    _readme(copy.parent, "samples.nyctaxi.trips (Parquet under trips/)", int(rows))
    return int(rows)


def _nyctaxi_spark(home: Path) -> None:
    """The shared catalog's `nyctaxi.trips` over the Parquet copy (the warm Spark server)."""
    from headrace.compute.warm import ensure_warm, take_lease

    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise HeadraceError(
            "pyspark is not installed: the Spark catalog's copy needs it (--no-spark skips it)"
        ) from None
    take_lease(home)
    session = SparkSession.builder.remote(ensure_warm(home).remote).getOrCreate()
    location = (samples_dir(home) / "nyctaxi" / "trips").as_uri()
    comment = NOTICE.replace("'", "\\'")
    session.sql(f"CREATE SCHEMA IF NOT EXISTS nyctaxi COMMENT '{comment}'")
    session.sql("DROP TABLE IF EXISTS nyctaxi.trips")
    session.sql(
        f"CREATE TABLE nyctaxi.trips USING parquet LOCATION '{location}' COMMENT '{comment}'"
    )
    session.stop()
