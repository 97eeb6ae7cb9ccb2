"""Starting tasks whose upstreams allow it (part of `Coordinator`): conditions inline,
for_each and run_job tasks through their parts, process tasks as pending attempts with their
references resolved now, queued in one statement per planning pass on PostgreSQL.
"""

from __future__ import annotations

import json
from typing import Any

from headrace.config import default_home
from headrace.engine import git_source
from headrace.engine.resolve import render_deep
from headrace.engine.rules import evaluate_condition, widget_parameters
from headrace.engine.transaction import RunTx
from headrace.errors import SpecError
from headrace.spec.compute import task_compute
from headrace.spec.models import JobSettings, Task
from headrace.spec.references import UnresolvedReference, render
from headrace.states import LifeCycle, Result
from headrace.store import queued_attempts
from headrace.store import runs as run_store
from headrace.store.queued_attempts import QueuedAttempt
from headrace.store.records import TaskRun

PROCESS_TASK_TYPES = frozenset(
    {
        "shell_command_task",
        "spark_python_task",
        "python_wheel_task",
        "notebook_task",
        "sql_task",
        "dbt_task",
        "spark_jar_task",
        "spark_submit_task",
        "pipeline_task",
    }
)
# Task types whose runner gets the task's `libraries` (spark-submit's jars) with its settings.
LIBRARY_TASK_TYPES = frozenset({"spark_jar_task", "spark_submit_task"})
# Task types whose process runs on their environment's Python (others run Headrace's runners;
# dbt_task's runner builds its dbt environment from the spec itself, notebook_task's runner
# puts it first on the cells' path; spark_jar_task's runner takes its java_dependencies).
ENVIRONMENT_TASK_TYPES = frozenset(
    {"spark_python_task", "python_wheel_task", "dbt_task", "notebook_task", "spark_jar_task"}
)
# Accepted by the spec but not run by Headrace: they fail loudly, naming why.
NOT_YET_SUPPORTED: dict[str, str] = {}


def _settings_json(settings: Any) -> Any:
    """A task type's settings as JSON: a model dumped, loose settings (a dict) as they are."""
    if isinstance(settings, dict):
        return settings
    return settings.model_dump(mode="json", exclude_none=True)


def _environment_spec(settings: JobSettings, key: str) -> dict[str, Any]:
    """The spec of the job environment a task names (validation made sure it exists)."""
    env = next(e for e in settings.environments if e.environment_key == key)
    return env.spec.model_dump(mode="json", exclude_none=True)


