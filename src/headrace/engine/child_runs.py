"""run_job tasks: a task that starts another job's run in the same transaction; that run's end
decides the task, and stopping the parent run stops it.
"""

from __future__ import annotations

import json

from headrace.engine.resolve import as_text, render_deep
from headrace.engine.rules import error_code_for
from headrace.engine.run_plan import plan_from_json
from headrace.engine.runs import NewRun
from headrace.engine.transaction import RunTx
from headrace.errors import NotFound, PermissionDenied, SpecError
from headrace.spec.models import Task
from headrace.spec.references import UnresolvedReference
from headrace.states import SUCCESSFUL, TERMINAL, LifeCycle, Result
from headrace.store import jobs as job_store
from headrace.store import runs as run_store
from headrace.store.records import TaskRun
from headrace.store.sql import Tx as Connection

MAX_RUN_JOB_DEPTH = 10  # run_job_task chains deeper than this are a loop, not a design


def _require_run_permission(conn: Connection, run_as: str | None, job_id: int) -> None:
    """A run acting for a user may start another job only with CAN_MANAGE_RUN on it."""
    if run_as is None:  # a local `headrace run`: whoever runs it owns the store
        return
    from headrace.engine.jobs import Principal, effective_level, level_rank  # only for ACLs

    if level_rank(effective_level(conn, Principal(run_as), job_id)) < level_rank("CAN_MANAGE_RUN"):
        raise PermissionDenied(
            f"User {run_as} does not have CAN_MANAGE_RUN permission on job {job_id}."
        )


class ChildRuns:
    """run_job tasks (part of `Coordinator`)."""

    def _start_child_run(self, tx: RunTx, tr: TaskRun, task: Task) -> None:
        """Start the other job's run in this transaction; its end decides this task."""
        spec = task.run_job_task
        assert spec is not None  # guaranteed by task_type
        run_store.set_task_state(tx.conn, tr.task_run_id, LifeCycle.RUNNING, start_time=tx.now)
        tr = run_store.task_run(tx.conn, tr.task_run_id)
        depth = int((tx.run.trigger_info or {}).get("depth", 0)) + 1
        try:
            resolved = render_deep(
                spec.model_dump(mode="json", exclude_none=True), self._scope(tx, tr, task, 0)
            )
            if depth > MAX_RUN_JOB_DEPTH:
                raise SpecError(
                    f"run_job_task: runs nested more than {MAX_RUN_JOB_DEPTH} deep (a job that runs itself?)"
                )
            job = job_store.get_job(tx.conn, spec.job_id)
            _require_run_permission(tx.conn, tx.run.run_as, job.job_id)
            params = {k: as_text(v) for k, v in (resolved.get("job_parameters") or {}).items()}
            trigger_info = {
                "run_id": tr.task_run_id,
                "parent_run_id": tx.run.run_id,
                "depth": depth,
            }
            [(child_id, child_tx)] = self._create_runs(
                tx.conn,
                plan_from_json(json.dumps(job.settings)).settings,
                [NewRun(params, trigger_info)],
                job_id=job.job_id,
                trigger_type="RUN_JOB_TASK",
                run_type="JOB_RUN",
                run_as=tx.run.run_as,
                job_version=job_store.latest_version(tx.conn, job.job_id),
                queue=None,
            )
        except (UnresolvedReference, NotFound, SpecError, PermissionDenied) as exc:
            self._end_task(
                tx, tr, Result.FAILED, f"run_job_task: {exc}", error_code="InvalidParameterValue"
            )
            return
        output = {
            "run_job_task": {"job_id": job.job_id, "job_parameters": params},
            "run_job_output": {"run_id": child_id},
        }
        run_store.update_task_run(tx.conn, tr.task_run_id, resolved=json.dumps(output))
        if child_tx is None:
            message = f"run {child_id} of job {job.job_id} was skipped: max_concurrent_runs reached"
            self._end_task(tx, tr, Result.FAILED, message, error_code="MaxConcurrentRunsExceeded")
        else:
            tx.admitted.append(child_tx)

    def _child_run_ended(self, tx: RunTx, result: Result, message: str) -> None:
        """A run started by a run_job_task ended: end that task with the run's verdict."""
        info = tx.run.trigger_info or {}
        parent_tx = self._open(tx.conn, int(info["parent_run_id"]))
        tr = run_store.task_run(tx.conn, int(info["run_id"]))
        if tr.life_cycle in TERMINAL or not tr.current:
            return
        if result in SUCCESSFUL:
            mapped = Result.SUCCESS
        elif result is Result.CANCELED:
            mapped = Result.CANCELED
        else:
            mapped = Result.FAILED
        text = f"run {tx.run.run_id} of job {tx.run.job_id}: {result.value}"
        self._end_task(
            parent_tx,
            tr,
            mapped,
            f"{text}: {message}" if message else text,
            error_code=error_code_for(mapped),
        )
        self._maybe_finish_run(parent_tx)
        tx.admitted.append(parent_tx)

    def _stop_child_runs(self, tx: RunTx, reason: str, message: str) -> None:
        """Stopping a run stops the runs its running run_job tasks started."""
        for tr in run_store.current_task_runs(tx.conn, tx.run.run_id):
            child = ((tr.resolved or {}).get("run_job_output") or {}).get("run_id")
            if child is None or tr.life_cycle is not LifeCycle.RUNNING:
                continue
            child_tx = self._open(tx.conn, int(child))
            if child_tx.run.life_cycle in TERMINAL or child_tx.run.stop_reason is not None:
                continue
            self._stop(child_tx, reason, message)
            self._maybe_finish_run(child_tx, force=True)
            tx.to_kill.extend(child_tx.to_kill)
            tx.admitted.append(child_tx)
