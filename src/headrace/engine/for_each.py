"""for_each tasks: one iteration task run per input, at most `concurrency` at a time; the parent
ends when every iteration has ended.
"""

from __future__ import annotations

import json

from headrace.engine.transaction import RunTx, task_run_row
from headrace.spec.models import Task
from headrace.spec.references import UnresolvedReference, render
from headrace.states import ACTIVE, SUCCESSFUL, TERMINAL, LifeCycle, Result
from headrace.store import runs as run_store
from headrace.store.records import TaskRun


class ForEach:
    """for_each tasks (part of `Coordinator`)."""

    def _start_for_each(self, tx: RunTx, tr: TaskRun, task: Task) -> None:
        spec = task.for_each_task
        assert spec is not None  # guaranteed by task_type
        run_store.set_task_state(tx.conn, tr.task_run_id, LifeCycle.RUNNING, start_time=tx.now)
        scope = self._scope(tx, tr, task, 0)
        try:
            text = render(spec.inputs, scope)
            inputs = json.loads(text)
        except UnresolvedReference as exc:
            self._end_task(tx, tr, Result.FAILED, str(exc), error_code="InvalidParameterValue")
            return
        except json.JSONDecodeError:
            inputs = None
        if not isinstance(inputs, list):
            message = f"for_each_task.inputs must be a JSON array, got: {text[:200]}"
            self._end_task(tx, tr, Result.FAILED, message, error_code="InvalidParameterValue")
            return
        run_store.update_task_run(
            tx.conn, tr.task_run_id, resolved=json.dumps({"for_each_task": {"inputs": text}})
        )
        if not inputs:
            self._end_task(tx, tr, Result.SUCCESS, "no inputs: nothing to run")
            return
        ids = run_store.allocate_ids(tx.conn, len(inputs))
        nested = spec.task
        rows = [
            task_run_row(
                task_run_id,
                tx.run.run_id,
                nested,
                parent_id=tr.task_run_id,
                iteration=i,
                input=json.dumps(value),
                repair_id=tr.repair_id,
            )
            for i, (task_run_id, value) in enumerate(zip(ids, inputs, strict=True))
        ]
        run_store.insert_task_runs(tx.conn, rows)
        self._iteration_ended(tx, tr.task_run_id)

    def _iteration_ended(self, tx: RunTx, parent_id: int) -> None:
        """Start the next iterations of a for_each, or end it once every iteration has ended.

        Starting an iteration can end it inline (a condition, a bad reference), which calls
        back here; the outer call is already looping over this for_each, so that call returns.
        """
        if parent_id in tx.filling:
            return
        tx.filling.add(parent_id)
        try:
            self._settle_for_each(tx, parent_id)
        finally:
            tx.filling.discard(parent_id)

    def _settle_for_each(self, tx: RunTx, parent_id: int) -> None:
        parent = run_store.task_run(tx.conn, parent_id)
        if parent.life_cycle in TERMINAL:
            return
        spec = self._task_of(tx, parent).for_each_task
        assert spec is not None  # only for_each task runs have iterations
        while True:
            iterations = run_store.current_task_runs(tx.conn, tx.run.run_id, parent_id=parent_id)
            blocked = [it for it in iterations if it.life_cycle is LifeCycle.BLOCKED]
            if tx.run.stop_reason is not None:
                for it in blocked:
                    self._end_task(tx, it, Result.CANCELED, "the run was canceled")
                break
            busy = sum(1 for it in iterations if it.life_cycle in ACTIVE) - len(blocked)
            if not blocked or busy >= spec.concurrency:
                break
            self._start_task(tx, blocked[0], spec.task)
        if run_store.count_open_task_runs(tx.conn, tx.run.run_id, parent_id=parent_id):
            return
        iterations = run_store.current_task_runs(tx.conn, tx.run.run_id, parent_id=parent_id)
        failed = [it for it in iterations if it.result not in SUCCESSFUL]
        if not failed:
            self._end_task(tx, parent, Result.SUCCESS, f"{len(iterations)} iterations succeeded")
            return
        canceled = tx.run.stop_reason is not None
        first = failed[0]
        message = (
            f"{len(failed)} of {len(iterations)} iterations did not succeed; "
            f"first: iteration {first.iteration}: {first.state_message}"
        )
        self._end_task(tx, parent, Result.CANCELED if canceled else Result.FAILED, message)
