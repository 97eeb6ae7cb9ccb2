"""dbt_task through `headrace run`: dbt-core on the embedded DuckDB warehouse, errors in dbt's
own words, artifacts kept with the attempt, the warehouse lock, for_each, run_if and retries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb

from pg_support import PG_URL
from support import Headrace, wait_for

from .conftest import THREE_MODELS, make_project


def task(run: dict[str, Any], key: str) -> dict[str, Any]:
    return next(t for t in run["tasks"] if t["task_key"] == key)


def result_of(run_or_task: dict[str, Any]) -> str | None:
    return run_or_task["state"].get("result_state")


def attempts(t: dict[str, Any]) -> list[dict[str, Any]]:
    return t.get("attempts", [])


def run_job(hr: Headrace, job: Path, expect: int | None = None) -> dict[str, Any]:
    """`headrace run --json`, with time for a first build of the dbt environment."""
    result = hr("run", job, "--json", timeout=900)
    if expect is not None:
        assert result.returncode == expect, str(result)
    return result.json()


def _warehouse_rows(home: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(home / "warehouse" / "default.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _attempt_dir(home: Path, run_id: int, key: str) -> Path:
    (folder,) = (home / "logs" / str(run_id) / key).iterdir()
    return folder


def test_dbt_run_and_test_on_the_embedded_duckdb_warehouse(dbt_hr: Headrace) -> None:
    project = make_project(
        dbt_hr.dir / "shop",
        THREE_MODELS,
        files={
            "models/schema.yml": """
        version: 2
        models:
          - name: per_customer
            columns:
              - name: customer
                data_tests: [unique, not_null]
        """
        },
    )
    job = dbt_hr.write(
        "dbt.yml",
        f"""
        name: shop
        tasks:
          - task_key: transform
            dbt_task:
              project_directory: {project}
              schema: shop
              commands: ["dbt run", "dbt test"]
        """,
    )
    run = run_job(dbt_hr, job, 0)
    assert result_of(task(run, "transform")) == "SUCCESS"
    rows = _warehouse_rows(dbt_hr.home, "select customers, orders from shop.summary")
    assert rows == [(3, 10)]
    folder = _attempt_dir(dbt_hr.home, run["run_id"], "transform")
    log = (folder / "output.log").read_text()
    assert "Completed successfully" in log and "PASS=2" in log  # dbt's output is the log
    results = json.loads((folder / "target" / "run_results.json").read_text())
    assert {r["unique_id"].split(".")[0] for r in results["results"]} == {"test"}
    output = json.loads((folder / "output.json").read_text())["dbt_output"]
    assert "manifest.json" in output["artifacts"] and "run_results.json" in output["artifacts"]
    assert output["artifacts_link"] == (folder / "target").as_uri()
    assert not (project / "target").exists()  # artifacts stay with the attempt


def test_a_model_error_is_the_task_error_in_dbt_words(dbt_hr: Headrace) -> None:
    project = make_project(
        dbt_hr.dir / "broken",
        {"good.sql": "select 1 as a", "bad.sql": "select no_such_column from {{ ref('good') }}"},
    )
    job = dbt_hr.write(
        "broken.yml",
        f"""
        name: broken
        tasks:
          - task_key: transform
            dbt_task: {{project_directory: {project}, commands: ["dbt run"]}}
        """,
    )
    run = run_job(dbt_hr, job, 1)
    message = task(run, "transform")["state"]["state_message"]
    assert "'dbt run' failed: model bad:" in message, message
    assert "no_such_column" in message, message  # DuckDB's binder error, through dbt


def test_dbt_deps_network_failure_is_explained(dbt_hr: Headrace) -> None:
    project = make_project(
        dbt_hr.dir / "deps",
        {"m.sql": "select 1 as a"},
        files={"packages.yml": "packages:\n  - package: dbt-labs/dbt_utils\n    version: 1.3.0\n"},
    )
    # A hub nobody answers on: the same failure as no network, on any machine.
    dbt_hr.env["DBT_PACKAGE_HUB_URL"] = "http://127.0.0.1:9/"
    job = dbt_hr.write(
        "deps.yml",
        f"""
        name: deps
        tasks:
          - task_key: deps
            dbt_task: {{project_directory: {project}, commands: ["dbt deps", "dbt run"]}}
        """,
    )
    run = run_job(dbt_hr, job, 1)
    message = task(run, "deps")["state"]["state_message"]
    assert message.startswith("'dbt deps' failed: dbt deps could not install the packages"), message


def test_bad_project_directory_names_the_field(dbt_hr: Headrace) -> None:
    job = dbt_hr.write(
        "nowhere.yml",
        f"""
        name: nowhere
        tasks:
          - task_key: t
            dbt_task: {{project_directory: {dbt_hr.dir / "missing"}, commands: ["dbt run"]}}
        """,
    )
    run = run_job(dbt_hr, job, 1)
    message = task(run, "t")["state"]["state_message"]
    assert "dbt_task.project_directory: no dbt_project.yml in" in message, message


def test_bad_commands_do_not_validate(dbt_hr: Headrace) -> None:
    job = dbt_hr.write(
        "bad.yml",
        """
        name: bad
        tasks:
          - task_key: t
            dbt_task: {commands: ["run models"]}
        """,
    )
    result = dbt_hr("validate", job)
    assert result.returncode == 2, str(result)
    assert "tasks[0].dbt_task.commands[0]: must start with 'dbt'" in result.stderr


def test_dbt_waits_for_the_warehouse_lock(dbt_hr: Headrace) -> None:
    from headrace.warehouse.lock import exclusive

    project = make_project(dbt_hr.dir / "locked", {"m.sql": "select 42 as answer"})
    job = dbt_hr.write(
        "locked.yml",
        f"""
        name: locked
        tasks:
          - task_key: t
            dbt_task: {{project_directory: {project}, commands: ["dbt run"]}}
        """,
    )
    database = dbt_hr.home / "warehouse" / "default.duckdb"
    database.parent.mkdir(parents=True)
    with exclusive(database):
        proc = dbt_hr.popen("run", job, "--json")

        def waiting() -> bool:
            logs = list((dbt_hr.home / "logs").rglob("output.log"))
            return any("waiting for the warehouse" in p.read_text() for p in logs)

        wait_for(waiting, 300, "the dbt task to wait for the warehouse lock")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert _warehouse_rows(dbt_hr.home, "select answer from main.m") == [(42,)]


def test_for_each_run_if_and_retries(dbt_hr: Headrace) -> None:
    project = make_project(
        dbt_hr.dir / "many",
        {
            "a.sql": "select 'a' as name",
            "b.sql": "select 'b' as name",
            "flaky.sql": "select * from read_csv('{{ env_var(\"FLAKY_FILE\") }}')",
        },
    )
    dbt_hr.env["FLAKY_FILE"] = str(dbt_hr.dir / "missing.csv")
    job = dbt_hr.write(
        "many.yml",
        f"""
        name: many
        tasks:
          - task_key: each
            for_each_task:
              inputs: '["a", "b"]'
              task:
                task_key: each_model
                dbt_task:
                  project_directory: {project}
                  commands: ["dbt run --select {{{{input}}}}"]
          - task_key: flaky
            depends_on: [{{task_key: each}}]
            max_retries: 1
            dbt_task: {{project_directory: {project}, commands: ["dbt run --select flaky"]}}
          - task_key: on_failure
            depends_on: [{{task_key: flaky}}]
            run_if: AT_LEAST_ONE_FAILED
            dbt_task: {{project_directory: {project}, commands: ["dbt run --select a"]}}
        """,
    )
    run = run_job(dbt_hr, job)
    assert result_of(run) == "SUCCESS_WITH_FAILURES"
    assert result_of(task(run, "each")) == "SUCCESS"
    assert _warehouse_rows(dbt_hr.home, "select name from main.a union all select name from main.b")
    flaky = task(run, "flaky")
    assert result_of(flaky) == "FAILED"
    assert len(attempts(flaky)) == 2
    assert "missing.csv" in flaky["state"]["state_message"]
    assert result_of(task(run, "on_failure")) == "SUCCESS"


def test_postgres_warehouse_maps_to_dbt_postgres(dbt_hr: Headrace, pg_schema: str) -> None:
    project = make_project(dbt_hr.dir / "pg", THREE_MODELS)
    dbt_hr.env["HEADRACE_WAREHOUSE_PG_URL"] = PG_URL
    job = dbt_hr.write(
        "pg.yml",
        f"""
        name: pg
        tasks:
          - task_key: t
            dbt_task:
              project_directory: {project}
              warehouse_id: pg
              schema: {pg_schema}
              commands: ["dbt run"]
        """,
    )
    run = run_job(dbt_hr, job, 0)
    assert result_of(task(run, "t")) == "SUCCESS"
    import psycopg

    with psycopg.connect(PG_URL) as conn:
        row = conn.execute(f'select customers, orders from "{pg_schema}".summary').fetchone()
    assert row == (3, 10)


def test_the_example_runs(dbt_hr: Headrace) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "dbt"
    run = run_job(dbt_hr, example / "job.yml", 0)
    assert result_of(task(run, "report")) == "SUCCESS"
    assert _warehouse_rows(dbt_hr.home, "select * from shop.summary") == [(3, 10)]
    assert not (example / "shop" / "target").exists()


def test_databricks_materializations_and_read_files_run_on_duckdb(dbt_hr: Headrace) -> None:
    """The dbt-sql template's shapes: a streaming table over `stream read_files(...)` in
    Databricks SQL and a materialized view, each rebuilt as a table with a log line saying so;
    a model reading Databricks' sample data that is not here fails naming the dataset."""
    volume = dbt_hr.home / "dbfs" / "Volumes" / "main" / "raw" / "orders"
    volume.mkdir(parents=True)
    (volume / "part-0.json").write_text(
        '{"customer_name": "a", "order_datetime": "1565000000", "order_number": 1}\n'
        '{"customer_name": "b", "order_datetime": "1565100000", "order_number": 2}\n'
    )
    models = {
        "orders_raw.sql": """
            {{ config(materialized = 'streaming_table') }}
            select customer_name,
              date(timestamp(from_unixtime(try_cast(order_datetime as bigint)))) as order_date,
              order_number
            from stream read_files("/Volumes/main/raw/orders/", format => "json")
            """,
        "orders_daily.sql": """
            {{ config(materialized = 'materialized_view') }}
            select order_date, count(*) as number_of_orders
            from {{ ref('orders_raw') }} group by order_date
            """,
    }
    project = make_project(dbt_hr.dir / "dbx", models)
    samples = make_project(
        dbt_hr.dir / "samples",
        {
            "sales.sql": """
                {{ config(materialized = 'streaming_table') }}
                select * from stream read_files(
                  "/databricks-datasets/retail-org/sales_orders/", format => "json")
                """
        },
    )
    job = dbt_hr.write(
        "dbx.yml",
        f"""
        name: dbx
        tasks:
          - task_key: dbx
            dbt_task: {{project_directory: {project}, schema: dbx, commands: ["dbt run"]}}
          - task_key: samples
            dbt_task: {{project_directory: {samples}, commands: ["dbt run"]}}
        """,
    )
    run = run_job(dbt_hr, job, 1)
    assert result_of(task(run, "dbx")) == "SUCCESS"
    rows = _warehouse_rows(
        dbt_hr.home, "select order_date::varchar, number_of_orders from dbx.orders_daily"
    )
    assert sorted(rows) == [("2019-08-05", 1), ("2019-08-06", 1)]
    kinds = _warehouse_rows(
        dbt_hr.home,
        "select table_name, table_type from information_schema.tables "
        "where table_schema = 'dbx' order by 1",
    )
    assert kinds == [("orders_daily", "BASE TABLE"), ("orders_raw", "BASE TABLE")]
    log = (_attempt_dir(dbt_hr.home, run["run_id"], "dbx") / "output.log").read_text()
    assert "materialized='streaming_table' is a Databricks materialization; on duckdb" in log
    assert "materialized='materialized_view' is a Databricks materialization" in log
    assert not (project / "macros").exists() and not (project / "dbt_packages").exists()
    error = task(run, "samples")["state"]["state_message"]
    assert "reads Databricks' sample dataset /databricks-datasets/retail-org/sales_orders/" in error
    assert "Databricks sample data is not part of Headrace" in error
