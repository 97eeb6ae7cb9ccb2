"""Whole-job validation: task types, for_each, wheel/sql rules, schedule and trigger rules."""

from __future__ import annotations

from typing import Any

import pytest

from headrace.spec.models import JobSettings
from headrace.spec.validate import validate_job


def shell(key: str = "a", **extra: Any) -> dict[str, Any]:
    return {"task_key": key, "shell_command_task": {"command": "true"}, **extra}


def issues(**settings: Any) -> list[str]:
    return [str(issue) for issue in validate_job(JobSettings.model_validate(settings))]


def test_a_valid_job_has_no_issues() -> None:
    assert (
        issues(
            parameters=[{"name": "n", "default": "3"}],
            schedule={"quartz_cron_expression": "0 0 2 * * ?", "timezone_id": "Europe/Berlin"},
            environments=[{"environment_key": "default", "spec": {"dependencies": ["rich"]}}],
            tasks=[
                shell("a", environment_key="default"),
                {
                    "task_key": "c",
                    "depends_on": [{"task_key": "a"}],
                    "condition_task": {
                        "op": "GREATER_THAN",
                        "left": "{{tasks.a.values.n}}",
                        "right": "{{job.parameters.n}}",
                    },
                },
                shell("b", depends_on=[{"task_key": "c", "outcome": "true"}]),
            ],
        )
        == []
    )


def test_zero_task_types() -> None:
    [issue] = issues(tasks=[{"task_key": "lonely"}])
    assert issue.startswith("tasks[0]: task 'lonely' has no task type; set exactly one of: ")
    assert "shell_command_task" in issue


def test_two_task_types_are_named() -> None:
    both = {**shell("both"), "notebook_task": {"notebook_path": "/n"}}
    assert issues(tasks=[both]) == [
        "tasks[0]: task 'both' has 2 task types (notebook_task, shell_command_task); "
        "set exactly one"
    ]


def test_nested_task_type_rules() -> None:
    loop = {"task_key": "outer", "for_each_task": {"inputs": "[1]", "task": {"task_key": "inner"}}}
    nested = {
        "task_key": "outer2",
        "for_each_task": {
            "inputs": "[1]",
            "task": {"task_key": "mid", "for_each_task": {"inputs": "[1]", "task": shell("x")}},
        },
    }
    assert issues(tasks=[loop, nested]) == [
        "tasks[0].for_each_task.task: task 'inner' has no task type; set exactly one of: "
        + ", ".join(
            [
                "notebook_task",
                "spark_python_task",
                "python_wheel_task",
                "shell_command_task",
                "condition_task",
                "for_each_task",
                "sql_task",
                "run_job_task",
                "spark_jar_task",
                "spark_submit_task",
                "dbt_task",
                "pipeline_task",
            ]
        ),
        "tasks[1].for_each_task.task.for_each_task: "
        "the task of a for_each_task cannot itself be a for_each_task",
    ]


def test_wheel_parameters_and_named_parameters_are_exclusive() -> None:
    wheel = {
        "package_name": "p",
        "entry_point": "main",
        "parameters": ["a"],
        "named_parameters": {"k": "v"},
    }
    assert issues(tasks=[{"task_key": "w", "python_wheel_task": wheel}]) == [
        "tasks[0].python_wheel_task: set parameters or named_parameters, not both"
    ]


def test_sql_task_needs_exactly_one_kind() -> None:
    none = {"task_key": "s", "sql_task": {"warehouse_id": "w"}}
    two = {
        "task_key": "t",
        "sql_task": {"query": {"query_text": "SELECT 1"}, "file": {"path": "/a.sql"}},
    }
    assert issues(tasks=[none, two]) == [
        "tasks[0].sql_task: set exactly one of query, file, alert, dashboard (got none)",
        "tasks[1].sql_task: set exactly one of query, file, alert, dashboard (got query, file)",
    ]


@pytest.mark.parametrize(
    "inputs",
    [
        "[1, 2, 3]",
        '["a", {"k": 1}]',
        "{{job.parameters.items}}",
        " {{ tasks.a.values.list }} ",
        '["{{job.parameters.items}}", 2]',
        "[{{job.parameters.items}}, 2]",
        "[]",
    ],
)
def test_for_each_inputs_that_are_fine(inputs: str) -> None:
    loop = {
        "task_key": "f",
        "depends_on": [{"task_key": "a"}],
        "for_each_task": {"inputs": inputs, "task": shell("x")},
    }
    assert issues(parameters=[{"name": "items", "default": "[]"}], tasks=[shell("a"), loop]) == []


@pytest.mark.parametrize(
    ("inputs", "reason"),
    [
        ("a,b,c", "Expecting value"),
        ('{"a": 1}', "(got a JSON dict)"),
        ("3", "(got a JSON int)"),
        ("prefix {{job.id}}", "Expecting value"),
    ],
)
def test_for_each_inputs_that_are_not_an_array(inputs: str, reason: str) -> None:
    [issue] = issues(
        tasks=[{"task_key": "f", "for_each_task": {"inputs": inputs, "task": shell("x")}}]
    )
    assert issue.startswith(
        "tasks[0].for_each_task.inputs: must be a JSON array like '[1, 2]' or a single reference"
    )
    assert reason in issue


