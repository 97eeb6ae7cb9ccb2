"""What ends a run other than its tasks: due retries and the job timeout (timers), cancellation,
and taking over or failing work whose worker or coordinating process is gone.
"""

from __future__ import annotations

from collections.abc import Callable

from headrace.engine.transaction import (
    STOP_CANCELED,
    STOP_LOST,
    STOP_TIMEDOUT,
    AttemptOutcome,
    RunTx,
)
from headrace.errors import AttemptEnded
from headrace.states import TERMINAL, LifeCycle, Result
from headrace.store import runs as run_store
from headrace.store.records import Attempt


class Stopping:
    """Timers, cancellation and lost work (part of `Coordinator`)."""

    def next_wakeup(self, run_id: int) -> int | None:
        """When this run next needs the coordinator without an event (retry or timeout)."""
        with self.store.read() as conn:
            run = run_store.get_run(conn, run_id)
            if run.life_cycle in TERMINAL:
                return None
            times = [run_store.next_retry_at(conn, run_id)]
            if run.stop_reason is None:
                times.append(run.timeout_at)
        present = [t for t in times if t is not None]
        return min(present) if present else None

    def fire_timers(self, run_id: int) -> list[Attempt]:
        """Start due retries; time the run out past its deadline. Returns attempts to kill."""
        with self.store.begin() as conn:
            tx = self._open(conn, run_id)
            if tx.run.life_cycle in TERMINAL:
                return []
            if (
                tx.run.timeout_at is not None
                and tx.run.timeout_at <= tx.now
                and tx.run.stop_reason is None
            ):
                seconds = tx.plan.settings.timeout_seconds
                self._stop(tx, STOP_TIMEDOUT, f"the run exceeded its timeout of {seconds} s")
            elif tx.run.stop_reason is None:
                for tr in run_store.due_retries(conn, run_id, tx.now):
                    self._start_attempt(tx, tr, self._task_of(tx, tr))
            self._alert_duration_exceeded(tx)
            self._maybe_finish_run(tx, force=True)
        self._notify(tx)
        return tx.to_kill

    def cancel_run(self, run_id: int, message: str = "the run was canceled") -> list[Attempt]:
        """Stop a run: nothing new starts; returns the running attempts to kill."""
        with self.store.begin() as conn:
            tx = self._open(conn, run_id)
            if tx.run.life_cycle in TERMINAL or tx.run.stop_reason is not None:
                return []
            self._stop(tx, STOP_CANCELED, message)
            self._maybe_finish_run(tx, force=True)
        self._notify(tx)
        return tx.to_kill

    def _stop(self, tx: RunTx, reason: str, message: str) -> None:
        run_store.update_run(tx.conn, tx.run.run_id, stop_reason=reason, state_message=message)
        tx.run = run_store.get_run(tx.conn, tx.run.run_id)
        task_result = Result.CANCELED
        run_store.set_run_state(tx.conn, tx.run.run_id, LifeCycle.TERMINATING)
        for attempt in run_store.open_attempts_of_run(tx.conn, tx.run.run_id):
            if attempt.state == "PENDING":
                outcome = AttemptOutcome(task_result, error=message)
                try:
                    self._finish_attempt(tx, attempt, outcome, from_states=("PENDING",))
                    continue
                except AttemptEnded:
                    pass  # a worker claimed it meanwhile (PostgreSQL): kill it like the rest
            run_store.update_attempt(tx.conn, attempt.attempt_id, kill_reason=reason)
            tx.to_kill.append(attempt)
        for tr in run_store.retry_waiting(tx.conn, tx.run.run_id):
            self._end_task(tx, tr, task_result, message)
        self._stop_child_runs(tx, reason, message)
        self._advance(tx, tx.plan.dag.nodes)

    def adopt_run(
        self, run_id: int, message: str, *, alive: Callable[[str], bool] | None = None
    ) -> bool:
        """Take over a run whose coordinating process died: it goes on under this one.

        Its attempts that were running on a worker that is gone (`alive(worker_id)` false; by
        default: any) are failed as lost and retried per their policy; attempts of live workers
        go on; pending ones stay claimable. Returns False if the run had ended meanwhile.
        """
        with self.store.begin() as conn:
            tx = self._open(conn, run_id)
            if tx.run.life_cycle in TERMINAL:
                return False
            run_store.update_run(conn, run_id, coordinator_id=self.coordinator_id)
            for attempt in run_store.open_attempts_of_run(conn, run_id):
                lost = alive is None or not alive(attempt.worker_id or "")
                if attempt.state == "RUNNING" and lost:
                    outcome = AttemptOutcome(Result.FAILED, error=f"worker lost: {message}")
                    self._finish_attempt(tx, attempt, outcome)
            tx.timers_changed = True
            self._maybe_finish_run(tx, force=True)
        self._notify(tx)
        return True

    def fail_lost_attempt(self, attempt: Attempt, message: str) -> bool:
        """Fail a running attempt whose worker is gone; it is retried per its task's policy.

        Returns False if it had ended meanwhile (its worker reported after all).
        """
        with self.store.begin() as conn:
            tx = self._open(conn, attempt.run_id)
            outcome = AttemptOutcome(Result.FAILED, error=f"worker lost: {message}")
            try:
                self._finish_attempt(tx, attempt, outcome, from_states=("RUNNING",))
            except AttemptEnded:
                return False
            self._maybe_finish_run(tx)
        self._notify(tx)
        return True

    def fail_lost_run(self, run_id: int, message: str) -> bool:
        """End a run whose driving process died: lost attempts FAILED, the rest not run."""
        with self.store.begin() as conn:
            tx = self._open(conn, run_id)
            if tx.run.life_cycle in TERMINAL:
                return False
            run_store.update_run(conn, run_id, stop_reason=STOP_LOST, state_message=message)
            tx.run = run_store.get_run(conn, run_id)
            for attempt in run_store.open_attempts_of_run(conn, run_id):
                error = f"worker lost: {message}"
                self._finish_attempt(tx, attempt, AttemptOutcome(Result.FAILED, error=error))
            for tr in run_store.retry_waiting(conn, run_id):
                self._end_task(tx, tr, Result.FAILED, message)
            self._advance(tx, tx.plan.dag.nodes)
            if not tx.run_ended:
                self._end_run(tx, Result.FAILED, message)
        self._notify(tx)
        return True
