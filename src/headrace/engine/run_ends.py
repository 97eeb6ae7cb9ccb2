"""A run's end (part of `Coordinator`): end a run once every task is terminal, or when it
cannot progress (blocked tasks with nothing live upstream), and free its job's slot.
"""

from __future__ import annotations

from headrace.engine import planner
from headrace.engine.rules import failure_message
from headrace.engine.transaction import (
    STOP_CANCELED,
    STOP_TIMEDOUT,
    RunLockNeeded,
    RunTx,
    task_state,
)
from headrace.errors import InvalidTransition
from headrace.states import TERMINAL, LifeCycle, Result
from headrace.store import progress
from headrace.store import runs as run_store
from headrace.store import task_runs as task_run_store


class RunEnds:
    """Ending runs (part of `Coordinator`)."""

    def _maybe_finish_run(self, tx: RunTx, *, force: bool = False) -> None:
        """End the run if every task is terminal (checked only when that can have changed).

        In a plain run a task's dependents stay blocked until it ends, so the last task to
        end is a leaf; cancels and repairs (which may rerun a task without its dependents)
        break that, so they always check.
        """
        if tx.run.life_cycle in TERMINAL:
            return
        run = tx.run
        if not (force or tx.leaf_ended or run.stop_reason is not None or run.repair_count):
            self._check_progress(tx)
            return
        task_runs = task_run_store.task_runs_if_none_open(tx.conn, tx.run.run_id)
        if task_runs is None:  # some task run is still open
            self._check_progress(tx)
            return
        states = {tr.task_key: task_state(tr) for tr in task_runs}
        finish = planner.decide_run_result(
            tx.plan.dag,
            states,
            canceled=tx.run.stop_reason == STOP_CANCELED,
            timed_out=tx.run.stop_reason == STOP_TIMEDOUT,
        )
        if finish is None:
            return
        message = finish.message
        if tx.run.stop_reason in (STOP_CANCELED, STOP_TIMEDOUT):
            message = tx.run.state_message or message  # what _stop said: who or which limit
        elif finish.result in (Result.FAILED, Result.SUCCESS_WITH_FAILURES):
            message = failure_message(task_runs) or message
        self._end_run(tx, finish.result, message)

    def _check_progress(self, tx: RunTx) -> None:
        """Invariant: a running run always has a task pending, running or waiting to retry.

        Blocked tasks with nothing live left upstream would wait forever, and every later run
        of the job would queue behind them (issue 11): such a run ends INTERNAL_ERROR, naming
        them. One indexed query, and only in transactions that started nothing.
        """
        if tx.run.life_cycle is not LifeCycle.RUNNING or tx.new_attempts or tx.run_ended:
            return
        if tx.claimed_own:  # an attempt of this run was just claimed: it is running
            return
        if tx.others_live:  # this transaction's count-down saw another task run live
            return
        stuck = progress.stuck_task_runs(tx.conn, tx.run.run_id)
        if not stuck:
            return
        if tx.shared:
            raise RunLockNeeded  # ending the run needs its row FOR UPDATE
        names = ", ".join(f"'{tr.task_key}'" for tr in stuck[:10])
        more = f" and {len(stuck) - 10} more" if len(stuck) > 10 else ""
        message = (
            f"Internal error: the run cannot progress: {names}{more} wait(s) for upstream tasks "
            "that have all ended (nothing is pending or running)"
        )
        for tr in stuck:
            run_store.set_task_state(
                tx.conn,
                tr.task_run_id,
                LifeCycle.INTERNAL_ERROR,
                result_state=Result.FAILED.value,
                state_message=message,
                end_time=tx.now,
            )
        self._end_run(tx, Result.FAILED, message, life=LifeCycle.INTERNAL_ERROR)

    def _end_run(
        self, tx: RunTx, result: Result, message: str, *, life: LifeCycle = LifeCycle.TERMINATED
    ) -> None:
        if tx.shared:
            raise RunLockNeeded  # never reached today: shared transactions end no leaf
        ended = {"result_state": result.value, "state_message": message, "end_time": tx.now}
        queued: bool | None = None  # whether the job has queued runs; None: not known
        try:
            if tx.run.job_id is None:
                run_store.set_run_state(tx.conn, tx.run.run_id, life, **ended)
            else:  # the run's end answers it (issue 18: no read of the queue after it)
                # and tells the coordinating server (a run's end always does, see
                # transaction._coordinates), instead of a statement at commit.
                notify = not self.store.is_sqlite
                queued = run_store.end_run_state(
                    tx.conn, tx.run.run_id, life, tx.run.job_id, notify_coordinate=notify, **ended
                )
                tx.coordinate_announced = notify
        except InvalidTransition:
            # A nested step (a child run ending its parent's task) may have ended it already.
            tx.run = run_store.get_run(tx.conn, tx.run.run_id)
            if tx.run.life_cycle in TERMINAL:
                return
            raise
        if tx.run.repair_count:  # a run never repaired has no repair to end
            run_store.finish_open_repair(
                tx.conn,
                tx.run.run_id,
                life_cycle_state=life.value,
                result_state=result.value,
                state_message=message,
                end_time=tx.now,
            )
        tx.run_ended = True
        if tx.alerts is not None:
            self._alert_run_end(tx, result, message)
        if tx.run.trigger_type == "RUN_JOB_TASK" and (tx.run.trigger_info or {}).get("run_id"):
            self._child_run_ended(tx, result, message)
            queued = None  # the parent's next tasks may have queued runs of this job since
        if tx.run.job_id is not None and queued is not False:
            # Its slot is free: the next queued run may start.
            tx.admitted.extend(self._admit_queued(tx.conn, tx.run.job_id))
