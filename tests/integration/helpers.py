"""Small builders and readers shared by the integration tests."""

from __future__ import annotations

from typing import Any

from headrace.engine.coordinator import AttemptOutcome, Coordinator
from headrace.engine.run_view import run_to_api
from headrace.spec.loader import parse_job_settings
from headrace.spec.models import JobSettings
from headrace.states import Result
from headrace.store import runs as run_store
from headrace.store.db import Store
from headrace.store.records import Attempt, Run, TaskRun

LOG = "/tmp/x.log"


def shell(key: str, *after: str, **extra: Any) -> dict[str, Any]:
    """A shell_command_task depending on `after`."""
    task: dict[str, Any] = {"task_key": key, "shell_command_task": {"command": f"echo {key}"}}
    if after:
        task["depends_on"] = [{"task_key": k} for k in after]
    task.update(extra)
    return task


def job(*tasks: dict[str, Any], **extra: Any) -> JobSettings:
    """Validated JobSettings of `tasks`."""
    return parse_job_settings({"name": "it-job", "tasks": list(tasks), **extra})


def claim(coordinator: Coordinator, worker_id: str = "w1") -> Attempt | None:
    """Act as a worker slot: claim the next attempt."""
    return coordinator.claim_next_attempt(worker_id, lambda _a: LOG)


def finish(
    coordinator: Coordinator, attempt: Attempt, result: Result = Result.SUCCESS, **kw: Any
) -> None:
    """Act as a worker slot: report the attempt's end."""
    coordinator.finish_attempt(attempt, AttemptOutcome(result, **kw))


def claim_key(coordinator: Coordinator, key: str, worker_id: str = "w1") -> Attempt:
    """Claim the next attempt and check it belongs to task `key`."""
    attempt = claim(coordinator, worker_id)
    assert attempt is not None, f"expected a claimable attempt of {key!r}, found none"
    assert attempt.payload["task_key"] == key
    return attempt


def tasks(store: Store, run_id: int) -> dict[str, TaskRun]:
    """The current top-level task runs of a run, by key."""
    with store.read() as conn:
        return {tr.task_key: tr for tr in run_store.current_task_runs(conn, run_id)}


def states(store: Store, run_id: int) -> dict[str, tuple[str, str | None]]:
    """(life_cycle_state, result_state) of each current task run, by key."""
    return {
        k: (tr.life_cycle.value, tr.result.value if tr.result else None)
        for k, tr in tasks(store, run_id).items()
    }


def run(store: Store, run_id: int) -> Run:
    with store.read() as conn:
        return run_store.get_run(conn, run_id)


def attempts(store: Store, run_id: int) -> list[Attempt]:
    with store.read() as conn:
        return run_store.attempts_of_run(conn, run_id)


def attempt(store: Store, attempt_id: int) -> Attempt:
    with store.read() as conn:
        return run_store.get_attempt(conn, attempt_id)


def api(store: Store, run_id: int) -> dict[str, Any]:
    """The run as `runs/get` returns it."""
    with store.read() as conn:
        return run_to_api(conn, run_id, now=run(store, run_id).start_time + 1)


def api_tasks(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["task_key"]: t for t in view["tasks"]}


def drain(coordinator: Coordinator, result: Result = Result.SUCCESS) -> list[str]:
    """Claim and finish attempts until none is left; returns the task keys in claim order."""
    order = []
    while (a := claim(coordinator)) is not None:
        order.append(a.payload["task_key"])
        finish(coordinator, a, result)
    return order
