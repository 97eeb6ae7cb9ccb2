"""The working set of one coordinator transaction, and the core every part of the coordinator
shares: opening a run's transaction (lock the run, its cached plan) and telling listeners
after commit. The parts (`runs`, `attempts`, `for_each`, `child_runs`, `stopping`, `repair`,
`alerts`) are combined into one `Coordinator` in `engine/coordinator.py`.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from headrace.engine.planner import TaskState
from headrace.engine.resolve import ReferenceScope
from headrace.engine.run_plan import RunPlan, plan_from_json
from headrace.spec.models import JobSettings, Task
from headrace.states import LifeCycle, Result
from headrace.store import runs as run_store
from headrace.store import signals
from headrace.store.db import Store, before_commit
from headrace.store.records import Attempt, Run, TaskRun

if TYPE_CHECKING:  # loaded at run time only by runs that notify someone (see alerts_of)
    from headrace.engine import notifications as alerts
    from headrace.store.sql import Tx as Connection

STOP_CANCELED = "CANCELED"
STOP_TIMEDOUT = "TIMEDOUT"
STOP_LOST = "LOST"


class RunLockNeeded(Exception):
    """A transaction holding its run's row FOR SHARE found it must change the run (end it, or
    end a leaf task, after which the run may end): it rolls back and is done again holding the
    row FOR UPDATE. Never leaves the coordinator."""


def _coordinates(tx: RunTx) -> bool:
    """Whether the coordinating server has something to do after this transaction (outbox
    rows included: its delivery loop sends what other processes' transactions queued)."""
    return (
        tx.timers_changed
        or tx.run_ended
        or tx.run_queued
        or bool(tx.admitted)
        or tx.notifications > 0
    )


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


@dataclass(frozen=True)
class Change:
    """What one committed coordinator transaction did, for those who wait on it."""

    run_id: int
    new_attempts: int
    run_ended: bool
    timers_changed: bool
    notifications: int = 0  # outbox rows this transaction added: the delivery loop wakes
    run_queued: bool = False  # a run was queued: the coordinating loop admits it when it can


@dataclass
class RunTx:
    """The working set of one coordinator transaction."""

    conn: Connection
    run: Run
    plan: RunPlan
    now: int
    job_name: str
    new_attempts: int = 0
    queued: set[int] = field(default_factory=set)  # ids of the attempts this tx queued
    run_ended: bool = False
    timers_changed: bool = False
    leaf_ended: bool = False  # only then can the run be complete (upstreams end first)
    settled: set[int] = field(default_factory=set)  # task runs started or ended in this tx
    filling: set[int] = field(default_factory=set)  # for_each task runs being settled
    admitted: list[RunTx] = field(default_factory=list)  # queued runs this transaction started
    # The run was created QUEUED: a run of its job that ends meanwhile may not see it yet (its
    # own admission reads before this commits), so the coordinating loop looks after commit.
    run_queued: bool = False
    to_kill: list[Attempt] = field(default_factory=list)
    alerts: alerts.RunAlerts | None = None  # None: the run notifies nobody (the usual case)
    notifications: int = 0
    # The run's row is locked FOR SHARE (PostgreSQL; a task end that changes nothing run-level,
    # see Attempts.finish_attempt): run-level changes raise RunLockNeeded instead.
    shared: bool = False
    # The task values of the run's current task runs, read once per transaction by the first
    # attempt it starts (a fan-out of 500 read them once, not 500 times); None: not read yet,
    # or stale (an attempt's end merged new values).
    task_values: dict[str, dict[str, Any]] | None = None
    # Set when this transaction claimed an attempt of the run itself: the run can progress,
    # so the invariant check has nothing to look for (see RunEnds._check_progress).
    claimed_own: bool = False
    # PostgreSQL, the run's row FOR SHARE: a count-down of this transaction saw another
    # current top-level task run live (the statement that ended its task asked, see
    # Attempts._end_task), so the invariant check has nothing to look for either. Such a
    # transaction ends no live task run but its own (whatever else could, a stop, a repair, a
    # for_each iteration's end, holds the row FOR UPDATE), so that one is still live at its
    # end; usually that count-down was its last statement (nothing released). It is asked
    # only when every child has this task as its one upstream: a fan-in child's count-down
    # may wait for another task end of the run, which may end the last live task run after
    # the statement's snapshot was taken (no check would then run in either transaction).
    others_live: bool = False
    # A run's start: the task runs it has just inserted, by key, as a read gives them back
    # (engine/runs.py); its first _advance uses them instead of reading them (issue 18).
    fresh_task_runs: dict[str, TaskRun] | None = None
    # PostgreSQL: a statement of this transaction NOTIFYs the coordinating server already (a
    # run's end, engine/run_ends.py): the commit hook leaves it out (issue 18).
    coordinate_announced: bool = False
    # PostgreSQL: claims the worker's next attempt when the finishing task is about to count
    # its dependents down, so that count-down (a row lock every upstream of a fan-in queues
    # on) is held only until commit, not through the claim's statements (Attempts).
    claim_before_release: Callable[[], None] | None = None
    # The digest of the run's settings text, when this process read that text (see
    # CoordinatorCore._plans_by_digest); attempts it queues carry it in their payload.
    settings_digest: str | None = None


def settings_digest(settings_json: str) -> str:
    """A short digest of a settings snapshot's JSON text (what a plan is parsed from)."""
    return hashlib.blake2b(settings_json.encode(), digest_size=16).hexdigest()


class CoordinatorCore:
    """Opening a run's transaction and telling listeners after commit (part of `Coordinator`)."""

    def __init__(self, store: Store, *, coordinator_id: str | None = None) -> None:
        self.store = store
        self.coordinator_id = coordinator_id
        # Which worker pools this process's slots serve (besides pool-less attempts); None: all
        # (a `headrace run` runs every task of its job itself).
        self.claim_pools: frozenset[str] | None = None
        self._listeners: list[Callable[[Change], None]] = []
        self._plans: dict[tuple[int, int], tuple[RunPlan, alerts.RunAlerts | None]] = {}
        # A rolled-back transaction may have cached the plan of a run that never existed
        # (whose id the next run then gets) or of a repair that never happened: the plans a
        # thread cached in its open transaction are forgotten if it rolls back, and kept
        # once it commits. Only those: a RunLockNeeded redo rolls back often under load, and
        # clearing every run's plan there made other runs' ends read their settings again.
        # Per thread: a thread runs one `begin()` transaction at a time (SQLite's write lock
        # is not reentrant; nothing opens one inside another), so the keys pending in a
        # thread are its open transaction's. A `read()` ending commits nothing (no hook); one
        # rolling back forgets them too, which only costs a read of the settings.
        self._cached_in_tx = threading.local()
        # Every run of a job usually snapshots the same settings text. An attempt's payload
        # carries the digest of its run's text (read by the process that queued it), so a
        # worker ending a task of a run it has not seen yet takes the plan it parsed for an
        # earlier run with that text instead of reading the run's settings (one statement per
        # run and worker). Keyed by content, so a rollback cannot make an entry wrong; the
        # digests of (run, repair count) keys follow `_plans` (forgotten with them).
        self._plans_by_digest: dict[str, tuple[RunPlan, alerts.RunAlerts | None]] = {}
        self._digests: dict[tuple[int, int], str] = {}
        store.on_rollback(self._forget_plans_of_tx)
        store.on_commit(self._keep_plans_of_tx)

    def subscribe(self, listener: Callable[[Change], None]) -> None:
        """Call `listener(change)` after each committed change."""
        self._listeners.append(listener)

    def _notify(self, tx: RunTx) -> None:
        change = Change(
            tx.run.run_id,
            tx.new_attempts,
            tx.run_ended,
            tx.timers_changed,
            tx.notifications,
            tx.run_queued,
        )
        for listener in self._listeners:
            listener(change)
        for admitted in tx.admitted:
            self._notify(admitted)

    def _open(
        self,
        conn: Connection,
        run_id: int,
        *,
        shared: bool = False,
        settings_digest: str | None = None,
    ) -> RunTx:
        tx = self._open_run(conn, run_id, shared=shared, settings_digest=settings_digest)
        self._announce_at_commit(conn, [tx])
        return tx

    def _announce_at_commit(
        self, conn: Connection, txs: list[RunTx], *, work_announced: bool = False
    ) -> None:
        """`work_announced`: a statement of the transaction NOTIFYs the workers already."""
        if not self.store.is_sqlite:
            # Other processes (workers, the coordinating server) learn of it at commit.
            before_commit(
                conn,
                lambda c: signals.announce(
                    c,
                    not work_announced and any(tx.new_attempts > 0 for tx in txs),
                    any(_coordinates(tx) for tx in txs)
                    and not any(tx.coordinate_announced for tx in txs),
                ),
            )

    def _open_run(
        self,
        conn: Connection,
        run_id: int,
        *,
        shared: bool = False,
        settings_digest: str | None = None,
    ) -> RunTx:
        """Lock the run and open a transaction on it. `settings_digest`: the digest of the
        run's settings text at repair count 0 (an attempt's payload), for a plan not cached
        under this run yet."""
        run = run_store.lock_run(conn, run_id, shared=shared)
        return self._tx_of_locked_run(
            conn, run, None, shared=shared, settings_digest=settings_digest
        )

    def _tx_of_locked_run(
        self,
        conn: Connection,
        run: Run,
        now: int | None,
        *,
        shared: bool,
        settings_digest: str | None,
    ) -> RunTx:
        """A transaction on `run`, whose row this transaction has locked (see _open_run),
        at `now` (None: read the clock now)."""
        # A run's settings change only when it is repaired, so (run, repair_count) keys them.
        key = (run.run_id, run.repair_count)
        cached = self._plans.get(key)
        if cached is None:
            cached = self._plan_of_digest(key, settings_digest if key[1] == 0 else None)
        if cached is None:
            cached = self._remember_plan_of_text(key, run_store.run_settings(conn, run.run_id))
        plan, run_alerts = cached
        return RunTx(
            conn,
            run,
            plan,
            self._now() if now is None else now,
            plan.settings.name,
            alerts=run_alerts,
            shared=shared,
            settings_digest=self._digests.get(key),
        )

    def _plan_of_digest(
        self, key: tuple[int, int], digest: str | None
    ) -> tuple[RunPlan, alerts.RunAlerts | None] | None:
        """The plan parsed earlier from the settings text with `digest`, remembered for `key`
        (whose settings text that is), or None."""
        if digest is None:
            return None
        known = self._plans_by_digest.get(digest)
        if known is None:
            return None
        cached = self._remember_plan(key, known[0])
        self._digests[key] = digest
        return cached

    def _remember_plan_of_text(
        self, key: tuple[int, int], settings_json: str
    ) -> tuple[RunPlan, alerts.RunAlerts | None]:
        """Parse (or find) the plan of a run's settings text and remember it for `key` and
        under the text's digest."""
        cached = self._remember_plan(key, plan_from_json(settings_json))
        digest = settings_digest(settings_json)
        if len(self._plans_by_digest) >= 64:
            self._plans_by_digest.clear()
        self._plans_by_digest[digest] = cached
        self._digests[key] = digest
        return cached

    def _remember_plan(
        self, key: tuple[int, int], plan: RunPlan
    ) -> tuple[RunPlan, alerts.RunAlerts | None]:
        cached = (plan, alerts_of(plan.settings))
        if len(self._plans) > 256:
            self._plans.clear()
            self._digests.clear()
        self._plans[key] = cached
        self._cached_in_tx.__dict__.setdefault("keys", []).append(key)
        return cached

    def _forget_plans_of_tx(self) -> None:
        for key in self._cached_in_tx.__dict__.pop("keys", ()):
            self._plans.pop(key, None)
            self._digests.pop(key, None)

    def _keep_plans_of_tx(self) -> None:
        self._cached_in_tx.__dict__.pop("keys", None)

    def _task_of(self, tx: RunTx, tr: TaskRun) -> Task:
        if tr.parent_id is None:
            return tx.plan.tasks[tr.task_key]
        parent = run_store.task_run(tx.conn, tr.parent_id)
        spec = tx.plan.tasks[parent.task_key].for_each_task
        assert spec is not None
        return spec.task

    def _scope(self, tx: RunTx, tr: TaskRun, task: Task, attempt_number: int) -> ReferenceScope:
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


def alerts_of(settings: JobSettings) -> alerts.RunAlerts | None:
    """Whom a run of `settings` notifies; the rules load only when someone is to be told."""
    owners = [settings, *settings.tasks]
    if not any(o.email_notifications or o.webhook_notifications for o in owners):
        return None
    from headrace.engine.notifications import run_alerts

    return run_alerts(settings)


def task_state(tr: TaskRun) -> TaskState:
    return TaskState(tr.life_cycle, tr.result, tr.outcome, tr.retry_at)


def task_run_row(
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
