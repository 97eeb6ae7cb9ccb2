"""Runs in the Jobs API's JSON shape (what `runs/get` returns), derived from the store."""

from __future__ import annotations

import json
from typing import Any

from headrace.engine.cluster_view import add_clusters
from headrace.states import ACTIVE, LifeCycle, Result
from headrace.store import runs as run_store
from headrace.store.records import Attempt, Run, TaskRun
from headrace.store.sql import Tx as Connection

_STATUS = {
    LifeCycle.QUEUED: "QUEUED",
    LifeCycle.PENDING: "PENDING",
    LifeCycle.BLOCKED: "BLOCKED",
    LifeCycle.RUNNING: "RUNNING",
    LifeCycle.WAITING_FOR_RETRY: "WAITING",
    LifeCycle.TERMINATING: "TERMINATING",
}
# result -> (termination code, termination type), reference doc §6.1
_TERMINATION = {
    Result.SUCCESS: ("SUCCESS", "SUCCESS"),
    Result.SUCCESS_WITH_FAILURES: ("SUCCESS_WITH_FAILURES", "SUCCESS"),
    Result.FAILED: ("RUN_EXECUTION_ERROR", "CLIENT_ERROR"),
    Result.TIMEDOUT: ("CANCELED", "CLIENT_ERROR"),
    Result.CANCELED: ("USER_CANCELED", "SUCCESS"),
    Result.EXCLUDED: ("SKIPPED", "SUCCESS"),
    Result.UPSTREAM_FAILED: ("SKIPPED", "SUCCESS"),
    Result.UPSTREAM_CANCELED: ("SKIPPED", "SUCCESS"),
    Result.DISABLED: ("DISABLED", "SUCCESS"),
    Result.MAXIMUM_CONCURRENT_RUNS_REACHED: ("MAX_CONCURRENT_RUNS_EXCEEDED", "CLIENT_ERROR"),
}


