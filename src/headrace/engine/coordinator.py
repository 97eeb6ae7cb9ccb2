"""The coordinator: applies the planner's decisions to the store, one transaction per event.

Every entry point locks the run, changes states with guarded writes, decides what becomes
ready in the same transaction (so no downstream task is ever lost between two commits), and
tells its listeners afterwards so workers and progress views wake at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, event

from headrace.clock import now_ms  # re-exported: many callers import it from here
from headrace.config import default_home
from headrace.engine import git_source, planner
from headrace.engine.planner import RetryTask, SkipTask, StartTask, TaskState
from headrace.engine.resolve import ReferenceScope, as_text, render_deep
from headrace.engine.rules import (
    check_parameters,
    error_code_for,
    evaluate_condition,
    failure_message,
    repair_selection,
    widget_parameters,
)
from headrace.engine.run_plan import RunPlan, plan_from_json, settings_to_json
from headrace.errors import (
    AttemptEnded,
    Conflict,
    HeadraceError,
    NotFound,
    PermissionDenied,
    SpecError,
    SpecIssue,
)
from headrace.spec.compute import task_compute
from headrace.spec.models import JobSettings, Task
from headrace.spec.references import UnresolvedReference, render
from headrace.states import ACTIVE, SUCCESSFUL, TERMINAL, LifeCycle, Result, life_cycle_for
from headrace.store import health_timers, progress, signals
from headrace.store import jobs as job_store
from headrace.store import runs as run_store
from headrace.store.db import Store, before_commit
from headrace.store.records import Attempt, Run, TaskRun

if TYPE_CHECKING:  # loaded at run time only by runs that notify someone (see _alerts_of)
    from headrace.engine import notifications as alerts

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
# dbt_task's runner builds its dbt environment from the spec itself).
ENVIRONMENT_TASK_TYPES = frozenset({"spark_python_task", "python_wheel_task", "dbt_task"})
# Accepted by the spec but not run by Headrace: they fail loudly, naming why.
NOT_YET_SUPPORTED: dict[str, str] = {}
MAX_RUN_JOB_DEPTH = 10  # run_job_task chains deeper than this are a loop, not a design
STOP_CANCELED = "CANCELED"
STOP_TIMEDOUT = "TIMEDOUT"
STOP_LOST = "LOST"


def _settings_json(settings: Any) -> Any:
    """A task type's settings as JSON: a model dumped, loose settings (a dict) as they are."""
    if isinstance(settings, dict):
        return settings
    return settings.model_dump(mode="json", exclude_none=True)


def _coordinates(tx: _Tx) -> bool:
    """Whether the coordinating server has something to do after this transaction (outbox
    rows included: its delivery loop sends what other processes' transactions queued)."""
    return tx.timers_changed or tx.run_ended or bool(tx.admitted) or tx.notifications > 0


def _environment_spec(settings: JobSettings, key: str) -> dict[str, Any]:
    """The spec of the job environment a task names (validation made sure it exists)."""
    env = next(e for e in settings.environments if e.environment_key == key)
    return env.spec.model_dump(mode="json", exclude_none=True)


@dataclass(frozen=True)
class AttemptOutcome:
    """What a worker reports when an attempt's process has ended."""

    result: Result
    error: str | None = None
    error_trace: str | None = None
    exit_code: int | None = None
    task_values: dict[str, Any] | None = None
    # What the task type reports beyond its result: notebook_output, sql_output, ...
    output: dict[str, Any] | None = None
    # (gzipped log, whole size): kept in the store for servers on other machines (PostgreSQL)
    log: tuple[bytes, int] | None = None


class Admission(Enum):
    """What max_concurrent_runs makes of a new run."""

    RUN = "run"
    QUEUE = "queue"
    SKIP = "skip"


@dataclass(frozen=True)
class Change:
    """What one committed coordinator transaction did, for those who wait on it."""

    run_id: int
    new_attempts: int
    run_ended: bool
    timers_changed: bool
    notifications: int = 0  # outbox rows this transaction added: the delivery loop wakes


@dataclass
class _Tx:
    """The working set of one coordinator transaction."""

    conn: Connection
    run: Run
    plan: RunPlan
    now: int
    job_name: str
    new_attempts: int = 0
    run_ended: bool = False
    timers_changed: bool = False
    leaf_ended: bool = False  # only then can the run be complete (upstreams end first)
    settled: set[int] = field(default_factory=set)  # task runs started or ended in this tx
    filling: set[int] = field(default_factory=set)  # for_each task runs being settled
    admitted: list[_Tx] = field(default_factory=list)  # queued runs this transaction started
    to_kill: list[Attempt] = field(default_factory=list)
    alerts: alerts.RunAlerts | None = None  # None: the run notifies nobody (the usual case)
    notifications: int = 0


