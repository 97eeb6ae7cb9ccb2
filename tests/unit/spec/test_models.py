"""Settings models: defaults, coercions, constraints, task-type helpers, round trips."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from headrace.errors import SpecError
from headrace.spec.models import TASK_TYPES, JobParameterDefinition, JobSettings, Task


def shell(key: str = "a", **extra: object) -> dict[str, object]:
    return {"task_key": key, "shell_command_task": {"command": "true"}, **extra}


def test_defaults_follow_the_jobs_api() -> None:
    job = JobSettings.model_validate({})
    assert job.name == "Untitled"
    assert (job.tasks, job.parameters, job.tags) == ([], [], {})
    assert (job.timeout_seconds, job.max_concurrent_runs) == (0, 1)
    task = Task.model_validate(shell())
    assert task.run_if == "ALL_SUCCESS"
    assert (task.max_retries, task.min_retry_interval_millis, task.timeout_seconds) == (0, 0, 0)
    assert (task.retry_on_timeout, task.disabled, task.depends_on) == (False, False, [])


def test_models_are_frozen() -> None:
    job = JobSettings.model_validate({"name": "x"})
    with pytest.raises(ValidationError):
        job.name = "y"  # type: ignore[misc]


def test_unknown_fields_are_rejected_at_every_level() -> None:
    with pytest.raises(ValidationError, match="depnds_on"):
        Task.model_validate(shell(depnds_on=[]))
    with pytest.raises(ValidationError, match="comand"):
        Task.model_validate({"task_key": "a", "shell_command_task": {"comand": "x"}})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(3, "3"), (2.5, "2.5"), (True, "true"), (False, "false"), (None, ""), ("x", "x")],
)
def test_parameter_defaults_coerce_scalars_to_strings(raw: object, expected: str) -> None:
    assert JobParameterDefinition.model_validate({"name": "p", "default": raw}).default == expected


def test_yaml_dates_become_iso_strings() -> None:
    param = JobParameterDefinition.model_validate({"name": "day", "default": dt.date(2024, 1, 2)})
    assert param.default == "2024-01-02"


def test_int64_ids_sent_as_strings_become_ints() -> None:
    task = Task.model_validate({"task_key": "r", "run_job_task": {"job_id": "123"}})
    assert task.run_job_task is not None and task.run_job_task.job_id == 123
    job = JobSettings.model_validate(
        {
            "health": {
                "rules": [{"metric": "RUN_DURATION_SECONDS", "op": "GREATER_THAN", "value": "60"}]
            }
        }
    )
    assert job.health is not None and job.health.rules[0].value == 60


def test_parameter_lists_and_maps_coerce_values() -> None:
    task = Task.model_validate(
        {
            "task_key": "a",
            "spark_python_task": {"python_file": "a.py", "parameters": [1, True, "x"]},
            "shell_command_task": {"command": "x", "env": {"N": 2}},
        }
    )
    assert task.spark_python_task is not None and task.spark_python_task.parameters == [
        "1",
        "true",
        "x",
    ]
    assert task.shell_command_task is not None and task.shell_command_task.env == {"N": "2"}


def test_yaml_boolean_outcome_becomes_the_api_string() -> None:
    task = Task.model_validate(shell(depends_on=[{"task_key": "c", "outcome": True}]))
    assert task.depends_on[0].outcome == "true"


def test_for_each_inputs_given_as_a_list_become_json_text() -> None:
    task = Task.model_validate(
        {"task_key": "f", "for_each_task": {"inputs": [1, "a", {"k": 2}], "task": shell("inner")}}
    )
    assert task.for_each_task is not None
    assert task.for_each_task.inputs == '[1, "a", {"k": 2}]'
    assert task.for_each_task.concurrency == 1
    assert task.for_each_task.task.task_key == "inner"


@pytest.mark.parametrize(
    "bad",
    [
        {"task_key": "has space"},
        {"task_key": "x" * 101},
        {"max_retries": -2},
        {"timeout_seconds": -1},
        {"run_if": "SOMETIMES"},
        {"depends_on": [{"task_key": "a", "outcome": "maybe"}]},
    ],
)
def test_task_constraints(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Task.model_validate({**shell(), **bad})


def test_task_key_of_100_characters_is_fine() -> None:
    assert Task.model_validate(shell("k" * 100)).task_key == "k" * 100


@pytest.mark.parametrize("concurrency", [0, 101])
def test_for_each_concurrency_is_1_to_100(concurrency: int) -> None:
    with pytest.raises(ValidationError):
        Task.model_validate(
            {
                "task_key": "f",
                "for_each_task": {"inputs": "[]", "concurrency": concurrency, "task": shell()},
            }
        )


@pytest.mark.parametrize(
    "bad",
    [
        {"parameters": [{"name": "a b", "default": ""}]},
        {"parameters": [{"name": "a"}]},
        {"max_concurrent_runs": -1},
        {"trigger": {"periodic": {"interval": 0, "unit": "DAYS"}}},
        {"trigger": {"periodic": {"interval": 1, "unit": "SECONDS"}}},
        {"schedule": {"quartz_cron_expression": "0 0 * * * ?"}},
        {"queue": {}},
        {"continuous": {"task_retry_mode": "ALWAYS"}},
    ],
)
def test_job_constraints(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        JobSettings.model_validate(bad)


def test_parameter_names_allow_dots_and_dashes() -> None:
    job = JobSettings.model_validate({"parameters": [{"name": "my-param.v_2", "default": "x"}]})
    assert job.parameters[0].name == "my-param.v_2"


def test_task_type_names_the_one_set_task_type() -> None:
    task = Task.model_validate(shell())
    assert task.task_type == "shell_command_task"
    assert task.task_type_settings is task.shell_command_task
    loose = Task.model_validate({"task_key": "j", "spark_jar_task": {"main_class_name": "M"}})
    assert loose.task_type == "spark_jar_task"
    assert loose.task_type_settings == {"main_class_name": "M"}


def test_task_type_raises_for_zero_or_two_types() -> None:
    with pytest.raises(SpecError, match="no task type"):
        _ = Task.model_validate({"task_key": "a"}).task_type
    two = Task.model_validate({**shell(), "notebook_task": {"notebook_path": "n"}})
    with pytest.raises(SpecError, match=r"2 task types \(notebook_task, shell_command_task\)"):
        _ = two.task_type


def test_task_types_lists_every_task_type_field() -> None:
    fields = {name for name in Task.model_fields if name.endswith("_task")}
    assert set(TASK_TYPES) == fields


def test_job_task_lookup() -> None:
    job = JobSettings.model_validate({"tasks": [shell("a"), shell("b")]})
    assert job.task("b").task_key == "b"
    with pytest.raises(KeyError):
        job.task("c")


DATABRICKS_JOB = {
    "name": "nightly",
    "description": "all the things",
    "tags": {"team": "data"},
    "max_concurrent_runs": 2,
    "timeout_seconds": 3600,
    "format": "MULTI_TASK",
    "edit_mode": "UI_LOCKED",
    "queue": {"enabled": True},
    "run_as": {"service_principal_name": "sp"},
    "git_source": {"git_url": "https://x/y.git", "git_provider": "gitHub", "git_branch": "main"},
    "job_clusters": [
        {"job_cluster_key": "c", "new_cluster": {"spark_version": "15.4.x", "num_workers": 2}}
    ],
    "environments": [
        {"environment_key": "e", "spec": {"client": "2", "dependencies": ["pandas>=2"]}}
    ],
    "parameters": [{"name": "day", "default": "2024-01-01"}],
    "schedule": {
        "quartz_cron_expression": "0 0 2 * * ?",
        "timezone_id": "UTC",
        "pause_status": "PAUSED",
    },
    "email_notifications": {"on_failure": ["a@example.com"], "no_alert_for_skipped_runs": False},
    "webhook_notifications": {"on_start": [{"id": "w1"}]},
    "notification_settings": {"no_alert_for_canceled_runs": True},
    "health": {"rules": [{"metric": "RUN_DURATION_SECONDS", "op": "GREATER_THAN", "value": 10}]},
    "deployment": {"kind": "BUNDLE", "metadata_file_path": "/x"},
    "performance_target": "STANDARD",
    "tasks": [
        {
            "task_key": "nb",
            "notebook_task": {"notebook_path": "/Users/me/nb", "source": "WORKSPACE"},
            "job_cluster_key": "c",
            "libraries": [{"pypi": {"package": "requests"}}, {"whl": "/x.whl"}],
            "max_retries": 3,
            "min_retry_interval_millis": 1000,
            "notification_settings": {"alert_on_last_attempt": True},
        },
        {
            "task_key": "jar",
            "depends_on": [{"task_key": "nb"}],
            "run_if": "ALL_DONE",
            "spark_jar_task": {"main_class_name": "Main", "parameters": ["1"]},
            "new_cluster": {"spark_version": "15.4.x"},
        },
        {"task_key": "dlt", "pipeline_task": {"pipeline_id": "p", "full_refresh": True}},
        {"task_key": "dbt", "dbt_task": {"commands": ["dbt run"]}, "environment_key": "e"},
        {
            "task_key": "sql",
            "sql_task": {"warehouse_id": "w", "query": {"query_id": "q"}, "parameters": {"a": "1"}},
        },
    ],
}


def test_create_then_get_round_trips_databricks_settings() -> None:
    job = JobSettings.model_validate(DATABRICKS_JOB)
    assert job.model_dump(exclude_unset=True) == DATABRICKS_JOB
    assert JobSettings.model_validate_json(job.model_dump_json()) == job


scalars = st.one_of(
    st.text(max_size=20), st.integers(), st.booleans(), st.floats(allow_nan=False), st.none()
)


@given(scalars)
def test_any_scalar_default_becomes_a_string(value: object) -> None:
    default = JobParameterDefinition.model_validate({"name": "p", "default": value}).default
    assert isinstance(default, str)
    if isinstance(value, str):
        assert default == value