def state_objects(
    life: LifeCycle, result: Result | None, message: str, *, stopping: bool = False
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The legacy `state` and the newer `status` objects for one life cycle and result."""
    state: dict[str, Any] = {"life_cycle_state": life.value, "state_message": message}
    if life in ACTIVE:
        status: dict[str, Any] = {"state": "TERMINATING" if stopping else _STATUS[life]}
        return state, status
    result = result or Result.FAILED
    state["result_state"] = result.value
    state["user_cancelled_or_timedout"] = result in (Result.CANCELED, Result.TIMEDOUT)
    code, kind = _TERMINATION[result]
    if life is LifeCycle.INTERNAL_ERROR:
        code, kind = "INTERNAL_ERROR", "INTERNAL_ERROR"
    status = {
        "state": "TERMINATED",
        "termination_details": {"code": code, "type": kind, "message": message},
    }
    return state, status


def _durations(start: int | None, end: int | None, now: int) -> dict[str, int]:
    if start is None:
        return {"start_time": 0, "end_time": 0, "execution_duration": 0, "run_duration": 0}
    stop = end if end is not None else now
    return {
        "start_time": start,
        "end_time": end or 0,
        "setup_duration": 0,
        "execution_duration": stop - start,
        "cleanup_duration": 0,
        "run_duration": stop - start,
    }


def run_durations(run: Run, now: int) -> dict[str, int]:
    """A run's start/end times and durations (so far, while it is active), in ms."""
    return _durations(run.start_time, run.end_time, now)


def base_run_to_api(run: Run) -> dict[str, Any]:
    """A run as a Jobs API `BaseRun` (what `runs/list` returns: no tasks)."""
    stopping = run.stop_reason is not None
    state, status = state_objects(run.life_cycle, run.result, run.state_message, stopping=stopping)
    return {
        "job_id": run.job_id,
        "run_id": run.run_id,
        "number_in_job": run.run_id,
        "run_name": run.run_name,
        "run_type": run.run_type,
        "trigger": run.trigger_type,
        "state": state,
        "status": status,
        "start_time": run.start_time,
        "end_time": run.end_time or 0,
        "repair_count": run.repair_count,
        **_run_extras(run),
    }


def _run_extras(run: Run) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if run.run_as:
        out["creator_user_name"] = run.run_as
        out["run_as_user_name"] = run.run_as
    if run.job_version is not None:
        out["job_version"] = run.job_version
    if run.trigger_info:
        out["trigger_info"] = run.trigger_info
    return out


def run_to_api(
    conn: Connection, run_id: int, *, now: int, include_history: bool = True
) -> dict[str, Any]:
    """The run as the Jobs API `Run` object, with Headrace's per-attempt details added."""
    run = run_store.get_run(conn, run_id)
    settings = json.loads(run_store.run_settings(conn, run_id))
    specs = {t["task_key"]: t for t in settings.get("tasks", [])}
    task_runs = run_store.all_task_runs(conn, run_id)
    attempts: dict[int, list[Attempt]] = {}
    for attempt in run_store.attempts_of_run(conn, run_id):
        attempts.setdefault(attempt.task_run_id, []).append(attempt)
    iterations: dict[int, list[TaskRun]] = {}
    for tr in task_runs:
        if tr.parent_id is not None and tr.current:
            iterations.setdefault(tr.parent_id, []).append(tr)
    tasks = [
        task_to_api(
            tr, specs.get(tr.task_key, {"task_key": tr.task_key}), attempts, iterations, now
        )
        for tr in task_runs
        if tr.current and tr.parent_id is None
    ]
    stopping = run.stop_reason is not None
    state, status = state_objects(run.life_cycle, run.result, run.state_message, stopping=stopping)
    out: dict[str, Any] = {
        "job_id": run.job_id,
        "run_id": run.run_id,
        "number_in_job": run.run_id,
        "original_attempt_run_id": run.run_id,
        "attempt_number": 0,
        "run_name": run.run_name,
        "run_type": run.run_type,
        "trigger": run.trigger_type,
        "state": state,
        "status": status,
        **_durations(run.start_time, run.end_time, now),
        "tasks": tasks,
        "job_parameters": run.job_parameters,
        "repair_count": run.repair_count,
        "format": "MULTI_TASK",
        **_run_extras(run),
    }
    if run.latest_repair_id is not None:
        out["latest_repair_id"] = run.latest_repair_id
    if settings.get("git_source"):  # with git_snapshot.used_commit: the commit that ran
        out["git_source"] = settings["git_source"]
    if include_history:
        out["repair_history"] = repair_history(conn, run, task_runs)
    add_clusters(conn, run_id, out)  # Spark clusters (issue 12)
    return out


def task_to_api(
    tr: TaskRun,
    spec: dict[str, Any],
    attempts: dict[int, list[Attempt]],
    iterations: dict[int, list[TaskRun]],
    now: int,
) -> dict[str, Any]:
    """One task run as a Jobs API `RunTask`, echoing its settings."""
    state, status = state_objects(tr.life_cycle, tr.result, tr.state_message)
    out: dict[str, Any] = {k: v for k, v in spec.items() if k != "for_each_task"}
    out.update(
        {
            "run_id": tr.task_run_id,
            "attempt_number": tr.attempt_number,
            "state": state,
            "status": status,
            **_durations(tr.start_time, tr.end_time, now),
        }
    )
    if "condition_task" in spec and tr.outcome is not None:
        out["condition_task"] = {**spec["condition_task"], "outcome": tr.outcome}
    if "for_each_task" in spec:
        its = iterations.get(tr.task_run_id, [])
        out["for_each_task"] = {**spec["for_each_task"], "stats": _for_each_stats(its)}
        nested = spec["for_each_task"].get("task", {})
        out["iterations"] = [task_to_api(it, nested, attempts, {}, now) for it in its]
    if tr.iteration is not None:
        out["iteration"] = tr.iteration
        out["input"] = json.loads(tr.input) if tr.input is not None else None
    if tr.resolved:
        out["resolved_values"] = tr.resolved
    if tr.task_values:
        out["task_values"] = tr.task_values
    if tr.error_code:
        out["error_code"] = tr.error_code
    its_attempts = attempts.get(tr.task_run_id, [])
    if its_attempts:
        out["attempts"] = [_attempt_to_api(a) for a in its_attempts]
        out["log_path"] = its_attempts[-1].log_path
    return out


def _attempt_to_api(a: Attempt) -> dict[str, Any]:
    out: dict[str, Any] = {
        "attempt_number": a.attempt_number,
        "start_time": a.start_time or 0,
        "end_time": a.end_time or 0,
        "state": a.state,
    }
    for key in ("exit_code", "error", "log_path"):
        value = getattr(a, key)
        if value is not None:
            out[key] = value
    if a.result is not None:
        out["result_state"] = a.result.value
    return out


def _for_each_stats(its: list[TaskRun]) -> dict[str, Any]:
    done = [it for it in its if it.life_cycle not in ACTIVE]
    active = [
        it for it in its if it.life_cycle in ACTIVE and it.life_cycle is not LifeCycle.BLOCKED
    ]
    succeeded = [it for it in done if it.result in (Result.SUCCESS, Result.SUCCESS_WITH_FAILURES)]
    return {
        "task_run_stats": {
            "total_iterations": len(its),
            "scheduled_iterations": len(its),
            "active_iterations": len(active),
            "completed_iterations": len(done),
            "succeeded_iterations": len(succeeded),
            "failed_iterations": len(done) - len(succeeded),
        }
    }


def repair_history(conn: Connection, run: Run, task_runs: list[TaskRun]) -> list[dict[str, Any]]:
    """The ORIGINAL run and each REPAIR, with the task runs each created."""
    repairs = run_store.repairs_of(conn, run.run_id)
    by_repair: dict[int | None, list[int]] = {}
    for tr in task_runs:
        if tr.parent_id is None:
            by_repair.setdefault(tr.repair_id, []).append(tr.task_run_id)
    items = []
    if repairs:
        first = repairs[0]
        original_result = (
            Result(first["previous_result_state"]) if first["previous_result_state"] else None
        )
        state, status = state_objects(LifeCycle.TERMINATED, original_result, "")
        items.append(
            {
                "type": "ORIGINAL",
                "start_time": run.start_time,
                "end_time": first["previous_end_time"] or 0,
                "state": state,
                "status": status,
                "task_run_ids": by_repair.get(None, []),
            }
        )
    else:
        state, status = state_objects(run.life_cycle, run.result, run.state_message)
        items.append(
            {
                "type": "ORIGINAL",
                "start_time": run.start_time,
                "end_time": run.end_time or 0,
                "state": state,
                "status": status,
                "task_run_ids": by_repair.get(None, []),
            }
        )
    for rep in repairs:
        life = LifeCycle(rep["life_cycle_state"])
        result = Result(rep["result_state"]) if rep["result_state"] else None
        state, status = state_objects(life, result, rep["state_message"] or "")
        items.append(
            {
                "type": "REPAIR",
                "id": rep["repair_id"],
                "start_time": rep["start_time"],
                "end_time": rep["end_time"] or 0,
                "state": state,
                "status": status,
                "task_run_ids": by_repair.get(rep["repair_id"], []),
                "rerun_tasks": json.loads(rep["rerun_tasks"]),
            }
        )
    return items