def test_bad_cron_and_bad_timezone() -> None:
    schedule = {"quartz_cron_expression": "0 0 25 * * ?", "timezone_id": "Europe/Berln"}
    assert issues(schedule=schedule) == [
        "schedule.quartz_cron_expression: hour field '25': 25 is out of range 0-23",
        "schedule.timezone_id: unknown time zone 'Europe/Berln' "
        "(use an id like 'UTC' or 'Europe/Berlin')",
    ]


SCHEDULE = {"quartz_cron_expression": "0 0 2 * * ?", "timezone_id": "UTC"}
TRIGGER = {"periodic": {"interval": 1, "unit": "HOURS"}}
ONLY_ONE = "only one of schedule, trigger, continuous, triggers may be set"


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (
            {"schedule": SCHEDULE, "continuous": {}},
            f"continuous: {ONLY_ONE} (got schedule and continuous)",
        ),
        (
            {"schedule": SCHEDULE, "trigger": TRIGGER},
            f"trigger: {ONLY_ONE} (got schedule and trigger)",
        ),
        (
            {"trigger": TRIGGER, "continuous": {"pause_status": "PAUSED"}},
            f"continuous: {ONLY_ONE} (got trigger and continuous)",
        ),
        (
            {"schedule": SCHEDULE, "triggers": [{}]},
            f"triggers: {ONLY_ONE} (got schedule and triggers)",
        ),
    ],
)
def test_ways_of_starting_runs_are_exclusive(settings: dict[str, Any], expected: str) -> None:
    assert issues(**settings) == [expected]


def test_trigger_needs_exactly_one_kind() -> None:
    assert issues(trigger={"pause_status": "PAUSED"}) == [
        "trigger: set exactly one trigger kind: periodic, file_arrival, table_update, table, "
        "job_completion, model, sql_condition (got none)"
    ]
    two = {**TRIGGER, "file_arrival": {"url": "/data"}}
    assert issues(trigger=two)[0].endswith("(got periodic, file_arrival)")


def test_environment_and_cluster_keys_must_exist() -> None:
    assert issues(
        environments=[{"environment_key": "e", "spec": {}}],
        job_clusters=[{"job_cluster_key": "c", "new_cluster": {}}],
        tasks=[
            shell("a", environment_key="f", job_cluster_key="d"),
            shell("b", environment_key="e", job_cluster_key="c"),
        ],
    ) == [
        "tasks[0].environment_key: no environment named 'f' in the job's environments",
        "tasks[0].job_cluster_key: no job cluster named 'd' in the job's job_clusters",
    ]


def test_duplicate_parameter_and_environment_names() -> None:
    assert issues(
        parameters=[{"name": "a", "default": ""}, {"name": "a", "default": "x"}],
        environments=[{"environment_key": "e", "spec": {}}, {"environment_key": "e", "spec": {}}],
    ) == [
        "parameters[1].name: duplicate name 'a' (also parameters[0])",
        "environments[1].environment_key: duplicate environment_key 'e' (also environments[0])",
    ]


def test_every_issue_is_reported_at_once() -> None:
    found = issues(
        parameters=[{"name": "p", "default": "{{job.naem}}"}],
        schedule={"quartz_cron_expression": "bad", "timezone_id": "UTC"},
        continuous={},
        tasks=[
            {"task_key": "a", "depends_on": [{"task_key": "b"}]},
            shell("b", depends_on=[{"task_key": "a"}, {"task_key": "lod"}]),
            shell("b", shell_command_task={"command": "{{job.nope}}"}),
        ],
    )
    paths = sorted(issue.split(": ")[0] for issue in found)
    assert paths == [
        "continuous",
        "parameters[0].default",
        "schedule.quartz_cron_expression",
        "tasks[0]",
        "tasks[0].depends_on[0]",
        "tasks[1].depends_on[1].task_key",
        "tasks[2].shell_command_task.command",
        "tasks[2].task_key",
    ]


def test_task_types_that_cannot_run_do_not_validate() -> None:
    from headrace.spec.validate import NOT_YET_RUNNABLE

    for kind, reason in NOT_YET_RUNNABLE.items():
        inner = {"task_key": "i", kind: {}}
        assert issues(
            tasks=[
                {"task_key": "t", kind: {}},
                {"task_key": "f", "for_each_task": {"inputs": "[1]", "task": inner}},
            ]
        ) == [f"tasks[0].{kind}: {reason}", f"tasks[1].for_each_task.task.{kind}: {reason}"]


def test_dbt_task_fields_are_checked() -> None:
    dbt = {"commands": ["dbt run", "run", 3], "catalog": "c", "source": "S3"}
    assert issues(tasks=[{"task_key": "d", "dbt_task": dbt}]) == [
        "tasks[0].dbt_task.commands[1]: must start with 'dbt' and name a dbt command, "
        "e.g. 'dbt run' (got 'run')",
        "tasks[0].dbt_task.commands[2]: must be a string (got int)",
        "tasks[0].dbt_task.source: must be one of: WORKSPACE, GIT (got 'S3')",
        "tasks[0].dbt_task.catalog: can only be set together with warehouse_id",
    ]
    assert issues(tasks=[{"task_key": "d", "dbt_task": {}}]) == [
        "tasks[0].dbt_task.commands: set a non-empty list of dbt commands, "
        "e.g. ['dbt deps', 'dbt run']"
    ]
