"""A run's settings parsed once: tasks by key, the planner's DAG, parameter definitions."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
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


# Plans of the settings texts seen last: every run of a job snapshots the same text, and each
# process that creates or advances runs would otherwise parse it again per run (issue 18).
# Plans are only read (the coordinator shares one per run already); text keys are exact.
MAX_PLANS = 64
_plans: OrderedDict[str, RunPlan] = OrderedDict()
_plans_lock = threading.Lock()


def plan_from_json(settings_json: str) -> RunPlan:
    """Parse a stored settings snapshot (the coordinator caches it per run and repair)."""
    with _plans_lock:
        plan = _plans.get(settings_json)
        if plan is not None:
            _plans.move_to_end(settings_json)
            return plan
    plan = RunPlan.of(JobSettings.model_validate(json.loads(settings_json)))
    with _plans_lock:
        _plans[settings_json] = plan
        while len(_plans) > MAX_PLANS:
            _plans.popitem(last=False)
    return plan


def settings_to_json(settings: JobSettings) -> str:
    """The stored form of settings: Jobs API JSON without nulls."""
    return json.dumps(settings.model_dump(mode="json", exclude_none=True))
