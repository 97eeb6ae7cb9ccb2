"""Jobs API 2.0/2.1 request forms, turned into the settings a run starts with.

- run-now's legacy task parameters (`notebook_params`, `python_params`, `python_named_params`,
  `jar_params`, `spark_submit_params`, `sql_params`, `dbt_commands`, `pipeline_params`) apply
  to every task of the matching type, as on Databricks: `notebook_params` and `sql_params` are
  merged over the task's own (run-now wins), the list forms replace the task's list. They
  cannot be combined with `job_parameters` on a job that defines parameters.
- run-now's `only` runs a subset of the job's tasks; dependencies on left-out tasks are dropped.
- runs/submit's single-task form (a task type, `new_cluster`, `existing_cluster_id`,
  `libraries`, `timeout_seconds` at the top level, as Airflow's classic
  `DatabricksSubmitRunOperator` sends) is one task keyed by the run name; Jobs API 2.0 job
  settings in that form (`databricks jobs create` of the legacy CLI) are one task keyed by the
  job name.
"""

from __future__ import annotations

import re
from typing import Any

from headrace.errors import SpecError, SpecIssue

# (run-now field, task type, task field, how: "merge" a map or "replace" a list/value)
LEGACY_PARAMS = (
    ("notebook_params", "notebook_task", "base_parameters", "merge"),
    ("python_params", "spark_python_task", "parameters", "replace"),
    ("python_named_params", "python_wheel_task", "named_parameters", "replace"),
    ("jar_params", "spark_jar_task", "parameters", "replace"),
    ("spark_submit_params", "spark_submit_task", "parameters", "replace"),
    ("sql_params", "sql_task", "parameters", "merge"),
    ("dbt_commands", "dbt_task", "commands", "replace"),
    ("pipeline_params", "pipeline_task", "full_refresh", "pipeline"),
)
_MAPS = {"notebook_params", "python_named_params", "sql_params"}
_MAX_LEGACY_BYTES = 10_000  # Databricks' limit on each legacy field's JSON

# The task fields of a single-task runs/submit body (Jobs API 2.0 `SubmitRun`).
SINGLE_TASK_FIELDS = (
    "notebook_task", "spark_python_task", "python_wheel_task", "spark_jar_task",
    "spark_submit_task", "sql_task", "dbt_task", "pipeline_task", "shell_command_task",
    "run_job_task", "condition_task", "for_each_task",
    "new_cluster", "existing_cluster_id", "libraries", "environment_key", "max_retries",
    "min_retry_interval_millis", "retry_on_timeout", "compute",
)  # fmt: skip
DEFAULT_TASK_KEY = "submit_task"
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def _bad(name: str, reason: str) -> SpecError:
    return SpecError([SpecIssue(name, reason)])


def _legacy_value(body: dict[str, Any], name: str) -> Any:
    """A legacy parameter field checked for shape; None when absent or empty."""
    import json

    value = body.get(name)
    if value is None or value == {} or value == []:
        return None
    if name == "pipeline_params":
        if not isinstance(value, dict) or not isinstance(value.get("full_refresh", False), bool):
            raise _bad(name, 'must be {"full_refresh": true|false}')
    elif name in _MAPS:
        if not isinstance(value, dict):
            raise _bad(name, "must be an object of name: value")
        value = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}
    elif not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(name, "must be a list of strings")
    if len(json.dumps(value)) > _MAX_LEGACY_BYTES:
        raise _bad(name, f"must be at most {_MAX_LEGACY_BYTES} bytes of JSON")
    return value


def apply_legacy_params(
    settings: dict[str, Any], body: dict[str, Any], *, has_job_params: bool
) -> dict[str, Any]:
    """`settings` with run-now's legacy task parameters applied to its tasks. Raises: SpecError."""
    given = {name: _legacy_value(body, name) for name, *_ in LEGACY_PARAMS}
    given = {k: v for k, v in given.items() if v is not None}
    if not given:
        return settings
    if has_job_params and settings.get("parameters"):
        raise SpecError(
            [
                SpecIssue(
                    name,
                    "cannot be combined with job_parameters on a job that defines "
                    "parameters; pass job_parameters only",
                )
                for name in sorted(given)
            ]
        )
    return {**settings, "tasks": [_override_task(t, given) for t in settings.get("tasks", [])]}


def _override_task(task: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    task = dict(task)
    for name, task_type, field, how in LEGACY_PARAMS:
        if name not in given or task_type not in task:
            continue
        current = dict(task[task_type] or {})
        if how == "merge":
            current[field] = {**(current.get(field) or {}), **given[name]}
        elif how == "pipeline":
            current["full_refresh"] = bool(given[name].get("full_refresh", False))
        else:
            current[field] = given[name]
            if task_type == "python_wheel_task":  # named and positional do not mix
                current.pop("parameters", None)
        task[task_type] = current
    if "for_each_task" in task:  # the nested task takes them too
        loop = dict(task["for_each_task"])
        if isinstance(loop.get("task"), dict):
            loop["task"] = _override_task(loop["task"], given)
        task["for_each_task"] = loop
    return task


def select_only(settings: dict[str, Any], only: Any) -> dict[str, Any]:
    """`settings` keeping only the tasks named in `only` (dependencies on the others dropped).

    Raises: SpecError (not a list of task keys, or a key the job does not have)."""
    if only is None or only == []:
        return settings
    if not isinstance(only, list) or not all(isinstance(k, str) for k in only):
        raise _bad("only", "must be a list of task keys")
    tasks = settings.get("tasks", [])
    known = {t.get("task_key") for t in tasks}
    missing = [k for k in only if k not in known]
    if missing:
        raise SpecError(
            [
                SpecIssue(
                    "only",
                    f"the job has no task {k!r} (tasks: {', '.join(sorted(map(str, known)))})",
                )
                for k in missing
            ]
        )
    keep = set(only)
    chosen = []
    for task in tasks:
        if task.get("task_key") not in keep:
            continue
        deps = [d for d in task.get("depends_on") or [] if d.get("task_key") in keep]
        chosen.append({**task, "depends_on": deps})
    return {**settings, "tasks": chosen}


def single_task_form(body: dict[str, Any], *, name_field: str = "run_name") -> dict[str, Any]:
    """A runs/submit body (or Jobs API 2.0 job settings, `name_field="name"`) in the
    single-task form rewritten with one `tasks` entry, keyed by the run's (job's) name.

    Bodies with `tasks` (or without any task field) are returned unchanged.
    Raises: SpecError (both forms at once)."""
    if not isinstance(body, dict):
        return body
    present = [k for k in SINGLE_TASK_FIELDS if k in body]
    if not present:
        return body
    if body.get("tasks"):
        raise _bad(present[0], "give either tasks or a single task's fields, not both")
    task: dict[str, Any] = {k: body[k] for k in present}
    task["task_key"] = _task_key(body.get(name_field))
    if body.get("timeout_seconds") is not None:
        task["timeout_seconds"] = body["timeout_seconds"]
    rest = {k: v for k, v in body.items() if k not in present}
    return {**rest, "tasks": [task]}


def _task_key(run_name: Any) -> str:
    """The run name as a task key (letters, digits, `-`, `_`; at most 100), or a default."""
    if not isinstance(run_name, str):
        return DEFAULT_TASK_KEY
    key = _KEY_UNSAFE.sub("_", run_name).strip("_")[:100]
    return key or DEFAULT_TASK_KEY
