"""What a user does to jobs and runs, with the permission each needs: the one place both faces
(the Jobs API and the web UI) call, so neither re-implements a rule.

Functions that stop attempts return them: the caller's worker pool must kill them (the API
context's `kill`), since only the face knows where the attempts run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from headrace.engine import jobs as job_service
from headrace.engine.coordinator import Coordinator
from headrace.engine.jobs import Principal
from headrace.engine.parsed_jobs import parsed_settings
from headrace.errors import NotFound, PermissionDenied
from headrace.store import jobs as job_store
from headrace.store import runs as run_store
from headrace.store.db import Store
from headrace.store.records import Attempt, Job, Run
from headrace.store.sql import Tx as Connection

LOG_TAIL_BYTES = 5 * 1024 * 1024  # Databricks returns the last 5 MB of a task's logs
_TRIGGER_KEYS = ("schedule", "trigger", "continuous")


def require_run(conn: Connection, who: Principal, run_id: int, level: str) -> Run:
    """A run the principal may act on: by its job's permissions, else by who started it.

    Raises: NotFound, PermissionDenied."""
    run = run_store.get_run(conn, run_id)
    if run.job_id is not None:
        try:
            job_service.require(conn, who, run.job_id, level)
            return run
        except NotFound:
            pass  # the job was deleted; its runs belong to who started them
    if who.admin or run.run_as == who.user_name:
        return run
    raise PermissionDenied(
        f"User {who.user_name} does not have {level} permission on run {run_id}."
    )


def run_allowed(conn: Connection, who: Principal, run: Run, level: str) -> bool:
    """Whether `who` holds `level` on `run` (lists leave out the runs one may not see)."""
    try:
        require_run(conn, who, run.run_id, level)
        return True
    except (PermissionDenied, NotFound):
        return False


def job_to_run_now(
    conn: Connection,
    who: Principal,
    job_id: int,
    read: tuple[Job | None, int | None] | None = None,
) -> tuple[Job, int | None]:
    """The job `who` may run now (CAN_MANAGE_RUN) and its latest version.

    `read`: the job (None: it does not exist) and its version, already read with the token
    (api/auth.principal_and_job); else both are read here. Raises: NotFound, PermissionDenied."""
    if read is None:
        job = job_service.require(conn, who, job_id, "CAN_MANAGE_RUN")
        return job, job_store.latest_version(conn, job_id)
    job, version = read
    if job is None:
        raise job_store.job_missing(job_id)
    return job_service.require_level(conn, who, job, "CAN_MANAGE_RUN"), version


def run_job_now(
    store: Store,
    coordinator: Coordinator,
    who: Principal,
    job_id: int,
    *,
    parameters: dict[str, str],
    idempotency_token: str | None = None,
    queue: bool | None = None,
    adjust: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    stored: tuple[Job, int | None] | None = None,
) -> int:
    """Start a run of a stored job now (needs CAN_MANAGE_RUN); returns its run id.

    `adjust` may rewrite the stored settings first (the API's legacy parameter overrides).
    `stored`: what `job_to_run_now` already read (else it is read here).
    Raises: NotFound, PermissionDenied, SpecError."""
    if stored is None:
        with store.read() as conn:
            stored = job_to_run_now(conn, who, job_id)
    job, version = stored
    raw = adjust(job.settings) if adjust is not None else job.settings
    return coordinator.start_run(
        parsed_settings(job_id, raw),  # parsed once per version of the job (issue 18)
        job_id=job_id,
        parameters=parameters,
        run_as=job_service.run_identity(raw, who.user_name),  # the job's run_as, if set
        idempotency_token=idempotency_token,
        job_version=version,
        queue=queue,
    )


def cancel_run(
    store: Store, coordinator: Coordinator, who: Principal, run_id: int
) -> list[Attempt]:
    """Cancel a run (needs CAN_MANAGE_RUN); returns the attempts to kill."""
    with store.read() as conn:
        require_run(conn, who, run_id, "CAN_MANAGE_RUN")
    return coordinator.cancel_run(run_id, f"canceled by {who.user_name}")


def repair_run(
    store: Store, coordinator: Coordinator, who: Principal, run_id: int, **options: Any
) -> int:
    """Repair a run (needs CAN_MANAGE_RUN); `options` are Coordinator.repair_run's."""
    with store.read() as conn:
        require_run(conn, who, run_id, "CAN_MANAGE_RUN")
    return coordinator.repair_run(run_id, **options)


def delete_job(
    store: Store, coordinator: Coordinator, who: Principal, job_id: int
) -> list[Attempt]:
    """Delete a job (needs CAN_MANAGE), canceling its queued runs; returns attempts to kill."""
    with store.read() as conn:
        job_service.require(conn, who, job_id, "CAN_MANAGE")
        queued = run_store.queued_runs(conn, job_id)
    # Queued runs would wait forever for a job that is gone; running ones finish.
    to_kill: list[Attempt] = []
    for run in queued:
        to_kill += coordinator.cancel_run(run.run_id, f"job {job_id} was deleted")
    job_service.delete_job(store, who, job_id)
    return to_kill


def trigger_key(settings: dict[str, Any]) -> str | None:
    """Which settings field holds the job's trigger (and so its pause_status), if any."""
    return next((k for k in _TRIGGER_KEYS if settings.get(k) is not None), None)


def is_paused(settings: dict[str, Any]) -> bool:
    key = trigger_key(settings)
    return key is not None and (settings[key] or {}).get("pause_status") == "PAUSED"


def set_paused(
    store: Store, who: Principal, job_id: int, paused: bool, *, max_continuous: int | None = None
) -> None:
    """Pause or unpause a job's trigger (a new job version; needs CAN_MANAGE).

    Raises: NotFound, PermissionDenied, SpecError (a job without a trigger)."""
    from headrace.errors import SpecError, SpecIssue

    job = job_service.get_job(store, who, job_id)
    key = trigger_key(job.settings)
    if key is None:
        raise SpecError([SpecIssue("schedule", "this job has no schedule or trigger to pause")])
    value = {**job.settings[key], "pause_status": "PAUSED" if paused else "UNPAUSED"}
    job_service.update_job(store, who, job_id, {key: value}, None, max_continuous=max_continuous)


def _stored_log(store: Store | None, path: str | None) -> bytes | None:
    from headrace.engine.logs import read_log

    return read_log(store, path) if store is not None else None


def read_log_tail(
    path: str | None, limit: int = LOG_TAIL_BYTES, *, store: Store | None = None
) -> tuple[str | None, bool]:
    """The last `limit` bytes of a log file, and whether earlier bytes were left out.

    With `store`, a log this machine does not have (a worker elsewhere wrote it) is read from
    the store's copy."""
    if not path or not Path(path).exists():
        data = _stored_log(store, path)
        if data is None:
            return None, False
        return data[-limit:].decode(errors="replace"), len(data) > limit
    with open(path, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(size - limit, 0))
        return f.read().decode(errors="replace"), size > limit


def read_log_from(
    path: str | None, offset: int, limit: int, *, store: Store | None = None
) -> tuple[str, int]:
    """Log bytes from `offset` (at most `limit`); returns the text and the next offset.

    A live view asks again from the returned offset to get only what was appended."""
    if not path or not Path(path).exists():
        stored = _stored_log(store, path)
        if stored is None:
            return "", offset
        start = min(max(offset, 0), len(stored))
        data = stored[start : start + limit]
    else:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            start = min(max(offset, 0), size)
            f.seek(start)
            data = f.read(limit)
    # Stop before a UTF-8 character cut by the chunk's end: the next read starts with it whole.
    for cut in range(len(data), max(len(data) - 4, 0), -1):
        try:
            return data[:cut].decode(), start + cut
        except UnicodeDecodeError as exc:
            if exc.start < cut - 4:  # not a cut character but bad bytes: replace them
                break
    return data.decode(errors="replace"), start + len(data)


def default_repair_tasks(conn: Connection, run_id: int) -> list[str]:
    """What a repair with rerun_all_failed_tasks would rerun now (a form's default choice):
    the failed tasks and their dependents, by the coordinator's own selection rule."""
    import json

    from headrace.engine.rules import repair_selection
    from headrace.engine.run_plan import plan_from_json
    from headrace.errors import Conflict, SpecError

    run = run_store.get_run(conn, run_id)
    settings_json = run_store.run_settings(conn, run_id)
    if run.job_id is not None:  # a repair runs the job's current settings, as the coordinator
        with contextlib.suppress(NotFound):
            settings_json = json.dumps(job_store.get_job(conn, run.job_id).settings)
    plan = plan_from_json(settings_json)
    current = {tr.task_key: tr for tr in run_store.current_task_runs(conn, run_id)}
    try:
        return sorted(repair_selection(plan, current, (), True, True))
    except (Conflict, SpecError):
        return []
