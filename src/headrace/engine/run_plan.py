"""A run's settings parsed once: tasks by key, the planner's DAG, parameter definitions."""

from __future__ import annotations

import json
from dataclasses import dataclass

from headrace.engine.planner import Dag, Edge, RunIf, TaskNode
from headrace.spec.models import JobSettings, Task


@dataclass(frozen=True)
class RunPlan:
    """What the coordinator needs of a run's settings, derived once per settings text."""

    settings: JobSettings
    tasks: dict[str, Task]
    dag: Dag

    @classmethod
    def of(cls, settings: JobSettings) -> RunPlan:
        tasks = {t.task_key: t for t in settings.tasks}
        nodes = [
            TaskNode(
                key=t.task_key,
                depends_on=tuple(Edge(d.task_key, d.outcome) for d in t.depends_on),
                run_if=RunIf(t.run_if),
                disabled=t.disabled,
            )
            for t in settings.tasks
        ]
        return cls(settings, tasks, Dag.of(nodes))


def plan_from_json(settings_json: str) -> RunPlan:
    """Parse a stored settings snapshot (the coordinator caches it per run and repair)."""
    return RunPlan.of(JobSettings.model_validate(json.loads(settings_json)))


def settings_to_json(settings: JobSettings) -> str:
    """The stored form of settings: Jobs API JSON without nulls."""
    return json.dumps(settings.model_dump(mode="json", exclude_none=True))
