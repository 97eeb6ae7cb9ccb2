"""Whole-job validation beyond field types: task types, the DAG, references, schedule."""

from __future__ import annotations

import json
from collections.abc import Iterator

from headrace.errors import SpecIssue
from headrace.spec.dag import check_dag
from headrace.spec.models import TRIGGER_KINDS, JobSettings, SqlTask, Task, task_type_message
from headrace.spec.references import (
    find_references,
    render,
    single_reference,
    validate_references,
)

_STARTERS = ("schedule", "trigger", "continuous", "triggers")
_SQL_KINDS = ("query", "file", "alert", "dashboard")
_SQL_INSTEAD = "put the SQL inline in sql_task.query.query_text or in a file (sql_task.file.path)"
# Inline SQL travels on the task process's command line (Linux: 128 KiB for one argument).
MAX_QUERY_TEXT_CHARS = 16 * 1024
# Task types the spec knows but no runner runs yet: a task type that validates must run, so
# validation refuses them instead of letting the run fail later (issue 13 removes them one by one).
NOT_YET_RUNNABLE: dict[str, str] = {}


def validate_job(settings: JobSettings) -> list[SpecIssue]:
    """Every semantic problem in `settings`, all at once (empty when the job is valid)."""
    issues: list[SpecIssue] = []
    environments = {e.environment_key for e in settings.environments}
    clusters = {c.get("job_cluster_key") for c in settings.job_clusters or ()}
    for i, task in enumerate(settings.tasks):
        issues += _task_issues(task, f"tasks[{i}]", environments, clusters, nested=False)
    issues += check_dag(settings.tasks)
    issues += validate_references(settings)
    issues += _duplicates([p.name for p in settings.parameters], "parameters", "name")
    keys = [e.environment_key for e in settings.environments]
    issues += _duplicates(keys, "environments", "environment_key")
    issues += _starter_issues(settings)
    return issues


def _task_issues(
    task: Task, path: str, environments: set[str], clusters: set[object], *, nested: bool
) -> list[SpecIssue]:
    """Problems inside one task, and inside its for_each nested task."""
    issues = [
        SpecIssue(f"{path}{field}", message)
        for field, message in _task_problems(task, environments, clusters, nested)
    ]
    if task.for_each_task is not None and not nested:
        inner = f"{path}.for_each_task.task"
        issues += _task_issues(task.for_each_task.task, inner, environments, clusters, nested=True)
    return issues


def _task_problems(
    task: Task, environments: set[str], clusters: set[object], nested: bool
) -> Iterator[tuple[str, str]]:
    """(field path suffix, reason) for each problem in one task's own settings."""
    types = task.task_types
    if len(types) != 1:
        yield "", task_type_message(task.task_key, types)
    for kind in types:
        if kind in NOT_YET_RUNNABLE:
            yield f".{kind}", NOT_YET_RUNNABLE[kind]
    wheel = task.python_wheel_task
    if wheel is not None and wheel.parameters is not None and wheel.named_parameters is not None:
        yield ".python_wheel_task", "set parameters or named_parameters, not both"
    if task.sql_task is not None:
        yield from _sql_task_problems(task.sql_task)
    # Modules a job without that part never needs load only when it has one (start-up, issue 18).
    if task.dbt_task is not None:
        from headrace.spec.tool_tasks import dbt_task_problems

        yield from ((f".dbt_task{f}", r) for f, r in dbt_task_problems(task.dbt_task))
    if task.pipeline_task is not None:
        from headrace.spec.tool_tasks import pipeline_task_problems

        yield from (
            (f".pipeline_task{f}", r) for f, r in pipeline_task_problems(task.pipeline_task)
        )
    if task.environment_key is not None and task.environment_key not in environments:
        name = task.environment_key
        yield ".environment_key", f"no environment named '{name}' in the job's environments"
    if task.job_cluster_key is not None and task.job_cluster_key not in clusters:
        name = task.job_cluster_key
        yield ".job_cluster_key", f"no job cluster named '{name}' in the job's job_clusters"
    if task.for_each_task is not None and nested:
        yield ".for_each_task", "the task of a for_each_task cannot itself be a for_each_task"
    elif task.for_each_task is not None:
        reason = _inputs_error(task.for_each_task.inputs)
        if reason is not None:
            yield ".for_each_task.inputs", reason


