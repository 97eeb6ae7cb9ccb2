"""Plan preview, pure: the clusters and environments it shows are the ones a run would use,
asked of the same lists the compute layer and the coordinator use (a new Spark task type is
never forgotten here)."""

from __future__ import annotations

from typing import Any

import pytest

from headrace.engine.plan_preview import preview
from headrace.engine.task_starts import ENVIRONMENT_TASK_TYPES
from headrace.spec.compute import SPARK_TASK_TYPES
from headrace.spec.loader import parse_job_settings

# The least settings of each task type the lists name (a new type in them needs one here).
SAMPLE_SETTINGS: dict[str, dict[str, Any]] = {
    "notebook_task": {"notebook_path": "nb.py"},
    "spark_python_task": {"python_file": "x.py"},
    "python_wheel_task": {"package_name": "p", "entry_point": "main"},
    "spark_jar_task": {"main_class_name": "com.example.Main"},
    "spark_submit_task": {"parameters": ["x.py"]},
    "pipeline_task": {"pipeline_id": "p"},
    "dbt_task": {"commands": ["dbt run"]},
    "shell_command_task": {"command": "true"},
}


def _plan(task_type: str, **task: Any) -> dict[str, Any]:
    settings = parse_job_settings(
        {
            "name": "previewed",
            "job_clusters": [{"job_cluster_key": "shared", "new_cluster": {"num_workers": 0}}],
            "environments": [{"environment_key": "e", "spec": {"client": "1"}}],
            "tasks": [{"task_key": "t", task_type: SAMPLE_SETTINGS[task_type], **task}],
        }
    )
    return preview(settings)


@pytest.mark.parametrize("task_type", sorted(SPARK_TASK_TYPES))
def test_every_spark_task_type_uses_the_clusters_it_names(task_type: str) -> None:
    job = _plan(task_type, job_cluster_key="shared")
    assert [c["tasks"] for c in job["clusters"]] == [["t"]]
    named = _plan(task_type, existing_cluster_id="c1")
    used = [(c["cluster_id"], c["tasks"]) for c in named["clusters"] if c["tasks"]]
    assert used == [("c1", ["t"])]


def test_a_task_type_without_spark_uses_no_cluster_it_names() -> None:
    assert "shell_command_task" not in SPARK_TASK_TYPES
    for named in ({"existing_cluster_id": "c1"}, {"job_cluster_key": "shared"}):
        clusters = _plan("shell_command_task", **named)["clusters"]
        # only the declared job cluster, which no task would start
        assert [(c["kind"], c["tasks"]) for c in clusters] == [("job_cluster", [])]


@pytest.mark.parametrize("task_type", sorted(ENVIRONMENT_TASK_TYPES))
def test_every_task_type_that_builds_its_environment_is_shown_using_it(task_type: str) -> None:
    [env] = _plan(task_type, environment_key="e")["environments"]
    assert env["tasks"] == ["t"]
