"""Attempts and task ends: workers claim and finish attempts; a task's end releases its
dependents, which the planner decides in the same transaction (conditions inline, process tasks
as a new pending attempt with its references resolved).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from headrace.engine import planner
from headrace.engine.planner import RetryTask, SkipTask, StartTask
from headrace.engine.rules import error_code_for
from headrace.engine.task_starts import NOT_YET_SUPPORTED, PROCESS_TASK_TYPES
from headrace.engine.transaction import AttemptOutcome, RunLockNeeded, RunTx, task_state
from headrace.errors import AttemptEnded
from headrace.spec.models import TaskDependency
from headrace.states import LifeCycle, Result, life_cycle_for
from headrace.store import runs as run_store
from headrace.store.attempts import ClaimAfterEnd, LogPaths, lock_run_end_attempt_and_claim
from headrace.store.queued_attempts import QueuedAttempt
from headrace.store.records import Attempt, TaskRun
from headrace.store.sql import Tx as Connection


def _not_before_upstreams(
    tx: RunTx, rows: dict[str, TaskRun], depends_on: Iterable[TaskDependency]
) -> None:
    """Stamp what follows in this transaction no earlier than the upstreams' ends. Two task
    ends of a run (its row FOR SHARE, PostgreSQL) read their clocks before counting their
    dependent down, in either order: the one that releases it may have read the earlier time."""
    for dep in depends_on:
        upstream = rows.get(dep.task_key)
        if upstream is not None and upstream.end_time is not None and upstream.end_time > tx.now:
            tx.now = upstream.end_time


def _not_before_start(now: int, attempt: Attempt) -> int:
    """An attempt's end time: not before it started. Its claim may have read a later clock
    than this transaction (another process's, or read after this one's, which does not lock
    claims out)."""
    if attempt.start_time is not None and attempt.start_time > now:
        return attempt.start_time
    return now


def _ended_columns(outcome: AttemptOutcome, now: int) -> dict[str, Any]:
    """The columns an attempt's end sets (besides its state)."""
    return {
        "result_state": outcome.result.value,
        "exit_code": outcome.exit_code,
        "error": outcome.error,
        "error_trace": outcome.error_trace,
        "output": json.dumps(outcome.output) if outcome.output else None,
        "end_time": now,
    }


