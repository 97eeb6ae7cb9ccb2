"""The job builder's form <-> settings mapping (pure): a round trip loses nothing, fields the
form does not show included; edits land where they should; bad input stays as typed for the
Jobs API's validation to name, and each issue is placed next to its field."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from headrace.errors import SpecError
from headrace.spec.loader import parse_job_settings
from headrace.ui.builder_form import (
    form_from_settings,
    path_of,
    place_issues,
    settings_from_form,
)

DOC: dict[str, Any] = {
    "name": "nightly",
    "description": "d",
    "tags": {"team": "data"},
    "max_concurrent_runs": 2,
    "schedule": {
        "quartz_cron_expression": "0 30 6 * * ?",
        "timezone_id": "Europe/Paris",
        "pause_status": "PAUSED",
    },
    "parameters": [{"name": "day", "default": "today"}],
    "health": {"rules": [{"metric": "RUN_DURATION_SECONDS", "op": "GREATER_THAN", "value": 60}]},
    "email_notifications": {"on_failure": ["ops@example.com"]},
    "job_clusters": [
        {
            "job_cluster_key": "small",
            "new_cluster": {"spark_version": "15.4", "num_workers": 2, "spark_conf": {"a": "b"}},
        }
    ],
    "environments": [
        {"environment_key": "py", "spec": {"client": "1", "dependencies": ["requests==2.32"]}}
    ],
    "access_control_list": [{"group_name": "analysts", "permission_level": "CAN_VIEW"}],
    "git_source": {"git_url": "https://example.com/r.git", "git_branch": "main"},  # not shown
    "tasks": [
        {
            "task_key": "extract",
            "notebook_task": {"notebook_path": "/Users/a/etl", "source": "WORKSPACE"},
            "libraries": [{"pypi": {"package": "x"}}],  # not shown
        },
        {
            "task_key": "check",
            "depends_on": [{"task_key": "extract"}],
            "condition_task": {"op": "EQUAL_TO", "left": "1", "right": "1"},
        },
        {
            "task_key": "each",
            "depends_on": [{"task_key": "check", "outcome": "true"}, {"task_key": "extract"}],
            "for_each_task": {
                "inputs": "[1, 2]",
                "concurrency": 2,
                "task": {
                    "task_key": "each_one",
                    "sql_task": {"warehouse_id": "default", "query": {"query_text": "select 1"}},
                },
            },
            "max_retries": 0,
            "retry_on_timeout": False,
        },
        {"task_key": "jar", "spark_jar_task": {"main_class_name": "M"}, "run_if": "ALL_DONE"},
        {"task_key": "sub", "run_job_task": {"job_id": 7, "job_parameters": {"a": "b"}}},
    ],
}


def test_settings_form_settings_loses_nothing() -> None:
    doc = copy.deepcopy(DOC)
    back, issues = settings_from_form(form_from_settings(doc).fields)
    assert issues == []
    assert back == DOC
    stored = {k: v for k, v in back.items() if k != "access_control_list"}
    parse_job_settings(stored)  # and it is a valid job


def test_edits_land_in_place_and_renames_keep_edges() -> None:
    f = form_from_settings(copy.deepcopy(DOC)).fields
    f["task.0.task_key"] = ["pull"]  # rename: dependents follow (they name rows)
    f["task.4.depends_on"] = ["1"]  # sub after check, only when true
    f["task.4.outcome.1"] = ["true"]
    f["task.3.remove"] = ["1"]  # remove jar
    f["task.1.max_retries"] = ["3"]
    f["trigger_kind"] = ["periodic"]
    f["trigger.periodic.interval"] = ["2"]
    f["trigger.periodic.unit"] = ["HOURS"]
    f["trigger.pause_status"] = ["PAUSED"]
    f["acl.1.who_kind"] = ["user_name"]  # the spare row: a new grant
    f["acl.1.who"] = ["bob"]
    f["acl.1.permission_level"] = ["CAN_MANAGE_RUN"]
    f["param.0.remove"] = ["1"]
    doc, issues = settings_from_form(f)
    assert issues == []
    tasks = {t["task_key"]: t for t in doc["tasks"]}
    assert list(tasks) == ["pull", "check", "each", "sub"]
    assert tasks["check"]["depends_on"] == [{"task_key": "pull"}]
    assert tasks["each"]["depends_on"] == [
        {"task_key": "check", "outcome": "true"},
        {"task_key": "pull"},
    ]
    assert tasks["sub"]["depends_on"] == [{"task_key": "check", "outcome": "true"}]
    assert tasks["check"]["max_retries"] == 3
    assert tasks["pull"]["libraries"] == [{"pypi": {"package": "x"}}]  # unshown, kept
    assert "schedule" not in doc
    assert doc["trigger"] == {
        "pause_status": "PAUSED",
        "periodic": {"interval": 2, "unit": "HOURS"},
    }
    assert doc["access_control_list"][1] == {
        "user_name": "bob",
        "permission_level": "CAN_MANAGE_RUN",
    }
    assert doc["parameters"] == []
    assert doc["git_source"] == DOC["git_source"]


def test_changing_a_task_type_drops_the_old_one() -> None:
    f = form_from_settings(copy.deepcopy(DOC)).fields
    f["task.0.type"] = ["shell_command_task"]
    f["task.0.shell_command_task.command"] = ["echo hi"]
    doc, _ = settings_from_form(f)
    first = doc["tasks"][0]
    assert "notebook_task" not in first and first["shell_command_task"] == {"command": "echo hi"}


def test_bad_input_stays_as_typed_and_the_api_validation_names_its_field() -> None:
    f = form_from_settings(copy.deepcopy(DOC)).fields
    f["task.1.max_retries"] = ["three"]
    f["task.1.condition_task.op"] = ["ROUGHLY"]
    f["schedule.quartz_cron_expression"] = ["every morning"]
    f["task.3.spark_jar_task.yaml"] = ["main_class_name: [unclosed"]
    doc, issues = settings_from_form(f)
    assert [i.path for i in issues] == ["tasks[3].spark_jar_task"]  # not YAML
    assert doc["tasks"][1]["max_retries"] == "three"
    with pytest.raises(SpecError) as err:
        parse_job_settings({k: v for k, v in doc.items() if k != "access_control_list"})
    paths = {i.path for i in err.value.issues}
    assert {"tasks[1].max_retries", "tasks[1].condition_task.op"} <= paths
    model = form_from_settings(doc)
    assert model.value("task.1.max_retries") == "three"  # shown back as typed
    placed = place_issues(err.value.issues, model)
    assert "tasks[1].max_retries" in placed and "tasks[1].condition_task.op" in placed


def test_a_cycle_is_named_by_the_loader_and_placed_on_the_dependencies() -> None:
    f = form_from_settings(copy.deepcopy(DOC)).fields
    f["task.0.depends_on"] = ["2"]  # extract after each: extract -> check -> each -> extract
    doc, _ = settings_from_form(f)
    with pytest.raises(SpecError) as err:
        parse_job_settings({k: v for k, v in doc.items() if k != "access_control_list"})
    cycle = [i for i in err.value.issues if "cycle" in i.message]
    assert cycle
    placed = place_issues(cycle, form_from_settings(doc))
    assert any(p.startswith("tasks[") and p.endswith("depends_on") for p in placed)


def test_field_names_and_paths() -> None:
    assert path_of("task.2.max_retries") == "tasks[2].max_retries"
    assert path_of("task.0.inner.sql_task.warehouse_id") == (
        "tasks[0].for_each_task.task.sql_task.warehouse_id"
    )
    assert path_of("acl.1.permission_level") == "access_control_list[1].permission_level"
    assert path_of("acl.1.who") == "access_control_list[1]"
    assert path_of("health.0.value") == "health.rules[0].value"
    assert path_of("schedule.timezone_id") == "schedule.timezone_id"


def test_empty_fields_mean_absent_and_a_damaged_base_is_said() -> None:
    doc, issues = settings_from_form(
        {
            "base": ["{not json"],
            "name": ["x"],
            "trigger_kind": ["schedule"],
            "schedule.quartz_cron_expression": ["0 0 * * * ?"],
            "task.0.task_key": ["a"],
            "task.0.type": ["shell_command_task"],
            "task.0.shell_command_task.command": ["true"],
            "task.0.max_retries": [""],
        }
    )
    assert [i.path for i in issues] == ["base"]
    assert doc["schedule"] == {"quartz_cron_expression": "0 0 * * * ?", "timezone_id": "UTC"}
    assert doc["tasks"] == [{"task_key": "a", "shell_command_task": {"command": "true"}}]


def test_hand_made_posts_give_field_issues_never_exceptions() -> None:
    """Form posts are user input: odd digits, huge numbers and deep JSON are read as bad
    values (named by validation), never a traceback."""
    fields = form_from_settings(DOC).fields
    hostile = {
        **fields,
        "task.0.depends_on": ["²", "9" * 5000],
        "task.1.orig": ["²"],
        "max_concurrent_runs": ["9" * 5000],
    }
    doc, _ = settings_from_form(hostile)
    assert doc["max_concurrent_runs"] == "9" * 5000  # kept as typed: validation names it
    with pytest.raises(SpecError, match="max_concurrent_runs"):
        parse_job_settings(doc)
    deep = {**fields, "base": ["[" * 100_000 + "]" * 100_000]}
    _, issues = settings_from_form(deep)
    assert [i.path for i in issues] == ["base"]
