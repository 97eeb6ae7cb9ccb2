"""Small rules of the coordinator that need no store: conditions, parameters, messages.

Kept apart from `coordinator` so each stays readable; all pure functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from headrace.engine.resolve import as_text
from headrace.engine.run_plan import RunPlan
from headrace.errors import Conflict, SpecError, SpecIssue
from headrace.spec.models import JobSettings
from headrace.states import SUCCESSFUL, Result
from headrace.store.records import Run, TaskRun


def failure_message(task_runs: list[TaskRun]) -> str:
    """Databricks-style: which task failed first and with what, and what that caused."""
    failed = [tr for tr in task_runs if tr.result in (Result.FAILED, Result.TIMEDOUT)]
    if not failed:
        return ""
    first = min(failed, key=lambda tr: (tr.end_time or 0, tr.task_run_id))
    verb = "timed out" if first.result is Result.TIMEDOUT else "failed"
    message = f"Task {first.task_key} {verb} with message: {first.state_message}"
    others = [tr.task_key for tr in failed if tr is not first]
    if others:
        message += f" (also failed: {', '.join(others)})"
    if any(tr.result is Result.UPSTREAM_FAILED for tr in task_runs):
        message += ". This caused downstream tasks to be skipped."
    return message


def error_code_for(result: Result) -> str | None:
    return {
        Result.FAILED: "RunExecutionError",
        Result.TIMEDOUT: "RunTimedOut",
        Result.CANCELED: "RunCanceled",
    }.get(result)


def widget_parameters(run: Run, resolved: dict[str, Any]) -> dict[str, str]:
    """What `dbutils.widgets.get` sees: the task's key-value parameters, job parameters win."""
    own: dict[str, str] = {}
    for key in ("named_parameters", "base_parameters", "parameters"):
        value = resolved.get(key)
        if isinstance(value, dict):
            own.update({k: as_text(v) for k, v in value.items()})
    return {**own, **run.parameters}


def check_parameters(settings: JobSettings, given: dict[str, str]) -> None:
    """Job parameter overrides must name defined parameters. Raises: SpecError."""
    defined = {p.name for p in settings.parameters}
    unknown = sorted(set(given) - defined)
    if unknown:
        known = ", ".join(sorted(defined)) or "none"
        raise SpecError(
            [
                SpecIssue(
                    f"job_parameters.{name}",
                    f"the job defines no parameter {name!r} (defined: {known})",
                )
                for name in unknown
            ]
        )


def evaluate_condition(op: str, left: str, right: str) -> bool:
    """Databricks' condition semantics: strings compare as text, ordering ops as numbers."""
    if op == "EQUAL_TO":
        return left == right
    if op == "NOT_EQUAL":
        return left != right
    try:
        a, b = float(left), float(right)
    except ValueError:
        raise ValueError(f"condition {op} needs numbers, got {left!r} and {right!r}") from None
    return {
        "GREATER_THAN": a > b,
        "GREATER_THAN_OR_EQUAL": a >= b,
        "LESS_THAN": a < b,
        "LESS_THAN_OR_EQUAL": a <= b,
    }[op]


def repair_selection(
    plan: RunPlan,
    current: dict[str, TaskRun],
    rerun_tasks: Sequence[str],
    all_failed: bool,
    dependents: bool,
) -> set[str]:
    if bool(rerun_tasks) == bool(all_failed):
        raise SpecError(
            "give either the tasks to rerun (rerun_tasks, --task) or rerun_all_failed_tasks"
            " (--all-failed), not both and not neither"
        )
    unknown = [k for k in rerun_tasks if k not in plan.tasks]
    if unknown:
        raise SpecError(
            [SpecIssue("rerun_tasks", f"no task named {k!r} in the job") for k in unknown]
        )
    if all_failed:
        selected = {
            k
            for k, tr in current.items()
            if k in plan.tasks
            and tr.result not in SUCCESSFUL
            and tr.result not in (Result.EXCLUDED, Result.DISABLED)
        }
        dependents = True
    else:
        selected = set(rerun_tasks)
    selected |= {k for k in plan.tasks if k not in current}  # tasks added since the run
    if dependents:
        stack = list(selected)
        while stack:
            for child in plan.dag.children.get(stack.pop(), ()):
                if child not in selected:
                    selected.add(child)
                    stack.append(child)
    if not selected:
        raise Conflict("nothing to repair: every task of the run succeeded")
    return selected
