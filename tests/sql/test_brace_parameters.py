"""Databricks' `{{name}}` parameters in SQL files and query text: substituted as text."""

from __future__ import annotations

from support import Headrace

from .helpers import last_attempt, output_of, result_of, results, task


def test_brace_parameters_in_a_sql_file_take_task_and_job_parameters(hr: Headrace) -> None:
    # As Databricks' SQL templates write it: the catalog and schema as text, a date as a
    # quoted literal, next to a bound :marker.
    hr.write(
        "sql/daily.sql",
        """
        CREATE SCHEMA IF NOT EXISTS {{ schema }};
        CREATE OR REPLACE TABLE {{schema}}.visits AS
          SELECT * FROM (VALUES ('2026-11-23', 3), ('2026-11-24', 9)) v(day, n);
        SELECT n FROM {{schema}}.visits WHERE day = '{{day}}' AND n >= :least;
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
              query: {query_text: "SELECT '{{greeting}}, ' || '{{ who }}' AS said"}
              parameters: {greeting: hello, who: world}
        """,
    )
    _, run = hr.run_json(job, expect=0)
    rows = output_of(run, "q")["sql_output"]["query_output"]["result"]["rows"]
    assert rows == [["hello, world"]]


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
    assert value == run["run_id"]
