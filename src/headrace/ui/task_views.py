"""What a task run's page shows: its attempts, the chosen attempt's log tail, error, output
and task values; read from the engine and the store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from headrace.engine import actions
from headrace.engine.jobs import Principal
from headrace.engine.run_view import run_to_api
from headrace.store import runs as run_store
from headrace.store.db import Store
from headrace.store.records import Run
from headrace.ui.run_views import run_level
from headrace.ui.status import Status, status_of


@dataclass
class TaskPage:
    run: Run
    level: str | None
    task: dict[str, Any]
    status: Status
    attempts: list[dict[str, Any]]
    attempt: dict[str, Any] | None  # the attempt whose log/error/output is shown
    log_text: str | None
    log_offset: int
    log_truncated: bool
    error: str | None
    error_trace: str | None
    output: dict[str, Any]
    task_values: dict[str, Any]


LOG_TAIL_PAGE = 64 * 1024


def task_page(
    store: Store,
    who: Principal,
    run_id: int,
    task_run_id: int,
    attempt_number: int | None,
    now: int,
) -> TaskPage:
    """Raises: NotFound, PermissionDenied."""
    from headrace.errors import NotFound

    with store.read() as conn:
        run = actions.require_run(conn, who, run_id, "CAN_VIEW")
        level = run_level(conn, who, run)
        view = run_to_api(conn, run_id, now=now, include_history=False)
        tr = run_store.task_run(conn, task_run_id)
        if tr.run_id != run_id:
            raise NotFound(f"Run {task_run_id} does not exist.")
        attempts = [
            a for a in run_store.attempts_of_run(conn, run_id) if a.task_run_id == task_run_id
        ]
    task = _find_task(view["tasks"], task_run_id) or {
        "task_key": tr.task_key,
        "run_id": task_run_id,
        "state": {
            "life_cycle_state": tr.life_cycle.value,
            "result_state": tr.result.value if tr.result else None,
            "state_message": tr.state_message,
        },
        "start_time": tr.start_time or 0,
        "run_duration": 0,
    }
    chosen = attempts[-1] if attempts else None
    if attempt_number is not None:
        chosen = next((a for a in attempts if a.attempt_number == attempt_number), chosen)
    text, truncated, offset = None, False, 0
    if chosen is not None and chosen.log_path:
        text, truncated = actions.read_log_tail(chosen.log_path, LOG_TAIL_PAGE, store=store)
        offset = _size(chosen.log_path)
    error = chosen.error if chosen is not None else None
    if (
        error is None
        and tr.result is not None
        and tr.result.value != "SUCCESS"
        and tr.state_message
    ):
        error = tr.state_message
    return TaskPage(
        run=run,
        level=level,
        task=task,
        status=status_of(tr.life_cycle, tr.result),
        attempts=task.get("attempts", []),
        attempt={"attempt_number": chosen.attempt_number, "log_path": chosen.log_path}
        if chosen
        else None,
        log_text=text,
        log_offset=offset,
        log_truncated=truncated,
        error=error,
        error_trace=chosen.error_trace if chosen is not None else None,
        output=(chosen.output or {}) if chosen is not None else {},
        task_values=tr.task_values,
    )


def _find_task(tasks: list[dict[str, Any]], task_run_id: int) -> dict[str, Any] | None:
    for t in tasks:
        if t["run_id"] == task_run_id:
            return t
        for it in t.get("iterations", []):
            if it["run_id"] == task_run_id:
                return it
    return None


def _size(path: str) -> int:
    from pathlib import Path

    try:
        return Path(path).stat().st_size
    except OSError:
        return 0