class Coordinator:
    """Advances runs: start, finish attempts, retry, time out, cancel, repair, recover."""

    def __init__(self, store: Store, *, coordinator_id: str | None = None) -> None:
        self.store = store
        self.coordinator_id = coordinator_id
        # Which worker pools this process's slots serve (besides pool-less attempts); None: all
        # (a `headrace run` runs every task of its job itself).
        self.claim_pools: frozenset[str] | None = None
        self._listeners: list[Callable[[Change], None]] = []
        self._plans: dict[tuple[int, int], tuple[RunPlan, alerts.RunAlerts | None]] = {}
        # A rolled-back transaction may have cached the plan of a run that never existed,
        # whose id the next run then gets: forget cached plans on any rollback (rare).
        event.listen(store.engine, "rollback", lambda _conn: self._plans.clear())

    def subscribe(self, listener: Callable[[Change], None]) -> None:
        """Call `listener(change)` after each committed change."""
        self._listeners.append(listener)

    def _notify(self, tx: _Tx) -> None:
        change = Change(
            tx.run.run_id, tx.new_attempts, tx.run_ended, tx.timers_changed, tx.notifications
        )
        for listener in self._listeners:
            listener(change)
        for admitted in tx.admitted:
            self._notify(admitted)

    # --- transactions -----------------------------------------------------------------------

    def _open(self, conn: Connection, run_id: int) -> _Tx:
        tx = self._open_run(conn, run_id)
        if not self.store.is_sqlite:
            # Other processes (workers, the coordinating server) learn of it at commit.
            before_commit(
                conn, lambda c: signals.announce(c, tx.new_attempts > 0, _coordinates(tx))
            )
        return tx

    def _open_run(self, conn: Connection, run_id: int) -> _Tx:
        run = run_store.lock_run(conn, run_id)
        # A run's settings change only when it is repaired, so (run, repair_count) keys them.
        key = (run_id, run.repair_count)
        cached = self._plans.get(key)
        if cached is None:
            plan = plan_from_json(run_store.run_settings(conn, run_id))
            cached = (plan, _alerts_of(plan.settings))
            if len(self._plans) > 256:
                self._plans.clear()
            self._plans[key] = cached
        plan, run_alerts = cached
        return _Tx(conn, run, plan, now_ms(), plan.settings.name, alerts=run_alerts)

    # --- starting a run ---------------------------------------------------------------------

    def start_run(
        self,
        settings: JobSettings,
        *,
        job_id: int | None,
        parameters: dict[str, str] | None = None,
        trigger_type: str = "ONE_TIME",
        run_type: str = "JOB_RUN",
        run_name: str | None = None,
        run_as: str | None = None,
        idempotency_token: str | None = None,
        job_version: int | None = None,
        queue: bool | None = None,
        trigger_info: dict[str, Any] | None = None,
        on_created: Callable[[Connection, int], None] | None = None,
    ) -> int:
        """Create a run of `settings` and start its root tasks. Raises: SpecError.

        A second call with the same `idempotency_token` returns the first run instead.
        `queue` overrides the job's queue setting for this run. `on_created(conn, run_id)`
        runs inside the creating transaction (the trigger loop records its tick there, so a
        tick and its run are committed together or not at all).
        """
        check_parameters(settings, parameters or {})
        settings = git_source.pin(settings, default_home())  # clone/fetch outside the transaction
        with self.store.begin() as conn:
            if idempotency_token is not None:
                existing = run_store.run_with_token(conn, idempotency_token, run_as)
                if existing is not None:
                    if existing.job_id != job_id:
                        raise SpecError(
                            [SpecIssue("idempotency_token", "already used for another run")]
                        )
                    return existing.run_id
            run_id, tx = self._create_run(
                conn,
                settings,
                job_id=job_id,
                parameters=parameters or {},
                trigger_type=trigger_type,
                run_type=run_type,
                run_name=run_name,
                run_as=run_as,
                idempotency_token=idempotency_token,
                job_version=job_version,
                queue=queue,
                trigger_info=trigger_info,
            )
            if on_created is not None:
                on_created(conn, run_id)
        if tx is None:
            for listener in self._listeners:
                listener(Change(run_id, 0, True, False))
        else:
            self._notify(tx)
        return run_id

    def _create_run(
        self,
        conn: Connection,
        settings: JobSettings,
        *,
        job_id: int | None,
        parameters: dict[str, str],
        trigger_type: str,
        run_type: str,
        run_name: str | None,
        run_as: str | None,
        idempotency_token: str | None,
        job_version: int | None,
        queue: bool | None,
        trigger_info: dict[str, Any] | None,
    ) -> tuple[int, _Tx | None]:
        """Insert a run (running, queued or skipped by max_concurrent_runs) in `conn`'s
        transaction; returns its id and, unless it was skipped, its working set."""
        now = now_ms()
        settings_json = settings_to_json(settings)
        admission, message = self._admission(conn, settings, job_id, queue)
        skipped = admission is Admission.SKIP
        ids = run_store.allocate_ids(conn, 1 if skipped else 1 + len(settings.tasks))
        run_id = ids[0]
        if skipped:
            life = LifeCycle.SKIPPED
        else:
            life = LifeCycle.QUEUED if admission is Admission.QUEUE else LifeCycle.RUNNING
        timeout = settings.timeout_seconds
        run_store.insert_run(
            conn,
            run_id=run_id,
            job_id=job_id,
            run_name=run_name or settings.name,
            run_type=run_type,
            trigger_type=trigger_type,
            settings=settings_json,
            job_parameters="[]",
            life_cycle_state=life.value,
            result_state=Result.MAXIMUM_CONCURRENT_RUNS_REACHED.value if skipped else None,
            state_message=message,
            coordinator_id=self.coordinator_id,
            repair_count=0,
            timeout_at=now + timeout * 1000 if timeout and not skipped else None,
            created_time=now,
            start_time=now,
            end_time=now if skipped else None,
            run_as=run_as,
            idempotency_token=idempotency_token,
            job_version=job_version,
            trigger_info=json.dumps(trigger_info) if trigger_info else None,
        )
        if skipped:
            if _alerts_of(settings) is not None:
                skipped_tx = self._open(conn, run_id)
                self._alert_run_end(skipped_tx, Result.MAXIMUM_CONCURRENT_RUNS_REACHED, message)
            return run_id, None
        tx = self._open(conn, run_id)
        resolved = resolve_job_parameters(tx, parameters)
        run_store.update_run(conn, run_id, job_parameters=json.dumps(resolved))
        tx.run = run_store.get_run(conn, run_id)
        rows = [
            _task_run_row(task_run_id, run_id, t, waiting_on=len(t.depends_on))
            for task_run_id, t in zip(ids[1:], settings.tasks, strict=True)
        ]
        run_store.insert_task_runs(conn, rows)
        if admission is Admission.RUN:
            self._begin(tx)
        return run_id, tx

    def _begin(self, tx: _Tx) -> None:
        """Start a run's root tasks (or end it at once when it has no tasks)."""
        tx.timers_changed = True
        if tx.alerts is not None and tx.alerts.job is not None:
            self._alert_run_start(tx)
        tasks = tx.plan.settings.tasks
        self._advance(tx, [t.task_key for t in tasks if not t.depends_on])
        self._maybe_finish_run(tx, force=not tasks)

    # --- max_concurrent_runs and the queue --------------------------------------------------

    def _admission(
        self, conn: Connection, settings: JobSettings, job_id: int | None, queue: bool | None
    ) -> tuple[Admission, str]:
        """Run now, queue, or skip a new run of a job, by max_concurrent_runs (§6.11)."""
        if job_id is None:
            return Admission.RUN, ""
        job_store.lock_job(conn, job_id)  # PostgreSQL: concurrent starts count one at a time
        limit = settings.max_concurrent_runs
        active = run_store.count_admitted_runs(conn, job_id)
        waiting = run_store.queued_runs(conn, job_id)
        if active < limit and not waiting:
            return Admission.RUN, ""
        why = f"the job already has {active} active run(s) (max_concurrent_runs={limit})"
        if queue is None:
            queue = settings.queue.enabled if settings.queue is not None else True
        if queue and limit > 0:
            return Admission.QUEUE, f"Queued: {why}"
        return Admission.SKIP, f"Skipped: {why}"

    def admit_queued(self, job_id: int) -> None:
        """Start queued runs of a job while it has free slots (a safety-net sweep)."""
        with self.store.begin() as conn:
            admitted = self._admit_queued(conn, job_id)
        for tx in admitted:
            self._notify(tx)

    def _admit_queued(self, conn: Connection, job_id: int) -> list[_Tx]:
        admitted = []
        active = run_store.count_admitted_runs(conn, job_id)
        for queued in run_store.queued_runs(conn, job_id):
            tx = self._open(conn, queued.run_id)
            if tx.run.life_cycle != LifeCycle.QUEUED:
                # Another process admitted (or canceled) it while we waited for its row lock.
                if tx.run.life_cycle not in TERMINAL:
                    active += 1
                continue
            if active >= tx.plan.settings.max_concurrent_runs:
                break
            timeout = tx.plan.settings.timeout_seconds
            run_store.set_run_state(
                conn,
                queued.run_id,
                LifeCycle.RUNNING,
                state_message="",
                start_time=tx.now,
                timeout_at=tx.now + timeout * 1000 if timeout else None,
            )
            tx.run = run_store.get_run(conn, queued.run_id)
            self._begin(tx)
            admitted.append(tx)
            active += 1
        return admitted

    # --- workers' side ----------------------------------------------------------------------

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
        attempt = run_store.claim_next_attempt(
            conn, worker_id, now_ms(), log_path, run_id, self.claim_pools
        )
        if attempt is not None:
            found = {"state_message": ""} if attempt.pool else {}  # no longer waiting for one
            run_store.set_task_state(conn, attempt.task_run_id, LifeCycle.RUNNING, **found)
        return attempt

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
        """
        with self.store.begin() as conn:
            tx = self._open(conn, attempt.run_id)
            self._finish_attempt(tx, attempt, outcome)
            self._maybe_finish_run(tx)
            following = self._claim(conn, *claim_for) if claim_for is not None else None
        if following is not None:
            tx.new_attempts -= 1
        self._notify(tx)
        return following

    def _finish_attempt(
        self,
        tx: _Tx,
        attempt: Attempt,
        outcome: AttemptOutcome,
        *,
        from_states: Sequence[str] = ("RUNNING", "PENDING"),
    ) -> None:
        run_store.end_attempt(
            tx.conn,
            attempt.attempt_id,
            from_states=from_states,
            result_state=outcome.result.value,
            exit_code=outcome.exit_code,
            error=outcome.error,
            error_trace=outcome.error_trace,
            output=json.dumps(outcome.output) if outcome.output else None,
            end_time=tx.now,
        )
        if outcome.log is not None:
            from headrace.store.logs import save_log

            save_log(tx.conn, attempt.attempt_id, *outcome.log)
        tr = run_store.task_run(tx.conn, attempt.task_run_id)
        if outcome.task_values:
            merged = {**tr.task_values, **outcome.task_values}
            run_store.update_task_run(tx.conn, tr.task_run_id, task_values=json.dumps(merged))
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

    # --- ending tasks and what follows ------------------------------------------------------

    def _end_task(
        self,
        tx: _Tx,
        tr: TaskRun,
        result: Result,
        message: str,
        *,
        outcome: str | None = None,
        error_code: str | None = None,
    ) -> None:
        """Make a task run terminal, then propagate to its children or its for_each parent."""
        tx.settled.add(tr.task_run_id)
        run_store.set_task_state(
            tx.conn,
            tr.task_run_id,
            life_cycle_for(result),
            result_state=result.value,
            state_message=message,
            outcome=outcome,
            error_code=error_code,
            end_time=tx.now,
            retry_at=None,
        )
        if tx.alerts is not None and tr.task_key in tx.alerts.tasks and tr.parent_id is None:
            self._alert_task_end(tx, tr, result, message)
        if tr.parent_id is not None:
            self._iteration_ended(tx, tr.parent_id)
        else:
            tx.leaf_ended = tx.leaf_ended or tr.task_key in tx.plan.dag.leaves
            children = tx.plan.dag.children.get(tr.task_key, ())
            self._advance(tx, run_store.release_children(tx.conn, tx.run.run_id, children))

    def _advance(self, tx: _Tx, keys: Iterable[str]) -> None:
        """Plan the given top-level tasks and apply the decisions, until nothing more follows."""
        pending = list(keys)
        dag = tx.plan.dag
        while pending:
            needed = set(pending)
            for key in pending:
                needed.update(e.task_key for e in dag.nodes[key].depends_on)
            rows = {
                tr.task_key: tr
                for tr in run_store.current_task_runs(tx.conn, tx.run.run_id, needed)
            }
            states = {k: _state(tr) for k, tr in rows.items()}
            decisions = planner.decide_tasks(
                dag, states, pending, now_ms=tx.now, canceling=tx.run.stop_reason is not None
            )
            pending = []
            for decision in decisions:
                tr = rows[decision.key]
                if tr.task_run_id in tx.settled:
                    continue  # a cascade earlier in this pass already decided it
                tx.settled.add(tr.task_run_id)
                if isinstance(decision, SkipTask):
                    self._end_task(tx, tr, decision.result, decision.message)
                elif isinstance(decision, StartTask | RetryTask):
                    self._start_task(tx, tr, tx.plan.tasks[tr.task_key])

    def _start_task(self, tx: _Tx, tr: TaskRun, task: Task) -> None:
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

    def _scope(self, tx: _Tx, tr: TaskRun, task: Task, attempt_number: int) -> ReferenceScope:
        scope = ReferenceScope(
            conn=tx.conn,
            run=tx.run,
            job_name=tx.job_name,
            task_key=tr.task_key,
            task_run_id=tr.task_run_id,
            attempt_number=attempt_number,
            notebook_path=task.notebook_task.notebook_path if task.notebook_task else None,
        )
        if tr.parent_id is not None:
            scope.input = json.loads(tr.input) if tr.input is not None else None
            scope.has_input = True
        return scope

    def _start_attempt(self, tx: _Tx, tr: TaskRun, task: Task) -> None:
        """Queue the next attempt of a process task, with its references resolved now."""
        attempt_number = tr.attempt_number + 1 if tr.start_time is not None else 0
        kind = task.task_type
        scope = self._scope(tx, tr, task, attempt_number)
        try:
            resolved = render_deep(_settings_json(task.task_type_settings), scope)
            if task.libraries and kind in LIBRARY_TASK_TYPES:
                resolved = {**resolved, "libraries": render_deep(task.libraries, scope)}
            resolved = git_source.task_settings(tx.plan.settings, task, resolved, default_home())
        except (UnresolvedReference, SpecError) as exc:
            self._fail_before_start(tx, tr, str(exc))
            return
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
            "task_values": run_store.task_values_of_run(tx.conn, tx.run.run_id),
        }
        if tr.parent_id is not None:
            payload["iteration"] = tr.iteration
        if task.environment_key is not None and kind in ENVIRONMENT_TASK_TYPES:
            payload["environment"] = _environment_spec(tx.plan.settings, task.environment_key)
        compute = task_compute(tx.plan.settings, task)  # Spark: job/named cluster (issue 12)
        if compute is not None:
            payload["compute"] = compute
        pool = task.worker_pool
        waiting = {"state_message": f"waiting for a worker in pool '{pool}'"} if pool else {}
        run_store.set_task_state(
            tx.conn,
            tr.task_run_id,
            LifeCycle.PENDING,
            attempt_number=attempt_number,
            resolved=json.dumps({kind: resolved}),
            start_time=tr.start_time if tr.start_time is not None else tx.now,
            retry_at=None,
            **waiting,
        )
        run_store.insert_attempt(
            tx.conn,
            task_run_id=tr.task_run_id,
            run_id=tx.run.run_id,
            attempt_number=attempt_number,
            state="PENDING",
            payload=json.dumps(payload),
            created_time=tx.now,
            pool=pool,
            priority=task.priority if task.priority is not None else tx.plan.settings.priority or 0,
        )
        tx.new_attempts += 1
        self._alert_task_start(tx, tr, attempt_number)

    def _fail_before_start(self, tx: _Tx, tr: TaskRun, message: str) -> None:
        if tr.start_time is None:
            run_store.update_task_run(tx.conn, tr.task_run_id, start_time=tx.now)
        self._end_task(tx, tr, Result.FAILED, message, error_code="InvalidParameterValue")

    # --- condition tasks --------------------------------------------------------------------

    def _run_condition(self, tx: _Tx, tr: TaskRun, task: Task) -> None:
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

    # --- run_job tasks ----------------------------------------------------------------------

    def _start_child_run(self, tx: _Tx, tr: TaskRun, task: Task) -> None:
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
            child_id, child_tx = self._create_run(
                tx.conn,
                plan_from_json(json.dumps(job.settings)).settings,
                job_id=job.job_id,
                parameters=params,
                trigger_type="RUN_JOB_TASK",
                run_type="JOB_RUN",
                run_name=None,
                run_as=tx.run.run_as,
                idempotency_token=None,
                job_version=job_store.latest_version(tx.conn, job.job_id),
                queue=None,
                trigger_info={
                    "run_id": tr.task_run_id,
                    "parent_run_id": tx.run.run_id,
                    "depth": depth,
                },
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

    def _child_run_ended(self, tx: _Tx, result: Result, message: str) -> None:
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

    def _stop_child_runs(self, tx: _Tx, reason: str, message: str) -> None:
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

    # --- for_each tasks ---------------------------------------------------------------------

    def _start_for_each(self, tx: _Tx, tr: TaskRun, task: Task) -> None:
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
            _task_run_row(
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

    def _iteration_ended(self, tx: _Tx, parent_id: int) -> None:
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

    def _settle_for_each(self, tx: _Tx, parent_id: int) -> None:
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

    # --- ending the run ---------------------------------------------------------------------

    def _maybe_finish_run(self, tx: _Tx, *, force: bool = False) -> None:
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
        if run_store.count_open_task_runs(tx.conn, tx.run.run_id):
            self._check_progress(tx)
            return
        task_runs = run_store.current_task_runs(tx.conn, tx.run.run_id)
        states = {tr.task_key: _state(tr) for tr in task_runs}
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

    def _check_progress(self, tx: _Tx) -> None:
        """Invariant: a running run always has a task pending, running or waiting to retry.

        Blocked tasks with nothing live left upstream would wait forever, and every later run
        of the job would queue behind them (issue 11): such a run ends INTERNAL_ERROR, naming
        them. One indexed query, and only in transactions that started nothing.
        """
        if tx.run.life_cycle is not LifeCycle.RUNNING or tx.new_attempts or tx.run_ended:
            return
        stuck = progress.stuck_task_runs(tx.conn, tx.run.run_id)
        if not stuck:
            return
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
        self, tx: _Tx, result: Result, message: str, *, life: LifeCycle = LifeCycle.TERMINATED
    ) -> None:
        # A nested step (a child run ending its parent's task) may have ended it already.
        tx.run = run_store.get_run(tx.conn, tx.run.run_id)
        if tx.run.life_cycle in TERMINAL:
            return
        run_store.set_run_state(
            tx.conn,
            tx.run.run_id,
            life,
            result_state=result.value,
            state_message=message,
            end_time=tx.now,
        )
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
        if tx.run.job_id is not None:  # its slot is free: the next queued run may start
            tx.admitted.extend(self._admit_queued(tx.conn, tx.run.job_id))

    # --- timers: retries and the job timeout ------------------------------------------------

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

    # --- cancellation -----------------------------------------------------------------------

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

    def _stop(self, tx: _Tx, reason: str, message: str) -> None:
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

    # --- repair -----------------------------------------------------------------------------

    def repair_run(
        self,
        run_id: int,
        *,
        rerun_tasks: Sequence[str] = (),
        rerun_all_failed_tasks: bool = False,
        rerun_dependent_tasks: bool = False,
        latest_repair_id: int | None = None,
        job_parameters: dict[str, str] | None = None,
    ) -> int:
        """Rerun chosen tasks (and dependents) inside the same run; returns the repair id.

        Raises: Conflict (run still active), SpecError (bad selection or parameters).
        """
        with self.store.begin() as conn:
            run = run_store.lock_run(conn, run_id)
            if run.life_cycle not in TERMINAL:
                raise Conflict(f"Run {run_id} is still active; only ended runs can be repaired.")
            if run.latest_repair_id is not None and latest_repair_id != run.latest_repair_id:
                raise SpecError(
                    "The latest repair ID needs to be provided in order to create a new repair"
                    f" (latest_repair_id={run.latest_repair_id})"
                )
            settings_json = run_store.run_settings(conn, run_id)
            if run.job_id is not None:
                try:
                    current = job_store.get_job(conn, run.job_id).settings
                    settings_json = json.dumps(current)
                except NotFound:
                    pass
            plan = plan_from_json(settings_json)
            if job_parameters:
                check_parameters(plan.settings, job_parameters)
            current_runs = {tr.task_key: tr for tr in run_store.current_task_runs(conn, run_id)}
            selected = repair_selection(
                plan, current_runs, rerun_tasks, rerun_all_failed_tasks, rerun_dependent_tasks
            )
            now = now_ms()
            ids = run_store.allocate_ids(conn, 1 + len(selected))
            repair_id = ids[0]
            run_store.insert_repair(
                conn,
                repair_id=repair_id,
                run_id=run_id,
                rerun_tasks=json.dumps(sorted(selected)),
                life_cycle_state=LifeCycle.RUNNING.value,
                state_message="",
                start_time=now,
                previous_result_state=run.result.value if run.result else None,
                previous_end_time=run.end_time,
            )
            old = [current_runs[k] for k in selected if k in current_runs]
            run_store.retire_task_runs(conn, [tr.task_run_id for tr in old])
            run_store.retire_iterations(conn, [tr.task_run_id for tr in old])
            ordered = [k for k in plan.tasks if k in selected]
            rows = [
                _task_run_row(
                    task_run_id,
                    run_id,
                    plan.tasks[key],
                    waiting_on=sum(1 for d in plan.tasks[key].depends_on if d.task_key in selected),
                    repair_id=repair_id,
                )
                for task_run_id, key in zip(ids[1:], ordered, strict=True)
            ]
            run_store.insert_task_runs(conn, rows)
            timeout = plan.settings.timeout_seconds
            run_store.set_run_state(
                conn,
                run_id,
                LifeCycle.RUNNING,
                result_state=None,
                state_message="",
                stop_reason=None,
                end_time=None,
                settings=settings_json,
                repair_count=run.repair_count + 1,
                latest_repair_id=repair_id,
                coordinator_id=self.coordinator_id,
                timeout_at=now + timeout * 1000 if timeout else None,
            )
            tx = self._open(conn, run_id)
            if job_parameters:
                params = {**tx.run.parameters, **job_parameters}
                resolved = resolve_job_parameters(tx, params)
                run_store.update_run(conn, run_id, job_parameters=json.dumps(resolved))
                tx.run = run_store.get_run(conn, run_id)
            tx.timers_changed = True
            ready = [r["task_key"] for r in rows if r["waiting_on"] == 0]
            self._advance(tx, ready)
            self._maybe_finish_run(tx)
        self._notify(tx)
        return repair_id

    # --- recovery ---------------------------------------------------------------------------

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

    # --- notifications: outbox rows in the transaction of the change that causes them ------

    def _queue(
        self,
        tx: _Tx,
        scope: str,
        event: alerts.Event,
        recipients: list[alerts.Recipient],
        facts: dict[str, Any],
        tr: TaskRun | None = None,
    ) -> None:
        if not recipients:
            return
        from headrace.engine import notifications as alerts
        from headrace.store import notifications as outbox

        tx.notifications += outbox.queue_messages(
            tx.conn,
            run_id=tx.run.run_id,
            event=event.value,
            messages=[(alerts.dedup_key(scope, event, r), r.channel, r.target) for r in recipients],
            facts={**facts, "at": tx.now},
            now_ms=tx.now,
            task_run_id=tr.task_run_id if tr is not None else None,
            task_key=tr.task_key if tr is not None else None,
        )

    def _alert_run_start(self, tx: _Tx) -> None:
        from headrace.engine import notifications as alerts

        assert tx.alerts is not None and tx.alerts.job is not None
        subs = tx.alerts.job
        scope = f"run:{tx.run.run_id}:r{tx.run.repair_count}"
        self._queue(tx, scope, alerts.Event.ON_START, alerts.on_run_start(subs), {})
        if subs.duration_seconds is not None and alerts.on_duration_exceeded(subs):
            due = tx.now + subs.duration_seconds * 1000
            health_timers.add_health_timer(tx.conn, tx.run.run_id, None, due, subs.duration_seconds)

    def _alert_run_end(self, tx: _Tx, result: Result, message: str) -> None:
        from headrace.engine import notifications as alerts

        assert tx.alerts is not None
        health_timers.disarm_health_timers(tx.conn, tx.run.run_id)
        event, recipients = alerts.on_run_end(tx.alerts.job, result)
        if event is not None:
            scope = f"run:{tx.run.run_id}:r{tx.run.repair_count}"
            facts = {"result": result.value, "message": message}
            self._queue(tx, scope, event, recipients, facts)

    def _alert_task_start(self, tx: _Tx, tr: TaskRun, attempt_number: int) -> None:
        if tx.alerts is None or tr.parent_id is not None:
            return
        subs = tx.alerts.tasks.get(tr.task_key)
        if subs is None:
            return
        from headrace.engine import notifications as alerts

        scope = f"task:{tr.task_run_id}:a{attempt_number}"
        facts = {"attempt_number": attempt_number}
        self._queue(
            tx, scope, alerts.Event.ON_START, alerts.on_task_start(subs, attempt_number), facts, tr
        )
        first = tr.start_time is None
        if first and subs.duration_seconds is not None and alerts.on_duration_exceeded(subs):
            due = tx.now + subs.duration_seconds * 1000
            health_timers.add_health_timer(
                tx.conn, tx.run.run_id, tr.task_run_id, due, subs.duration_seconds
            )
            tx.timers_changed = True

    def _alert_attempt_failed(
        self, tx: _Tx, tr: TaskRun, attempt_number: int, result: Result, message: str
    ) -> None:
        from headrace.engine import notifications as alerts

        assert tx.alerts is not None
        subs = tx.alerts.tasks[tr.task_key]
        scope = f"task:{tr.task_run_id}:a{attempt_number}"
        facts = {"result": result.value, "message": message, "attempt_number": attempt_number}
        recipients = alerts.on_task_attempt_failed(subs, result)
        self._queue(tx, scope, alerts.Event.ON_FAILURE, recipients, facts, tr)

    def _alert_task_end(self, tx: _Tx, tr: TaskRun, result: Result, message: str) -> None:
        from headrace.engine import notifications as alerts

        assert tx.alerts is not None
        subs = tx.alerts.tasks[tr.task_key]
        if subs.duration_seconds is not None:
            health_timers.disarm_health_timers(tx.conn, tx.run.run_id, tr.task_run_id)
        event, recipients = alerts.on_task_end(subs, result)
        if event is None:
            return
        current = run_store.task_run(tx.conn, tr.task_run_id)
        scope = f"task:{tr.task_run_id}:a{current.attempt_number}"
        facts = {
            "result": result.value,
            "message": message,
            "attempt_number": current.attempt_number,
        }
        self._queue(tx, scope, event, recipients, facts, current)

    def _alert_duration_exceeded(self, tx: _Tx) -> None:
        # Taken even when nobody listens any more (a repair changed the settings), so a
        # stale timer cannot keep the timer loop busy.
        due = health_timers.take_due_health_timers(tx.conn, tx.run.run_id, tx.now)
        if tx.alerts is None:
            return
        from headrace.engine import notifications as alerts

        for task_run_id, threshold in due:
            facts = {"threshold_seconds": threshold}
            event = alerts.Event.ON_DURATION_WARNING
            if task_run_id is None:
                scope = f"run:{tx.run.run_id}:r{tx.run.repair_count}"
                self._queue(tx, scope, event, alerts.on_duration_exceeded(tx.alerts.job), facts)
                continue
            tr = run_store.task_run(tx.conn, task_run_id)
            if tr.life_cycle in TERMINAL:
                continue
            subs = tx.alerts.tasks.get(tr.task_key)
            facts["attempt_number"] = tr.attempt_number
            scope = f"task:{tr.task_run_id}"
            self._queue(tx, scope, event, alerts.on_duration_exceeded(subs), facts, tr)

    # --- helpers ----------------------------------------------------------------------------

    def _task_of(self, tx: _Tx, tr: TaskRun) -> Task:
        if tr.parent_id is None:
            return tx.plan.tasks[tr.task_key]
        parent = run_store.task_run(tx.conn, tr.parent_id)
        spec = tx.plan.tasks[parent.task_key].for_each_task
        assert spec is not None
        return spec.task


def _alerts_of(settings: JobSettings) -> alerts.RunAlerts | None:
    """Whom a run of `settings` notifies; the rules load only when someone is to be told."""
    owners = [settings, *settings.tasks]
    if not any(o.email_notifications or o.webhook_notifications for o in owners):
        return None
    from headrace.engine.notifications import run_alerts

    return run_alerts(settings)


def _require_run_permission(conn: Connection, run_as: str | None, job_id: int) -> None:
    """A run acting for a user may start another job only with CAN_MANAGE_RUN on it."""
    if run_as is None:  # a local `headrace run`: whoever runs it owns the store
        return
    from headrace.engine.jobs import Principal, effective_level, level_rank  # only for ACLs

    if level_rank(effective_level(conn, Principal(run_as), job_id)) < level_rank("CAN_MANAGE_RUN"):
        raise PermissionDenied(
            f"User {run_as} does not have CAN_MANAGE_RUN permission on job {job_id}."
        )


def _state(tr: TaskRun) -> TaskState:
    return TaskState(tr.life_cycle, tr.result, tr.outcome, tr.retry_at)


def _task_run_row(
    task_run_id: int,
    run_id: int,
    task: Task,
    *,
    waiting_on: int = 0,
    parent_id: int | None = None,
    iteration: int | None = None,
    input: str | None = None,
    repair_id: int | None = None,
) -> dict[str, Any]:
    return {
        "task_run_id": task_run_id,
        "run_id": run_id,
        "task_key": task.task_key,
        "parent_id": parent_id,
        "iteration": iteration,
        "input": input,
        "repair_id": repair_id,
        "current": True,
        "life_cycle_state": LifeCycle.BLOCKED.value,
        "state_message": "",
        "waiting_on": waiting_on,
        "attempt_number": 0,
    }


def resolve_job_parameters(tx: _Tx, given: dict[str, str]) -> list[dict[str, str]]:
    """Each defined parameter with its default and the value this run uses."""
    scope = ReferenceScope(conn=tx.conn, run=tx.run, job_name=tx.job_name)
    out = []
    for p in tx.plan.settings.parameters:
        raw = given.get(p.name, p.default)
        try:
            value = render(raw, scope)
        except UnresolvedReference as exc:
            raise SpecError([SpecIssue(f"parameters.{p.name}", str(exc))]) from exc
        out.append({"name": p.name, "default": p.default, "value": value})
    return out


__all__ = ["AttemptOutcome", "Coordinator", "HeadraceError"]
