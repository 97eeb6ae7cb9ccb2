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
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from headrace.errors import HeadraceError, SpecError, SpecIssue
from headrace.samples.datasets import DATASETS, NOTICE, TRIPS_SQL, write_sales_orders

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

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
            # Checked before anything is written: a refusal leaves no half-installed dataset.
            session = _spark_session(home) if spark else None
            try:
                if session is not None:
                    _refuse_foreign_trips(session, home)
                rows = _nyctaxi_duckdb(home)
                say(
                    f"samples.nyctaxi.trips: {rows} SYNTHETIC rows (DuckDB warehouse, Parquet copy)"
                )
                if session is not None:
                    _nyctaxi_spark(session, home)
                    say("nyctaxi.trips: registered in the shared Spark catalog")
            finally:
                if session is not None:
                    session.stop()
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


def _spark_session(home: Path) -> SparkSession:
    """A session on the warm Spark server, whose catalog is the shared one."""
    from headrace.compute.warm import ensure_warm, take_lease

    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise HeadraceError(
            "pyspark is not installed: the Spark catalog's copy needs it (--no-spark skips it)"
        ) from None
    take_lease(home)
    return SparkSession.builder.remote(ensure_warm(home).remote).getOrCreate()


def _refuse_foreign_trips(session: SparkSession, home: Path) -> None:
    """Refuse to replace a `nyctaxi.trips` that Headrace did not write.

    `samples`, `main` and `hive_metastore` are names of one shared catalog, so this table may
    be the user's own `main.nyctaxi.trips`: only a table whose comment is our notice or whose
    data lies under the samples folder is replaced.

    Raises:
        HeadraceError: the table exists and is not ours (names it and what to do).
    """
    if not session.catalog.tableExists("nyctaxi.trips"):
        return
    details = {
        str(row[0]).strip(): str(row[1] or "").strip()
        for row in session.sql("DESCRIBE TABLE EXTENDED nyctaxi.trips").collect()
    }
    comment, location = details.get("Comment", ""), details.get("Location", "")
    if comment.startswith(NOTICE.split(":")[0]) or _under(location, samples_dir(home)):
        return
    raise HeadraceError(
        "the shared Spark catalog already has a table nyctaxi.trips that Headrace did not write "
        f"(location {location or 'managed'!r}, comment {comment or 'none'!r}); it is also "
        "main.nyctaxi.trips and hive_metastore.nyctaxi.trips, so `headrace samples install` "
        "will not replace it. Rename or drop it yourself (e.g. `ALTER TABLE main.nyctaxi.trips "
        "RENAME TO main.nyctaxi.my_trips`), or install without the Spark copy (--no-spark)"
    )


def _under(location: str, folder: Path) -> bool:
    """Whether a table location (`file:/...` URI or path) lies inside `folder`."""
    if not location:
        return False
    parsed = urlparse(location)
    path = Path(unquote(parsed.path)) if parsed.scheme in ("file", "") else None
    return path is not None and path.resolve().is_relative_to(folder.resolve())


def _nyctaxi_spark(session: SparkSession, home: Path) -> None:
    """The shared catalog's `nyctaxi.trips` over the Parquet copy (checked to be ours first)."""
    location = (samples_dir(home) / "nyctaxi" / "trips").as_uri()
    comment = NOTICE.replace("'", "\\'")
    session.sql(f"CREATE SCHEMA IF NOT EXISTS nyctaxi COMMENT '{comment}'")
    session.sql("DROP TABLE IF EXISTS nyctaxi.trips")
    session.sql(
        f"CREATE TABLE nyctaxi.trips USING parquet LOCATION '{location}' COMMENT '{comment}'"
    )