class TaskStarts:
    """Starting tasks and queueing their attempts (part of `Coordinator`)."""

    def _start_task(self, tx: RunTx, tr: TaskRun, task: Task) -> None:
        """Start a task whose upstreams allow it: inline for conditions, else an attempt."""
        kind = task.task_type
        if kind in NOT_YET_SUPPORTED:
            run_store.set_task_state(tx.conn, tr.task_run_id, LifeCycle.RUNNING, start_time=tx.now)
            self._end_task(
                tx, tr, Result.FAILED, NOT_YET_SUPPORTED[kind], error_code="NotSupported"
            )
        elif kind == "condition_task":
            self._run_condition(tx, tr, task)
        elif kind == "for_each_task":
            self._alert_task_start(tx, tr, 0)
            self._start_for_each(tx, tr, task)
        elif kind == "run_job_task":
            self._alert_task_start(tx, tr, 0)
            self._start_child_run(tx, tr, task)
        elif kind in PROCESS_TASK_TYPES:
            self._start_attempt(tx, tr, task)
        else:
            run_store.set_task_state(tx.conn, tr.task_run_id, LifeCycle.RUNNING, start_time=tx.now)
            self._end_task(tx, tr, Result.FAILED, f"{kind} is not supported by Headrace")

    def _start_attempt(self, tx: RunTx, tr: TaskRun, task: Task) -> None:
        """Queue the next attempt of a process task, with its references resolved now."""
        item = self._attempt_to_queue(tx, tr, task)
        if isinstance(item, str):
            self._fail_before_start(tx, tr, item)
        else:
            self._queue_attempts(tx, [(tr, item)])

    def _queue_attempts(self, tx: RunTx, batch: list[tuple[TaskRun, QueuedAttempt]]) -> None:
        """Queue the prepared attempts (one statement on PostgreSQL) and empty `batch`."""
        if not batch:
            return
        ids = queued_attempts.queue_attempts(tx.conn, [item for _, item in batch])
        for (tr, item), attempt_id in zip(batch, ids, strict=True):
            tx.new_attempts += 1
            tx.queued.add(attempt_id)
            self._alert_task_start(tx, tr, item.attempt_number)
        batch.clear()

    def _attempt_to_queue(self, tx: RunTx, tr: TaskRun, task: Task) -> QueuedAttempt | str:
        """The next attempt of a process task, with its references resolved now; or why it
        cannot start (the task fails: _fail_before_start)."""
        attempt_number = tr.attempt_number + 1 if tr.start_time is not None else 0
        kind = task.task_type
        scope = self._scope(tx, tr, task, attempt_number)
        try:
            resolved = render_deep(_settings_json(task.task_type_settings), scope)
            if task.libraries and kind in LIBRARY_TASK_TYPES:
                resolved = {**resolved, "libraries": render_deep(task.libraries, scope)}
            if tx.plan.settings.git_source:  # only a Git-sourced job needs the checkout folder
                resolved = git_source.task_settings(
                    tx.plan.settings, task, resolved, default_home()
                )
        except (UnresolvedReference, SpecError) as exc:
            return str(exc)
        payload = {
            "task_type": kind,
            "settings": resolved,
            "task_key": tr.task_key,
            "task_run_id": tr.task_run_id,
            "run_id": tx.run.run_id,
            "job_id": tx.run.job_id,
            "attempt_number": attempt_number,
            "timeout_seconds": task.timeout_seconds,
            "parameters": widget_parameters(tx.run, resolved),
            "task_values": self._task_values(tx),
        }
        if tr.parent_id is not None:
            payload["iteration"] = tr.iteration
        if tx.settings_digest is not None and tx.run.repair_count == 0:
            # The run's settings text at repair count 0: whoever ends this attempt can take
            # the plan it parsed from that text for another run (CoordinatorCore._plans_by_digest).
            payload["settings_digest"] = tx.settings_digest
        if task.environment_key is not None and kind in ENVIRONMENT_TASK_TYPES:
            payload["environment"] = _environment_spec(tx.plan.settings, task.environment_key)
        compute = task_compute(tx.plan.settings, task)  # Spark: job/named cluster (issue 12)
        if compute is not None:
            payload["compute"] = compute
        pool = task.worker_pool
        waiting = {"state_message": f"waiting for a worker in pool '{pool}'"} if pool else {}
        return QueuedAttempt(
            task_run_id=tr.task_run_id,
            task_run_values={
                "attempt_number": attempt_number,
                "resolved": json.dumps({kind: resolved}),
                "start_time": tr.start_time if tr.start_time is not None else tx.now,
                "retry_at": None,
                **waiting,
            },
            run_id=tx.run.run_id,
            attempt_number=attempt_number,
            payload=json.dumps(payload),
            created_time=tx.now,
            pool=pool,
            priority=task.priority if task.priority is not None else tx.plan.settings.priority or 0,
        )

    def _task_values(self, tx: RunTx) -> dict[str, dict[str, Any]]:
        """The run's task values so far (what a starting attempt gets), read once per tx."""
        if tx.task_values is None:
            tx.task_values = run_store.task_values_of_run(tx.conn, tx.run.run_id)
        return tx.task_values

    def _fail_before_start(self, tx: RunTx, tr: TaskRun, message: str) -> None:
        if tr.start_time is None:
            run_store.update_task_run(tx.conn, tr.task_run_id, start_time=tx.now)
        self._end_task(tx, tr, Result.FAILED, message, error_code="InvalidParameterValue")

    def _run_condition(self, tx: RunTx, tr: TaskRun, task: Task) -> None:
        cond = task.condition_task
        assert cond is not None  # guaranteed by task_type
        run_store.set_task_state(tx.conn, tr.task_run_id, LifeCycle.RUNNING, start_time=tx.now)
        scope = self._scope(tx, tr, task, 0)
        try:
            left, right = render(cond.left, scope), render(cond.right, scope)
            value = evaluate_condition(cond.op, left, right)
        except (UnresolvedReference, ValueError) as exc:
            self._end_task(tx, tr, Result.FAILED, str(exc), error_code="InvalidParameterValue")
            return
        outcome = "true" if value else "false"
        run_store.update_task_run(
            tx.conn,
            tr.task_run_id,
            resolved=json.dumps({"condition_task": {"left": left, "right": right}}),
        )
        message = f"{left!r} {cond.op} {right!r} is {outcome}"
        self._end_task(tx, tr, Result.SUCCESS, message, outcome=outcome)
