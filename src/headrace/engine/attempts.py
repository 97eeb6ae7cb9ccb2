"""Attempts and task ends: workers claim and finish attempts; a task's end releases its
dependents, which the planner decides in the same transaction (conditions inline, process tasks
as a new pending attempt with its references resolved).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from headrace.config import default_home
from headrace.engine import git_source, planner
from headrace.engine.planner import RetryTask, SkipTask, StartTask
from headrace.engine.resolve import render_deep
from headrace.engine.rules import error_code_for, evaluate_condition, widget_parameters
from headrace.engine.transaction import AttemptOutcome, RunLockNeeded, RunTx, task_state
from headrace.errors import AttemptEnded, SpecError
from headrace.spec.compute import task_compute
from headrace.spec.models import JobSettings, Task, TaskDependency
from headrace.spec.references import UnresolvedReference, render
from headrace.states import LifeCycle, Result, life_cycle_for
from headrace.store import queued_attempts
from headrace.store import runs as run_store
from headrace.store.queued_attempts import QueuedAttempt
from headrace.store.records import Attempt, TaskRun
from headrace.store.sql import Tx as Connection

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
            if not self.store.is_sqlite:  # the run's lock and the attempt's end: one statement
                tx, ended, ended_now = self._open_ending(conn, attempt, outcome, shared=shared)
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
            early: list[Attempt | None] = []
            if claim_for is not None and not self.store.is_sqlite:

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
        self, conn: Connection, attempt: Attempt, outcome: AttemptOutcome, *, shared: bool
    ) -> tuple[RunTx, TaskRun, bool]:
        """PostgreSQL: `_open(shared=shared)` and `_finish_attempt`'s end of the attempt in one
        statement (issue 18): (the transaction, the attempt's task run, whether it ended: the
        caller checks the run first, as when the lock was a statement of its own).

        The attempt's end time is read before the statement, so before its wait for the
        run's row, if any; the transaction's clock (what it stamps after: the task's end, the
        run's) is read again after it, as when the lock was taken first: a transaction that
        held the row and ended something of the run is followed, not preceded."""
        now = _not_before_start(self._now(), attempt)
        run, tr, ended = run_store.lock_run_and_end_attempt(
            conn,
            attempt.run_id,
            attempt.attempt_id,
            attempt.task_run_id,
            shared=shared,
            from_states=("RUNNING", "PENDING"),
            log=outcome.log,
            **_ended_columns(outcome, now),
        )
        digest = attempt.payload.get("settings_digest")
        tx_now = max(now, self._now())
        tx = self._tx_of_locked_run(conn, run, tx_now, shared=shared, settings_digest=digest)
        self._announce_at_commit(conn, [tx])
        return tx, tr, ended

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
        # A run's progress check (RunLifecycle._check_progress) is answered by this statement
        # when it can be: see RunTx.others_live.
        released, live = run_store.end_task_and_release_children(
            tx.conn,
            tr.task_run_id,
            life_cycle_for(result),
            tx.run.run_id,
            children,
            ask_live=tx.shared and not tx.claimed_own,
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
        if len(batch) == 1 or self.store.is_sqlite:  # one statement each anyway
            ids = [
                run_store.queue_attempt(
                    tx.conn,
                    item.task_run_id,
                    item.task_run_values,
                    run_id=item.run_id,
                    attempt_number=item.attempt_number,
                    payload=item.payload,
                    created_time=item.created_time,
                    pool=item.pool,
                    priority=item.priority,
                )
                for _, item in batch
            ]
        else:
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
            resolved = git_source.task_settings(tx.plan.settings, task, resolved, default_home())
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
