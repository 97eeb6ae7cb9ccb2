"""Databricks' `{{name}}` parameters in SQL files and query text: a string literal where written
bare, text inside quotes or backquotes (as Databricks' text parameters), never in comments."""

from __future__ import annotations

from support import Headrace

from .helpers import last_attempt, output_of, result_of, results, task


def test_brace_parameters_in_a_sql_file_take_task_and_job_parameters(hr: Headrace) -> None:
    # As Databricks' SQL templates write them: names in backquotes or IDENTIFIER(...), values
    # bare (string literals) or inside a string, next to a bound :marker.
    hr.write(
        "sql/daily.sql",
        """
        -- {{not_a_parameter}} in a comment is left alone
        CREATE SCHEMA IF NOT EXISTS IDENTIFIER({{ schema }});
        CREATE OR REPLACE TABLE `{{schema}}`.visits AS
          SELECT * FROM (VALUES ('2026-11-23', 3), ('2026-11-24', 9)) v(day, n);
        SELECT n FROM `{{schema}}`.visits WHERE day = {{day}} AND '{{day}}' = day AND n >= :least;
        """,
    )
    job = hr.write(
        "job.yml",
        """
        name: braces
        parameters:
          - {name: day, default: "2026-11-24"}
        tasks:
          - task_key: daily
            sql_task:
              file: {path: sql/daily.sql}
              parameters: {schema: reports, least: "5"}
        """,
    )
    _, run = hr.run_json(job, expect=0)
    query = output_of(run, "daily")["sql_output"]["query_output"]
    assert query["result"]["rows"] == [[9]]
    # A run-now value of a job parameter reaches the text too.
    _, run = hr.run_json(job, "--param", "day=2026-11-23", expect=0)
    assert output_of(run, "daily")["sql_output"]["query_output"]["result"]["rows"] == []


def test_brace_parameters_in_query_text(hr: Headrace) -> None:
    job = hr.write(
        "job.yml",
        """
        name: inline
        tasks:
          - task_key: q
            sql_task:
              query: {query_text: "SELECT '{{greeting}}, ' || {{ who }} AS said"}
              parameters: {greeting: "it's", who: "'); DROP TABLE t; --"}
        """,
    )
    _, run = hr.run_json(job, expect=0)
    rows = output_of(run, "q")["sql_output"]["query_output"]["result"]["rows"]
    assert rows == [["it's, '); DROP TABLE t; --"]]  # quotes in values cannot end the literal


TEMPLATE = """
USE CATALOG `{{catalog}}`;
USE IDENTIFIER({{schema}});
CREATE OR REPLACE TABLE orders_daily AS
SELECT * FROM (VALUES (DATE '2019-08-02', 1), (DATE '2020-01-01', 2)) o(order_date, n)
WHERE if(
  {{bundle_target}} = 'prod',
  true,
  order_date >= '2019-08-01' AND order_date < '2019-09-01'
);
SELECT count(*) AS n FROM main.someone.orders_daily;
"""


def test_the_default_sql_template_shape(hr: Headrace) -> None:
    # Databricks' default-sql template's SQL files (catalog and schema from job parameters,
    # the target compared as a string), on the DuckDB warehouse's catalogs.
    hr.write("orders_daily.sql", TEMPLATE)
    job = hr.write(
        "job.yml",
        """
        name: template
        parameters:
          - {name: catalog, default: main}
          - {name: schema, default: someone}
          - {name: bundle_target, default: dev}
        tasks:
          - task_key: setup
            sql_task: {query: {query_text: "CREATE SCHEMA IF NOT EXISTS main.someone"}}
          - task_key: orders_daily
            depends_on: [{task_key: setup}]
            sql_task: {file: {path: orders_daily.sql}}
        """,
    )
    _, run = hr.run_json(job, expect=0)
    rows = output_of(run, "orders_daily")["sql_output"]["query_output"]["result"]["rows"]
    assert rows == [[1]]
    _, run = hr.run_json(job, "--param", "bundle_target=prod", expect=0)
    rows = output_of(run, "orders_daily")["sql_output"]["query_output"]["result"]["rows"]
    assert rows == [[2]]


def test_a_brace_parameter_nobody_gives_fails_before_any_statement(hr: Headrace) -> None:
    hr.write(
        "missing.sql",
        "CREATE TABLE made (x INT);\nSELECT * FROM {{catalog}}.{{schema}}.t;\n",
    )
    job = hr.write(
        "job.yml",
        """
        name: missing
        tasks:
          - task_key: q
            sql_task:
              file: {path: missing.sql}
              parameters: {schema: s}
        """,
    )
    _, run = hr.run_json(job, expect=1)
    assert results(run) == {"q": "FAILED"}
    message = task(run, "q")["state"]["state_message"]
    assert "{{catalog}}" in message and "given: schema" in message, message
    assert result_of(task(run, "q")) == "FAILED"
    assert last_attempt(run, "q")  # it ran and failed in the task, not in the engine
    # Nothing ran: the first statement's table does not exist.
    check = hr.write(
        "check.yml",
        """
        name: check
        tasks:
          - task_key: c
            sql_task: {query: {query_text: "SELECT count(*) FROM made"}}
        """,
    )
    _, run = hr.run_json(check, expect=1)
    assert "made" in task(run, "c")["state"]["state_message"]


def test_a_parameter_holding_a_dynamic_reference_is_resolved_first(hr: Headrace) -> None:
    job = hr.write(
        "job.yml",
        """
        name: refs
        tasks:
          - task_key: q
            sql_task:
              query: {query_text: "SELECT {{rid}} AS run_id"}
              parameters: {rid: "{{job.run_id}}"}
        """,
    )
    _, run = hr.run_json(job, expect=0)
    value = output_of(run, "q")["sql_output"]["query_output"]["result"]["rows"][0][0]
    assert value == str(run["run_id"])  # a string literal, as Databricks' text parameters
