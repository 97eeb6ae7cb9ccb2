"""sql_task settings: inline query_text or a file; what Headrace cannot run is named at validation."""

from __future__ import annotations

from typing import Any

import pytest

from headrace.spec.models import JobSettings
from headrace.spec.validate import MAX_QUERY_TEXT_CHARS, validate_job


def issues(sql_task: dict[str, Any], **job: Any) -> list[str]:
    settings = JobSettings.model_validate(
        {"tasks": [{"task_key": "q", "sql_task": sql_task}], **job}
    )
    return [str(issue) for issue in validate_job(settings)]


def test_inline_sql_and_files_are_valid_and_the_warehouse_defaults_to_default() -> None:
    assert issues({"query": {"query_text": "SELECT :day"}, "parameters": {"day": "x"}}) == []
    assert issues({"warehouse_id": "analytics", "file": {"path": "/q.sql"}}) == []
    job = JobSettings.model_validate(
        {"tasks": [{"task_key": "q", "sql_task": {"query": {"query_text": "SELECT 1"}}}]}
    )
    assert job.tasks[0].sql_task is not None
    assert job.tasks[0].sql_task.warehouse_id == "default"


def test_saved_queries_are_not_supported_and_say_what_to_do() -> None:
    assert issues({"warehouse_id": "w", "query": {"query_id": "abc"}}) == [
        "tasks[0].sql_task.query.query_id: saved queries are not supported; put the SQL inline "
        "in sql_task.query.query_text or in a file (sql_task.file.path)"
    ]


@pytest.mark.parametrize("kind", ["alert", "dashboard"])
def test_alerts_and_dashboards_are_not_supported(kind: str) -> None:
    [issue] = issues({"warehouse_id": "w", kind: {f"{kind}_id": "1"}})
    assert issue.startswith(f"tasks[0].sql_task.{kind}: SQL {kind}s are not supported; ")


def test_query_needs_exactly_one_of_query_id_and_query_text() -> None:
    assert issues({"query": {}}) == ["tasks[0].sql_task.query: set query_text (the SQL to run)"]
    assert issues({"query": {"query_id": "1", "query_text": "SELECT 1"}}) == [
        "tasks[0].sql_task.query: set query_id or query_text, not both"
    ]


def test_empty_and_oversized_inline_sql_are_rejected() -> None:
    assert issues({"query": {"query_text": "  \n"}}) == [
        "tasks[0].sql_task.query.query_text: is empty"
    ]
    [issue] = issues({"query": {"query_text": "x" * (MAX_QUERY_TEXT_CHARS + 1)}})
    assert issue.startswith("tasks[0].sql_task.query.query_text: is 16385 characters;")
    assert "sql_task.file.path" in issue


def test_references_are_never_pasted_into_sql() -> None:
    [issue] = issues(
        {"query": {"query_text": "SELECT * FROM t WHERE day = '{{job.parameters.day}}'"}},
        parameters=[{"name": "day", "default": "2026-11-23"}],
    )
    assert issue == (
        "tasks[0].sql_task.query.query_text: '{{job.parameters.day}}' would be pasted into the "
        "SQL; bind it instead: sql_task.parameters: {day: '{{job.parameters.day}}'} and write :day"
    )


def test_references_in_parameters_are_the_way_to_pass_values() -> None:
    sql = {
        "query": {"query_text": "SELECT * FROM t WHERE day = :day"},
        "parameters": {"day": "{{job.parameters.day}}"},
    }
    assert issues(sql, parameters=[{"name": "day", "default": "2026-11-23"}]) == []