def _sql_task_problems(sql: SqlTask) -> Iterator[tuple[str, str]]:
    """Exactly one runnable kind of SQL: inline `query.query_text` or `file.path`."""
    kinds = [k for k in _SQL_KINDS if getattr(sql, k) is not None]
    if len(kinds) != 1:
        got = ", ".join(kinds) or "none"
        yield ".sql_task", f"set exactly one of {', '.join(_SQL_KINDS)} (got {got})"
    for kind in ("alert", "dashboard"):
        if getattr(sql, kind) is not None:
            yield f".sql_task.{kind}", f"SQL {kind}s are not supported; {_SQL_INSTEAD}"
    if sql.query is None:
        return
    if sql.query.query_id is not None and sql.query.query_text is not None:
        yield ".sql_task.query", "set query_id or query_text, not both"
    elif sql.query.query_id is not None:
        yield ".sql_task.query.query_id", f"saved queries are not supported; {_SQL_INSTEAD}"
    elif sql.query.query_text is None:
        yield ".sql_task.query", "set query_text (the SQL to run)"
    else:
        reason = _query_text_error(sql.query.query_text)
        if reason is not None:
            yield ".sql_task.query.query_text", reason


def _query_text_error(text: str) -> str | None:
    """Why inline SQL cannot run as given, or None."""
    if not text.strip():
        return "is empty"
    if len(text) > MAX_QUERY_TEXT_CHARS:
        return (
            f"is {len(text)} characters; inline SQL is limited to {MAX_QUERY_TEXT_CHARS}, "
            "put longer SQL in a file (sql_task.file.path)"
        )
    refs = find_references(text)
    if refs:
        name = refs[0][-1]
        # Substituting text into SQL is how injections happen: values travel as parameters.
        return (
            f"'{{{{{'.'.join(refs[0])}}}}}' would be pasted into the SQL; bind it instead: "
            f"sql_task.parameters: {{{name}: '{{{{{'.'.join(refs[0])}}}}}'}} and write :{name}"
        )
    return None


def _inputs_error(inputs: str) -> str | None:
    """None when for_each inputs are a JSON array or a single reference, else the reason."""
    if single_reference(inputs) is not None:
        return None
    # References inside the array text are substituted before parsing; stand in a number.
    text = render(inputs, lambda _parts: "0")
    hint = (
        "must be a JSON array like '[1, 2]' or a single reference like '{{job.parameters.items}}'"
    )
    try:
        value = json.loads(text)
    except ValueError as exc:
        return f"{hint}; {exc}"
    return None if isinstance(value, list) else f"{hint} (got a JSON {type(value).__name__})"


def _duplicates(names: list[str], field: str, attribute: str) -> list[SpecIssue]:
    """An issue for each repeated name in a list of named entries."""
    first: dict[str, int] = {}
    issues = []
    for i, name in enumerate(names):
        if name in first:
            message = f"duplicate {attribute} '{name}' (also {field}[{first[name]}])"
            issues.append(SpecIssue(f"{field}[{i}].{attribute}", message))
        first.setdefault(name, i)
    return issues


def _starter_issues(settings: JobSettings) -> list[SpecIssue]:
    """Schedule syntax, trigger kinds, and at most one of schedule/trigger/continuous/triggers."""
    issues = []
    if settings.schedule is not None:
        from headrace.spec.cron import quartz_error, timezone_error

        for field, reason in (
            ("quartz_cron_expression", quartz_error(settings.schedule.quartz_cron_expression)),
            ("timezone_id", timezone_error(settings.schedule.timezone_id)),
        ):
            if reason is not None:
                issues.append(SpecIssue(f"schedule.{field}", reason))
    if settings.trigger is not None and len(settings.trigger.kinds) != 1:
        got = ", ".join(settings.trigger.kinds) or "none"
        message = f"set exactly one trigger kind: {', '.join(TRIGGER_KINDS)} (got {got})"
        issues.append(SpecIssue("trigger", message))
    starters = [name for name in _STARTERS if getattr(settings, name)]
    if len(starters) > 1:
        message = f"only one of {', '.join(_STARTERS)} may be set (got {' and '.join(starters)})"
        issues.append(SpecIssue(starters[1], message))
    return issues