class Attempts:
    """Claiming, starting and finishing attempts; ending tasks (part of `Coordinator`)."""

    def claim_next_attempt(
        self, worker_id: str, log_path: Callable[[Attempt], str], run_id: int | None = None
    ) -> Attempt | None:
        """Claim the oldest pending attempt (of `run_id` only, if given); mark it RUNNING."""
        with self.store.begin() as conn:
            return self._claim(conn, worker_id, log_path, run_id)

    def _claim(
        self,
        conn: Connection,
        worker_id: str,
        log_path: Callable[[Attempt], str],
        run_id: int | None = None,
    ) -> Attempt | None:
        return run_store.claim_next_attempt(
            conn, worker_id, self._now(), log_path, run_id, self.claim_pools, start_task=True
        )

    def record_pid(self, attempt_id: int, pid: int) -> None:
        """Remember an attempt's process so a later recovery can kill its group."""
        with self.store.begin() as conn:
            run_store.update_attempt(conn, attempt_id, pid=pid)

    def finish_attempt(
        self,
        attempt: Attempt,
        outcome: AttemptOutcome,
        *,
        claim_for: tuple[str, Callable[[Attempt], str], int | None] | None = None,
    ) -> Attempt | None:
        """Record an attempt's end; retry it, or end its task and start what is now ready.

        With `claim_for=(worker_id, log_path, run_id or None)` the same transaction also
        claims the worker's next attempt (saving a round trip per task) and returns it.

        On PostgreSQL the run's row is locked FOR SHARE when this end cannot end the run (a
        plain run, a task that is no leaf, no for_each iteration), so the tasks of one run end
        concurrently; a transaction that finds it must change the run after all (a cascade
        ended a leaf, the run cannot progress) is rolled back and done again FOR UPDATE.
        """
        shared: bool | None = None if not self.store.is_sqlite else False
        while True:
            try:
                tx, following = self._finish_in_tx(attempt, outcome, claim_for, shared)
                break
            except RunLockNeeded:
                shared = False
        self._notify(tx)
        return following

    def _finish_in_tx(
        self,
        attempt: Attempt,
        outcome: AttemptOutcome,
        claim_for: tuple[str, Callable[[Attempt], str], int | None] | None,
        shared: bool | None,
    ) -> tuple[RunTx, Attempt | None]:
        with self.store.begin() as conn:
            if shared is None:
                shared = self._may_share_run(conn, attempt)
            ended: TaskRun | None = None
            early: list[Attempt | None] = []
            if not self.store.is_sqlite:  # the run's lock and the attempt's end: one statement
                tx, ended, ended_now, claimed = self._open_ending(
                    conn, attempt, outcome, shared=shared, claim_for=claim_for
                )
                if claimed is not None:  # the worker's next claim rode on that statement
                    early.append(claimed[0])
                    tx.claimed_own = claimed[0] is not None and claimed[0].run_id == tx.run.run_id
            else:
                digest = attempt.payload.get("settings_digest")
                tx = self._open(conn, attempt.run_id, shared=False, settings_digest=digest)
            run = tx.run
            if shared and (
                run.life_cycle is not LifeCycle.RUNNING
                or run.stop_reason is not None
                or run.repair_count
            ):
                raise RunLockNeeded  # a stopping or repaired run: any task end may end it
            if ended is not None and not ended_now:
                raise AttemptEnded(f"attempt {attempt.attempt_id} has already ended")
            if claim_for is not None and not self.store.is_sqlite and not early:

                def claim_early() -> None:
                    assert claim_for is not None
                    claimed = self._claim(conn, *claim_for)
                    early.append(claimed)
                    tx.claimed_own = claimed is not None and claimed.run_id == tx.run.run_id

                tx.claim_before_release = claim_early
            if ended is None:
                self._finish_attempt(tx, attempt, outcome)
            else:
                self._attempt_ended(tx, attempt, outcome, ended)
            tx.claim_before_release = None
            if tx.shared and tx.leaf_ended:
                raise RunLockNeeded  # a cascade ended a leaf: the run may be complete
            # Claimed before the run's end is decided: an attempt of this run just claimed
            # proves the run can progress, which saves the invariant check its query.
            following = early[0] if early else None
            late = claim_for is not None and following is None and (not early or tx.new_attempts)
            if late:  # SQLite; or nothing was pending before this end released its dependents
                assert claim_for is not None
                following = self._claim(conn, *claim_for)
            tx.claimed_own = following is not None and following.run_id == tx.run.run_id
            self._maybe_finish_run(tx)
            if following is not None and following.attempt_id in tx.queued:
                # It took one this transaction queued: nobody to wake for it, in this process
                # or (decided before commit, when the NOTIFY is sent) in any other.
                tx.new_attempts -= 1
        return tx, following

    def _may_share_run(self, conn: Connection, attempt: Attempt) -> bool:
        """Whether ending `attempt` can hold its run's row FOR SHARE (see finish_attempt).

        Decided from the run's plan before its row is locked: a leaf task and a for_each
        iteration (whose parent's end counts its iterations) take the row FOR UPDATE. A plan
        this process has not cached yet is read first, without a lock, and cached (the same
        one read the transaction would do after locking); the run's repair count is checked
        again under the lock.
        """
        if "iteration" in attempt.payload:
            return False
        cached = self._plans.get((attempt.run_id, 0))
        if cached is None:  # the run is new here; maybe its settings text is not
            cached = self._plan_of_digest(
                (attempt.run_id, 0), attempt.payload.get("settings_digest")
            )
        if cached is None:
            repair_count, settings = run_store.run_settings_unlocked(conn, attempt.run_id)
            cached = self._remember_plan_of_text((attempt.run_id, repair_count), settings)
            if repair_count:
                return False
        key = attempt.payload.get("task_key")
        dag = cached[0].dag
        return key in dag.nodes and key not in dag.leaves

    def _finish_attempt(
        self,
        tx: RunTx,
        attempt: Attempt,
        outcome: AttemptOutcome,
        *,
        from_states: Sequence[str] = ("RUNNING", "PENDING"),
    ) -> None:
        tx.now = _not_before_start(tx.now, attempt)
        tr = run_store.end_attempt_of_task_run(
            tx.conn,
            attempt.attempt_id,
            attempt.task_run_id,
            from_states=from_states,
            log=outcome.log,
            **_ended_columns(outcome, tx.now),
        )
        self._attempt_ended(tx, attempt, outcome, tr)

    def _open_ending(
        self,
        conn: Connection,
        attempt: Attempt,
        outcome: AttemptOutcome,
        *,
        shared: bool,
        claim_for: tuple[str, Callable[[Attempt], str], int | None] | None = None,
    ) -> tuple[RunTx, TaskRun, bool, tuple[Attempt | None] | None]:
        """PostgreSQL: `_open(shared=shared)` and `_finish_attempt`'s end of the attempt in one
        statement (issue 18): (the transaction, the attempt's task run, whether it ended: the
        caller checks the run first, as when the lock was a statement of its own, and the
        claim). With `claim_for` and its log paths a `LogPaths` (a worker's), the same
        statement claims the worker's next attempt once the attempt has ended, after the
        run's lock (see store.attempts.lock_run_end_attempt_and_claim): the claim is then
        `(attempt or None,)`, else None (no claim asked, or one the caller makes).

        The attempt's end time is read before the statement, so before its wait for the
        run's row, if any; the transaction's clock (what it stamps after: the task's end, the
        run's) is read again after it, as when the lock was taken first: a transaction that
        held the row and ended something of the run is followed, not preceded."""
        clock = self._now()
        now = _not_before_start(clock, attempt)
        claim = None
        if claim_for is not None and isinstance(claim_for[1], LogPaths):
            worker_id, log_paths, coordinator_id = claim_for
            claim = ClaimAfterEnd(worker_id, clock, log_paths, coordinator_id, self.claim_pools)
        run, tr, ended, claimed = lock_run_end_attempt_and_claim(
            conn,
            attempt.run_id,
            attempt.attempt_id,
            attempt.task_run_id,
            claim,
            shared=shared,
            from_states=("RUNNING", "PENDING"),
            log=outcome.log,
            **_ended_columns(outcome, now),
        )
        digest = attempt.payload.get("settings_digest")
        tx_now = max(now, self._now())
        tx = self._tx_of_locked_run(conn, run, tx_now, shared=shared, settings_digest=digest)
        self._announce_at_commit(conn, [tx])
        return tx, tr, ended, (claimed,) if claim is not None else None

    def _attempt_ended(
        self, tx: RunTx, attempt: Attempt, outcome: AttemptOutcome, tr: TaskRun
    ) -> None:
        """After an attempt's end (its task run `tr` as it was then): retry it, or end its
        task."""
        if outcome.task_values:
            merged = {**tr.task_values, **outcome.task_values}
            run_store.update_task_run(tx.conn, tr.task_run_id, task_values=json.dumps(merged))
            tx.task_values = None  # read again by the next attempt this transaction starts
        task = self._task_of(tx, tr)
        result = outcome.result
        if tx.run.stop_reason is None and planner.should_retry(
            result=result,
            attempt_number=attempt.attempt_number,
            max_retries=task.max_retries,
            retry_on_timeout=task.retry_on_timeout,
        ):
            retry_at = (attempt.start_time or tx.now) + task.min_retry_interval_millis
            what = f"attempt {attempt.attempt_number + 1} {result.value.lower()}"
            message = f"{what}: {outcome.error}" if outcome.error else what
            if tx.alerts is not None and tr.task_key in tx.alerts.tasks and tr.parent_id is None:
                self._alert_attempt_failed(tx, tr, attempt.attempt_number, result, message)
            run_store.set_task_state(
                tx.conn,
                tr.task_run_id,
                LifeCycle.WAITING_FOR_RETRY,
                retry_at=retry_at,
                state_message=message,
            )
            if retry_at <= tx.now:
                self._start_attempt(tx, run_store.task_run(tx.conn, tr.task_run_id), task)
            else:
                tx.timers_changed = True
            return
        self._end_task(tx, tr, result, outcome.error or "", error_code=error_code_for(result))

    def _end_task(
        self,
        tx: RunTx,
        tr: TaskRun,
        result: Result,
        message: str,
        *,
        outcome: str | None = None,
        error_code: str | None = None,
    ) -> None:
        """Make a task run terminal, then propagate to its children or its for_each parent."""
        tx.settled.add(tr.task_run_id)
        ended = {
            "result_state": result.value,
            "state_message": message,
            "outcome": outcome,
            "error_code": error_code,
            "end_time": tx.now,
            "retry_at": None,
        }
        if tr.parent_id is not None:
            run_store.set_task_state(tx.conn, tr.task_run_id, life_cycle_for(result), **ended)
            self._iteration_ended(tx, tr.parent_id)  # iterations notify nobody
            return
        tx.leaf_ended = tx.leaf_ended or tr.task_key in tx.plan.dag.leaves
        children = tx.plan.dag.children.get(tr.task_key, ())
        if tx.claim_before_release is not None:
            claim, tx.claim_before_release = tx.claim_before_release, None
            claim()
        # The task's end and its dependents' count-down: one statement on PostgreSQL, the
        # transaction's last before commit unless dependents start.
        # A run's progress check (RunEnds._check_progress) is answered by this statement
        # when it can be: see RunTx.others_live. Not when a child has other upstreams: the
        # statement may wait on that child's row for another task end, and its answer comes
        # from the snapshot taken before the wait (that end may have ended the last live one).
        dag = tx.plan.dag
        ask_live = (
            tx.shared
            and not tx.claimed_own
            and all(len(dag.nodes[c].depends_on) == 1 for c in children)
        )
        released, live = run_store.end_task_and_release_children(
            tx.conn,
            tr.task_run_id,
            life_cycle_for(result),
            tx.run.run_id,
            children,
            ask_live=ask_live,
            **ended,
        )
        tx.others_live = tx.others_live or live
        if tx.alerts is not None and tr.task_key in tx.alerts.tasks:
            self._alert_task_end(tx, tr, result, message)
        # The count-down may have waited for another task end of this run (both hold its
        # row FOR SHARE on PostgreSQL) that set task values: read them again after it.
        if tx.shared:
            tx.task_values = None
        self._advance(tx, released)

    def _advance(self, tx: RunTx, keys: Iterable[str]) -> None:
        """Plan the given top-level tasks and apply the decisions, until nothing more follows."""
        pending = list(keys)
        dag = tx.plan.dag
        while pending:
            needed = set(pending)
            for key in pending:
                needed.update(e.task_key for e in dag.nodes[key].depends_on)
            fresh, tx.fresh_task_runs = tx.fresh_task_runs, None  # only before any change
            if fresh is not None:
                found = [fresh[key] for key in needed if key in fresh]
            elif tx.task_values is None:
                # The run's task values with the same read (an attempt started below gets
                # them): after this transaction's count-down, as _task_values would read them.
                found, tx.task_values = run_store.current_task_runs_and_values(
                    tx.conn, tx.run.run_id, needed
                )
            else:
                found = run_store.current_task_runs(tx.conn, tx.run.run_id, needed)
            rows = {tr.task_key: tr for tr in found}
            states = {k: task_state(tr) for k, tr in rows.items()}
            decisions = planner.decide_tasks(
                dag, states, pending, now_ms=tx.now, canceling=tx.run.stop_reason is not None
            )
            pending = []
            # Consecutive attempts to queue go in one statement (PostgreSQL), queued before
            # any other decision is applied: what happens, and in which order, is unchanged.
            batch: list[tuple[TaskRun, QueuedAttempt]] = []
            for decision in decisions:
                tr = rows[decision.key]
                if tr.task_run_id in tx.settled:
                    continue  # a cascade earlier in this pass already decided it
                tx.settled.add(tr.task_run_id)
                _not_before_upstreams(tx, rows, dag.nodes[decision.key].depends_on)
                if isinstance(decision, StartTask | RetryTask):
                    task = tx.plan.tasks[tr.task_key]
                    kind = task.task_type
                    if kind in PROCESS_TASK_TYPES and kind not in NOT_YET_SUPPORTED:
                        item = self._attempt_to_queue(tx, tr, task)
                        if not isinstance(item, str):
                            batch.append((tr, item))
                            continue
                        self._queue_attempts(tx, batch)
                        self._fail_before_start(tx, tr, item)
                        continue
                self._queue_attempts(tx, batch)
                if isinstance(decision, SkipTask):
                    self._end_task(tx, tr, decision.result, decision.message)
                elif isinstance(decision, StartTask | RetryTask):
                    self._start_task(tx, tr, tx.plan.tasks[tr.task_key])
            self._queue_attempts(tx, batch)
