"""Jobs API 2.0/2.1 request forms: legacy run-now parameters, `only`, single-task forms."""

from __future__ import annotations

import pytest

from headrace.engine.run_overrides import apply_legacy_params, select_only, single_task_form
from headrace.errors import SpecError

JOB = {
    "name": "j",
    "tasks": [
        {"task_key": "nb", "notebook_task": {"notebook_path": "/n", "base_parameters": {"a": "1", "b": "2"}}},
        {"task_key": "py", "depends_on": [{"task_key": "nb"}], "spark_python_task": {"python_file": "/p.py", "parameters": ["x"]}},
        {"task_key": "whl", "python_wheel_task": {"package_name": "p", "entry_point": "e", "parameters": ["y"]}},
        {"task_key": "sql", "depends_on": [{"task_key": "py"}], "sql_task": {"parameters": {"d": "1"}}},
        {"task_key": "dbt", "dbt_task": {"commands": ["dbt run"]}},
        {"task_key": "dlt", "pipeline_task": {"pipeline_id": "p"}},
        {"task_key": "jar", "spark_jar_task": {"main_class_name": "M", "parameters": ["z"]}},
        {"task_key": "loop", "for_each_task": {"inputs": "[1]", "task": {"task_key": "in", "notebook_task": {"notebook_path": "/n"}}}},
    ],
}  # fmt: skip


def _tasks(settings):
    return {t["task_key"]: t for t in settings["tasks"]}


def test_each_legacy_field_reaches_its_task_type():
    body = {
        "notebook_params": {"b": "B", "c": 3},
        "python_params": ["p1"],
        "python_named_params": {"k": "v"},
        "jar_params": ["j1"],
        "sql_params": {"e": "E"},
        "dbt_commands": ["dbt build"],
        "pipeline_params": {"full_refresh": True},
    }
    tasks = _tasks(apply_legacy_params(JOB, body, has_job_params=False))
    # notebook_params merge over base_parameters (run-now wins); values become strings
    assert tasks["nb"]["notebook_task"]["base_parameters"] == {"a": "1", "b": "B", "c": "3"}
    assert tasks["loop"]["for_each_task"]["task"]["notebook_task"]["base_parameters"]["b"] == "B"
    assert tasks["py"]["spark_python_task"]["parameters"] == ["p1"]
    assert tasks["whl"]["python_wheel_task"] == {"package_name": "p", "entry_point": "e", "named_parameters": {"k": "v"}}  # fmt: skip
    assert tasks["jar"]["spark_jar_task"]["parameters"] == ["j1"]
    assert tasks["sql"]["sql_task"]["parameters"] == {"d": "1", "e": "E"}
    assert tasks["dbt"]["dbt_task"]["commands"] == ["dbt build"]
    assert tasks["dlt"]["pipeline_task"]["full_refresh"] is True
    assert JOB["tasks"][0]["notebook_task"]["base_parameters"] == {"a": "1", "b": "2"}  # untouched


def test_legacy_fields_checked_and_refused_next_to_job_parameters():
    with pytest.raises(SpecError, match="python_params: must be a list of strings"):
        apply_legacy_params(JOB, {"python_params": "x"}, has_job_params=False)
    with pytest.raises(SpecError, match="at most 10000 bytes"):
        apply_legacy_params(JOB, {"jar_params": ["x" * 10_001]}, has_job_params=False)
    with_params = {**JOB, "parameters": [{"name": "p", "default": "1"}]}
    with pytest.raises(SpecError, match="notebook_params: cannot be combined with job_parameters"):
        apply_legacy_params(with_params, {"notebook_params": {"a": "b"}}, has_job_params=True)
    assert apply_legacy_params(JOB, {"python_params": []}, has_job_params=True) is JOB


def test_only_keeps_named_tasks_and_drops_edges_to_the_others():
    chosen = select_only(JOB, ["nb", "sql"])
    assert [t["task_key"] for t in chosen["tasks"]] == ["nb", "sql"]
    assert _tasks(chosen)["sql"]["depends_on"] == []
    assert select_only(JOB, None) is JOB
    with pytest.raises(SpecError, match="the job has no task 'zz'"):
        select_only(JOB, ["zz"])


def test_single_task_forms():
    body = {
        "run_name": "nightly run!",
        "existing_cluster_id": "c",
        "notebook_task": {"notebook_path": "/n"},
        "timeout_seconds": 5,
        "idempotency_token": "t",
    }
    out = single_task_form(body)
    assert out["tasks"] == [{"existing_cluster_id": "c", "notebook_task": {"notebook_path": "/n"}, "task_key": "nightly_run", "timeout_seconds": 5}]  # fmt: skip
    assert out["idempotency_token"] == "t" and "notebook_task" not in out
    assert single_task_form({"tasks": []}) == {"tasks": []}
    assert single_task_form({"spark_python_task": {"python_file": "/p"}})["tasks"][0]["task_key"] == "submit_task"  # fmt: skip
    job = single_task_form({"name": "etl", "max_retries": 2, "spark_python_task": {}}, name_field="name")  # fmt: skip
    assert job["tasks"][0] == {"max_retries": 2, "spark_python_task": {}, "task_key": "etl"}
    with pytest.raises(SpecError, match="notebook_task: give either tasks"):
        single_task_form({"notebook_task": {}, "tasks": [{"task_key": "a"}]})
