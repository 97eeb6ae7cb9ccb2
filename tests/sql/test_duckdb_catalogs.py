"""Catalogs on the embedded DuckDB warehouse: CREATE/USE CATALOG, USE SCHEMA, three-part names,
across tasks and runs; and the change log that table_update triggers watch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from headrace.warehouse import WarehouseError, execute
from headrace.warehouse.changes import canonical, read, written_table
from support import Headrace

from .helpers import output_of, results

JOB = """
name: catalogs
tasks:
  - task_key: make
    sql_task:
      query:
        query_text: |
          CREATE CATALOG IF NOT EXISTS sales MANAGED LOCATION 's3://ignored/here';
          CREATE SCHEMA IF NOT EXISTS sales.raw;
          CREATE OR REPLACE TABLE sales.raw.orders AS SELECT 1 AS id, 'main.x.y' AS note;
          CREATE SCHEMA IF NOT EXISTS main.reports;
          CREATE OR REPLACE TABLE main.reports.totals (n INT);
  - task_key: use
    depends_on: [{task_key: make}]
    sql_task:
      query:
        query_text: |
          USE CATALOG sales;
          USE SCHEMA raw;
          INSERT INTO orders VALUES (2, 'two');
          INSERT INTO main.reports.totals SELECT count(*) FROM orders;
          USE CATALOG main;
          SELECT n, (SELECT max(note) FROM sales.raw.orders) AS note FROM reports.totals;
"""


def test_catalogs_schemas_and_three_part_names_across_tasks_and_runs(hr: Headrace) -> None:
    job = hr.write("job.yml", JOB)
    _, run = hr.run_json(job, expect=0)
    assert results(run) == {"make": "SUCCESS", "use": "SUCCESS"}
    rows = output_of(run, "use")["sql_output"]["query_output"]["result"]["rows"]
    assert rows == [[2, "two"]]  # the string 'main.x.y' was not rewritten
    # The catalog is a file of the data directory: a later run sees it by its three-part name.
    assert (hr.home / "warehouse" / "default.catalogs" / "sales.duckdb").is_file()
    later = hr.write(
        "later.yml",
        """
        name: later
        tasks:
          - task_key: read
            sql_task:
              query: {query_text: "SELECT count(*) AS n FROM sales.raw.orders"}
        """,
    )
    _, run = hr.run_json(later, expect=0)
    assert output_of(run, "read")["sql_output"]["query_output"]["result"]["rows"] == [[2]]


def test_catalog_statements_on_the_warehouse_api(home: Path) -> None:
    execute("CREATE CATALOG ops; CREATE SCHEMA ops.logs; CREATE TABLE ops.logs.t (x INT)")
    with pytest.raises(WarehouseError, match="ops"):  # not IF NOT EXISTS: it exists
        execute("CREATE CATALOG ops")
    with pytest.raises(WarehouseError, match="letters, digits"):
        execute('CREATE CATALOG "bad-name"')
    # Unqualified names stay in the main catalog's default schema, as before catalogs.
    execute("CREATE TABLE plain AS SELECT 7 AS v")
    result = execute("SELECT v FROM main.main.plain UNION ALL SELECT count(*) FROM ops.logs.t")
    assert result.to_output()["query_output"]["result"]["rows"] == [[7], [0]]


def test_the_change_log_names_each_written_table(home: Path) -> None:
    execute("CREATE TABLE a (x INT); CREATE SCHEMA s; CREATE TABLE s.b (x INT)")
    execute("INSERT INTO a VALUES (1); SELECT * FROM s.b")
    execute("CREATE CATALOG c; USE CATALOG c; CREATE TABLE t AS SELECT 1 AS x")
    log = read(home / "warehouse")
    assert {k: v["version"] for k, v in log.items()} == {
        "main.default.a": 2,  # created, then one INSERT
        "main.s.b": 1,  # read afterwards: no new version
        "c.default.t": 1,
    }
    assert json.loads((home / "warehouse" / "table_changes.json").read_text())["tables"]
    # A statement that fails writes nothing to the log.
    with pytest.raises(WarehouseError):
        execute("INSERT INTO a VALUES (2); INSERT INTO nowhere VALUES (1)")
    assert read(home / "warehouse")["main.default.a"]["version"] == 2


@pytest.mark.parametrize(
    ("sql", "parts"),
    [
        ("insert into x.y values (1)", ["x", "y"]),
        ("INSERT OR REPLACE INTO t SELECT 1", ["t"]),
        ('UPDATE "My T" SET a = 1', ["My T"]),
        ("delete from c.s.t where 1=1", ["c", "s", "t"]),
        ("CREATE OR REPLACE TABLE IF NOT EXISTS s.t AS SELECT 1", ["s", "t"]),
        ("MERGE INTO t USING u ON t.a = u.a WHEN MATCHED THEN DELETE", ["t"]),
        ("COPY t FROM 'f.csv'", ["t"]),
        ("DROP TABLE IF EXISTS t", ["t"]),
        ("SELECT * FROM t", None),
        ("CREATE VIEW v AS SELECT 1", None),
        ("COPY t TO 'f.csv'", None),
    ],
)
def test_written_table(sql: str, parts: list[str] | None) -> None:
    assert written_table(sql) == parts


def test_canonical_names() -> None:
    assert canonical("Orders") == "main.default.orders"
    assert canonical("s.t") == "main.s.t"
    assert canonical("main.main.t") == "main.default.t"
    assert canonical("`c`.`s`.`t`") == "c.s.t"


def test_databricks_name_forms_on_duckdb(home: Path) -> None:
    # String literals naming the catalog or schema, IDENTIFIER over joined literals, backquotes.
    execute(
        "CREATE SCHEMA IF NOT EXISTS IDENTIFIER('main' || '.' || 'someone');"
        "USE CATALOG 'main'; USE SCHEMA 'someone';"
        "CREATE TABLE `t` AS SELECT 'USE CATALOG x' AS note;"
    )
    result = execute("SELECT note FROM IDENTIFIER('main.someone.t') UNION ALL SELECT 'b'")
    assert result.to_output()["query_output"]["result"]["rows"] == [["USE CATALOG x"], ["b"]]


def test_sql_that_switches_catalog_is_still_one_transaction(tmp_path: Path) -> None:
    """A `USE` does not cost atomicity: a failing statement undoes the ones before it."""
    execute("CREATE CATALOG c1; CREATE SCHEMA c1.s; CREATE TABLE c1.s.t (x INT)", home=tmp_path)
    with pytest.raises(WarehouseError):
        execute(
            "USE CATALOG c1; USE SCHEMA s; INSERT INTO t VALUES (1); INSERT INTO nope VALUES (2)",
            home=tmp_path,
        )
    assert execute("SELECT count(*) AS n FROM c1.s.t", home=tmp_path).rows == [[0]]
    # Writing to two catalogs cannot be one DuckDB transaction: it still runs, statement-wise.
    execute(
        "CREATE TABLE c1.s.u (x INT); INSERT INTO c1.s.t VALUES (3); CREATE TABLE main_t (x INT)",
        home=tmp_path,
    )
    assert execute("SELECT count(*) AS n FROM c1.s.t", home=tmp_path).rows == [[1]]
