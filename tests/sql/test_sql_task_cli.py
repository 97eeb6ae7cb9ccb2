"""sql_task end to end: the real `headrace` CLI runs SQL tasks on DuckDB and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from pg_support import PG_URL, with_search_path
from support import Headrace

from .helpers import last_attempt, output_of, result_of, results, task

PIPELINE = """
name: sql-pipeline
parameters:
  - {name: day, default: "2026-11-23"}
tasks:
  - task_key: load
    sql_task:
      query:
        query_text: |
          CREATE OR REPLACE TABLE visits (day DATE, page TEXT, n INT);
          INSERT INTO visits VALUES
            ('2026-11-23', 'home', 3), ('2026-11-23', 'docs', 5), ('2026-11-24', 'home', 7);
  - task_key: report
    depends_on: [{task_key: load}]
    sql_task:
      warehouse_id: default
      file: {path: sql/report.sql}
      parameters: {min_views: "4"}
"""

REPORT = """
-- Pages of one day with at least :min_views views (this colon is in a comment).
SELECT page, n AS views
FROM visits
WHERE day = :day AND n >= :min_views::INT
ORDER BY page;
"""


def test_a_sql_pipeline_runs_with_job_parameters_and_shows_rows_in_the_log(
    hr: Headrace,
) -> None:
    hr.write("sql/report.sql", REPORT)
    job = hr.write("pipeline.yml", PIPELINE)
    _, run = hr.run_json(job, expect=0)
    assert results(run) == {"load": "SUCCESS", "report": "SUCCESS"}

    load = output_of(run, "load")["sql_output"]["query_output"]
    assert [s["rows_affected"] for s in load["sql_statements"]] == [None, 3]
    report = output_of(run, "report")["sql_output"]["query_output"]
    assert report["warehouse_id"] == "default"
    assert report["result"]["columns"] == ["page", "views"]
    assert report["result"]["rows"] == [["docs", 5]]

    log = hr("runs", "logs", str(run["run_id"]), "report")
    assert log.returncode == 0, str(log)
    assert "page | views" in log.stdout and "docs | 5" in log.stdout, log.stdout

    # Tables persist in the home: a second run with another day sees yesterday's load.
    _, again = hr.run_json(job, "--param", "day=2026-11-24", expect=0)
    assert output_of(again, "report")["sql_output"]["query_output"]["result"]["rows"] == [
        ["home", 7]
    ]


def test_a_sql_error_fails_the_task_with_the_message_and_the_statement(hr: Headrace) -> None:
    job = hr.write(
        "broken.yml",
        """
        name: broken
        tasks:
          - task_key: boom
            sql_task:
              query:
                query_text: "CREATE TABLE kept_not (a INT); SELECT * FROM missing_table"
          - task_key: after
            depends_on: [{task_key: boom}]
            sql_task: {query: {query_text: "SELECT 1"}}
        """,
    )
    _, run = hr.run_json(job, expect=1)
    assert results(run) == {"boom": "FAILED", "after": "UPSTREAM_FAILED"}
    error = last_attempt(run, "boom")["error"]
    assert error.startswith("WarehouseError: Catalog Error: Table with name missing_table")
    assert "-- in statement 2 of 2: SELECT * FROM missing_table" in error
    check = hr.write(
        "check.yml",
        """
        name: check
        tasks:
          - task_key: q
            sql_task: {query: {query_text: "SELECT * FROM kept_not"}}
        """,
    )
    _, checked = hr.run_json(check, expect=1)
    assert "kept_not does not exist" in last_attempt(checked, "q")["error"]


def test_a_parameter_the_task_does_not_give_is_named(hr: Headrace) -> None:
    job = hr.write(
        "missing.yml",
        """
        name: missing
        tasks:
          - task_key: q
            sql_task:
              query: {query_text: "SELECT :region AS r"}
              parameters: {day: "1"}
        """,
    )
    _, run = hr.run_json(job, expect=1)
    error = last_attempt(run, "q")["error"]
    assert error.startswith(
        "WarehouseError: the SQL uses parameter :region but the task does not give it (given: day)"
    )


def test_unsupported_sql_kinds_are_rejected_before_running(hr: Headrace) -> None:
    job = hr.write(
        "saved.yml",
        """
        name: saved
        tasks:
          - task_key: q
            sql_task: {warehouse_id: abc, query: {query_id: "42"}}
          - task_key: a
            sql_task: {warehouse_id: abc, alert: {alert_id: "7"}}
        """,
    )
    result = hr("run", job)
    assert result.returncode == 2, str(result)
    assert "tasks[0].sql_task.query.query_id: saved queries are not supported" in result.stderr
    assert "tasks[1].sql_task.alert: SQL alerts are not supported" in result.stderr
    assert hr.runs() == []


def test_a_missing_sql_file_fails_the_task_and_names_the_path(hr: Headrace) -> None:
    job = hr.write(
        "nofile.yml",
        """
        name: nofile
        tasks:
          - task_key: q
            sql_task: {file: {path: nowhere.sql}}
        """,
    )
    _, run = hr.run_json(job, expect=1)
    error = last_attempt(run, "q")["error"]
    assert (
        error == f"cannot start task: sql_task.file.path: no such file '{hr.dir / 'nowhere.sql'}'"
    )


def test_an_unknown_warehouse_says_how_to_configure_it(hr: Headrace) -> None:
    job = hr.write(
        "unknown.yml",
        """
        name: unknown
        tasks:
          - task_key: q
            sql_task: {warehouse_id: lakehouse, query: {query_text: "SELECT 1"}}
        """,
    )
    _, run = hr.run_json(job, expect=1)
    error = last_attempt(run, "q")["error"]
    assert "no warehouse named 'lakehouse'" in error
    assert "HEADRACE_WAREHOUSE_LAKEHOUSE_URL" in error and "warehouses.yml" in error


def test_parallel_sql_tasks_share_the_warehouse_without_errors(hr: Headrace) -> None:
    inserts = "\n".join(f"INSERT INTO counts VALUES (:who, {i});" for i in range(30))
    writers = [
        {
            "task_key": f"w{n}",
            "depends_on": [{"task_key": "setup"}],
            "sql_task": {"parameters": {"who": f"w{n}"}, "query": {"query_text": inserts}},
        }
        for n in range(4)
    ]
    total = "SELECT who, count(*) AS c FROM counts GROUP BY who ORDER BY who"
    spec = {
        "name": "parallel",
        "tasks": [
            {
                "task_key": "setup",
                "sql_task": {"query": {"query_text": "CREATE TABLE counts (who TEXT, i INT)"}},
            },
            *writers,
            {
                "task_key": "total",
                "depends_on": [{"task_key": w["task_key"]} for w in writers],
                "sql_task": {"query": {"query_text": total}},
            },
        ],
    }
    job = hr.write("parallel.json", json.dumps(spec))
    _, run = hr.run_json(job, "--slots", "4", expect=0)
    assert set(results(run).values()) == {"SUCCESS"}
    rows = output_of(run, "total")["sql_output"]["query_output"]["result"]["rows"]
    assert rows == [["w0", 30], ["w1", 30], ["w2", 30], ["w3", 30]]


def test_a_timed_out_sql_task_is_killed_and_the_warehouse_stays_usable(hr: Headrace) -> None:
    job = hr.write(
        "slow.yml",
        """
        name: slow
        tasks:
          - task_key: slow
            timeout_seconds: 1
            sql_task:
              query:
                query_text: |
                  CREATE TABLE half_done AS SELECT 1 AS a;
                  SELECT sum(r.range) FROM range(1000000000000) r;
          - task_key: after
            depends_on: [{task_key: slow}]
            run_if: ALL_DONE
            sql_task:
              query: {query_text: "CREATE TABLE later AS SELECT 2 AS b; SELECT * FROM later"}
        """,
    )
    _, run = hr.run_json(job)
    assert result_of(run) == "SUCCESS_WITH_FAILURES"  # `after` ran (ALL_DONE) and succeeded
    assert result_of(task(run, "slow")) == "TIMEDOUT"
    assert result_of(task(run, "after")) == "SUCCESS"
    check = hr.write(
        "check.yml",
        """
        name: check
        tasks:
          - task_key: q
            sql_task: {query: {query_text: "SELECT * FROM half_done"}}
        """,
    )
    _, checked = hr.run_json(check, expect=1)
    assert "half_done does not exist" in last_attempt(checked, "q")["error"]


def test_a_named_postgresql_warehouse(hr: Headrace, pg_schema: str) -> None:
    hr.env["HEADRACE_WAREHOUSE_PG_URL"] = with_search_path(PG_URL, pg_schema)
    job = hr.write(
        "pg.yml",
        """
        name: pg
        parameters:
          - {name: limit, default: "2"}
        tasks:
          - task_key: write
            sql_task:
              warehouse_id: pg
              query:
                query_text: |
                  CREATE TABLE items AS SELECT g AS id, 'item ' || g AS label
                  FROM generate_series(1, 5) AS g;
                  SELECT id, label FROM items ORDER BY id LIMIT :limit::int;
        """,
    )
    _, run = hr.run_json(job, expect=0)
    output = output_of(run, "write")["sql_output"]["query_output"]
    assert output["warehouse_id"] == "pg"
    assert output["sql_statements"][0]["rows_affected"] == 5
    assert output["result"]["rows"] == [[1, "item 1"], [2, "item 2"]]


@pytest.fixture(autouse=True)
def _no_outside_warehouses(hr: Headrace) -> None:
    for name in [k for k in hr.env if k.startswith("HEADRACE_WAREHOUSE")]:
        del hr.env[name]


def test_values_flow_python_to_sql_to_python(hr: Headrace) -> None:
    hr.write(
        "produce.py",
        """
        from headrace.runtime import dbutils

        dbutils.jobs.taskValues.set("threshold", 3)
        """,
    )
    hr.write(
        "consume.py",
        """
        from headrace.warehouse import execute

        result = execute("SELECT count(*) AS big FROM numbers WHERE n > :t", parameters={"t": "5"})
        print("big numbers:", result.rows[0][0])
        """,
    )
    job = hr.write(
        "flow.yml",
        """
        name: flow
        tasks:
          - task_key: produce
            spark_python_task: {python_file: produce.py}
          - task_key: store
            depends_on: [{task_key: produce}]
            sql_task:
              parameters: {threshold: "{{tasks.produce.values.threshold}}"}
              query:
                query_text: |
                  CREATE TABLE numbers AS SELECT range AS n FROM range(10) WHERE range >= :threshold::INT;
          - task_key: consume
            depends_on: [{task_key: store}]
            spark_python_task: {python_file: consume.py}
        """,
    )
    _, run = hr.run_json(job, expect=0)
    assert results(run) == {"produce": "SUCCESS", "store": "SUCCESS", "consume": "SUCCESS"}
    assert output_of(run, "store")["sql_output"]["query_output"]["rows_affected"] == 7
    log = hr("runs", "logs", str(run["run_id"]), "consume")
    assert "big numbers: 4" in log.stdout, log.stdout
