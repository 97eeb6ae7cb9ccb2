"""Run admission: start a run (max_concurrent_runs, the queue) and admit queued runs when a
slot frees (a run's end is in run_ends.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from headrace.config import default_home
from headrace.engine import git_source
from headrace.engine.resolve import ReferenceScope
from headrace.engine.rules import check_parameters
from headrace.engine.run_plan import plan_from_json, settings_to_json
from headrace.engine.transaction import (
    Change,
    RunTx,
    alerts_of,
    task_run_row,
)
from headrace.errors import SpecError, SpecIssue
from headrace.spec.models import JobSettings
from headrace.spec.references import UnresolvedReference, render
from headrace.states import TERMINAL, LifeCycle, Result
from headrace.store import jobs as job_store
from headrace.store import runs as run_store
from headrace.store.sql import Tx as Connection


@dataclass(frozen=True)
class NewRun:
    """What differs between the runs `start_runs` creates of one job."""

    parameters: dict[str, str] = field(default_factory=dict)
    trigger_info: dict[str, Any] | None = None
    run_name: str | None = None
    idempotency_token: str | None = None


class Admission(Enum):
    """What max_concurrent_runs makes of a new run."""

    RUN = "run"
    QUEUE = "queue"
    SKIP = "skip"


def resolve_job_parameters(tx: RunTx, given: dict[str, str]) -> list[dict[str, str]]:
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


class RunLifecycle:
    """Starting, queueing and ending runs (part of `Coordinator`)."""

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
            new = NewRun(parameters or {}, trigger_info, run_name, idempotency_token)
            [(run_id, tx)] = self._create_runs(
                conn,
                settings,
                [new],
                job_id=job_id,
                trigger_type=trigger_type,
                run_type=run_type,
                run_as=run_as,
                job_version=job_version,
                queue=queue,
            )
            if on_created is not None:
                on_created(conn, run_id)
        self._notify_created([(run_id, tx)])
        return run_id

    def start_runs(
        self,
        settings: JobSettings,
        new_runs: Sequence[NewRun],
        *,
        job_id: int | None,
        trigger_type: str = "ONE_TIME",
        run_type: str = "JOB_RUN",
        run_as: str | None = None,
        job_version: int | None = None,
        queue: bool | None = None,
        on_created: Callable[[Connection, list[int]], None] | None = None,
    ) -> list[int]:
        """Create many runs of one job in one transaction (a backfill's dates); returns their
        ids in order. Raises: SpecError.

        Each run is what `start_run` would create, admitted in order by max_concurrent_runs
        and the queue as if started one after another; their rows, task runs and first
        attempts are written with a few statements for all. `on_created(conn, run_ids)` runs
        inside the transaction (raise there to create none of them).
        """
        checked: set[str] = set()
        for new in new_runs:
            key = json.dumps(new.parameters, sort_keys=True)
            if key not in checked:
                check_parameters(settings, new.parameters)
                checked.add(key)
        if not new_runs:
            return []
        settings = git_source.pin(settings, default_home())  # clone/fetch outside the transaction
        with self.store.begin() as conn:
            created = self._create_runs(
                conn,
                settings,
                new_runs,
                job_id=job_id,
                trigger_type=trigger_type,
                run_type=run_type,
                run_as=run_as,
                job_version=job_version,
                queue=queue,
            )
            run_ids = [run_id for run_id, _ in created]
            if on_created is not None:
                on_created(conn, run_ids)
        self._notify_created(created)
        return run_ids

    def _notify_created(self, created: list[tuple[int, RunTx | None]]) -> None:
        for run_id, tx in created:
            if tx is None:  # skipped by max_concurrent_runs: it ended as it was created
                for listener in self._listeners:
                    listener(Change(run_id, 0, True, False))
            else:
                self._notify(tx)

    def _create_runs(
        self,
        conn: Connection,
        settings: JobSettings,
        new_runs: Sequence[NewRun],
        *,
        job_id: int | None,
        trigger_type: str,
        run_type: str,
        run_as: str | None,
        job_version: int | None,
        queue: bool | None,
    ) -> list[tuple[int, RunTx | None]]:
        """Insert runs (each running, queued or skipped by max_concurrent_runs) in `conn`'s
        transaction; returns each one's id and, unless it was skipped, its working set."""
        settings_json = settings_to_json(settings)
        tasks = settings.tasks
        # Ids for every run as if none were skipped (a skipped run leaves its task runs' ids
        # unused): the job's active-run count rides on the ids' statement (issue 18).
        reserved = (1 + len(tasks)) * len(new_runs)
        if job_id is None:
            admissions = [(Admission.RUN, "")] * len(new_runs)
            ids = iter(run_store.allocate_ids(conn, reserved))
        else:
            job_store.lock_job(conn, job_id)  # PostgreSQL: concurrent starts count one at a time
            allocated, active, waiting = run_store.allocate_ids_and_count(conn, reserved, job_id)
            admissions = _admissions(settings, active, waiting, queue, len(new_runs))
            ids = iter(allocated)
        # Read after the admissions' count: a run it saw ended may have read its clock (its
        # end_time) after any earlier reading of ours; a run admitted in its slot starts later.
        now = self._now()
        sizes = [1 if a is Admission.SKIP else 1 + len(tasks) for a, _ in admissions]
        timeout = settings.timeout_seconds
        rows, task_rows, created = [], [], []
        for new, (admission, message), size in zip(new_runs, admissions, sizes, strict=True):
            run_id = next(ids)
            skipped = admission is Admission.SKIP
            if skipped:
                life = LifeCycle.SKIPPED
            else:
                life = LifeCycle.QUEUED if admission is Admission.QUEUE else LifeCycle.RUNNING
            rows.append(
                {
                    "run_id": run_id,
                    "job_id": job_id,
                    "run_name": new.run_name or settings.name,
                    "run_type": run_type,
                    "trigger_type": trigger_type,
                    "settings": settings_json,
                    "job_parameters": "[]",
                    "life_cycle_state": life.value,
                    "result_state": (
                        Result.MAXIMUM_CONCURRENT_RUNS_REACHED.value if skipped else None
                    ),
                    "state_message": message,
                    "coordinator_id": self.coordinator_id,
                    "repair_count": 0,
                    "timeout_at": now + timeout * 1000 if timeout and not skipped else None,
                    "created_time": now,
                    "start_time": now,
                    "end_time": now if skipped else None,
                    "run_as": run_as,
                    "idempotency_token": new.idempotency_token,
                    "job_version": job_version,
                    "trigger_info": json.dumps(new.trigger_info) if new.trigger_info else None,
                }
            )
            task_rows += [
                task_run_row(next(ids), run_id, t, waiting_on=len(t.depends_on))
                for t in tasks[: size - 1]
            ]
            created.append((run_id, admission, message))
        # The workers' wake-up (NOTIFY, delivered at commit) rides on the runs' INSERT when a
        # run starts tasks: one statement fewer than at commit (issue 18). A run whose first
        # tasks queue no attempt (conditions) wakes them for nothing, which costs one look.
        work = (
            not self.store.is_sqlite
            and bool(tasks)
            and any(admission is Admission.RUN for _, admission, _ in created)
        )
        # Without job parameters (whose references may read the stored run) and skipped runs
        # (whose alerts read it), the runs are inserted with their task runs below, in one
        # statement on PostgreSQL (issue 18).
        together = not settings.parameters and all(a is not Admission.SKIP for a, _ in admissions)
        if not together:
            run_store.insert_runs(conn, rows, notify_work=work)
        plan = plan_from_json(settings_json)  # what _open_run would read back from the row
        # The stored runs as a read would give them back (no column has a database default).
        stored = {row["run_id"]: run_store.run_from_values(row) for row in rows}
        txs: dict[int, RunTx] = {}
        for new, (run_id, admission, message) in zip(new_runs, created, strict=True):
            if admission is Admission.SKIP:
                if alerts_of(settings) is not None:
                    skipped_tx = self._open(conn, run_id)
                    self._alert_run_end(skipped_tx, Result.MAXIMUM_CONCURRENT_RUNS_REACHED, message)
                continue
            # By its text: the digest rides in its attempts' payloads (CoordinatorCore).
            plan, run_alerts = self._remember_plan_of_text((run_id, 0), settings_json)
            digest = self._digests.get((run_id, 0))
            tx = RunTx(
                conn,
                stored[run_id],
                plan,
                now,
                plan.settings.name,
                alerts=run_alerts,
                settings_digest=digest,
            )
            resolved = resolve_job_parameters(tx, new.parameters)
            tx.run = replace(tx.run, job_parameters=resolved)
            tx.run_queued = admission is Admission.QUEUE  # the loop admits it (transaction.py)
            txs[run_id] = tx
        self._announce_at_commit(conn, list(txs.values()), work_announced=work)
        run_store.set_job_parameters(  # a job without parameters keeps the inserted "[]"
            conn,
            {
                run_id: json.dumps(tx.run.job_parameters)
                for run_id, tx in txs.items()
                if tx.run.job_parameters
            },
        )
        if together:
            run_store.insert_runs_and_task_runs(conn, rows, task_rows, notify_work=work)
        else:
            run_store.insert_task_runs(conn, task_rows)
        starting = {run_id for run_id, admission, _ in created if admission is Admission.RUN}
        for row in task_rows:  # what _begin's first _advance would read back
            if row["run_id"] in starting:
                tx = txs[row["run_id"]]
                if tx.fresh_task_runs is None:
                    tx.fresh_task_runs = {}
                tx.fresh_task_runs[row["task_key"]] = run_store.task_run_from_values(row)
        for run_id, admission, _ in created:
            if admission is Admission.RUN:
                self._begin(txs[run_id])
        return [(run_id, txs.get(run_id)) for run_id, _, _ in created]

    def _begin(self, tx: RunTx) -> None:
        """Start a run's root tasks (or end it at once when it has no tasks)."""
        # Only a timeout is a new timer here (a duration warning's sets it in _alert_run_start,
        # retries theirs): a run without one wakes no coordinating loop (issue 18).
        if tx.run.timeout_at is not None:
            tx.timers_changed = True
        if tx.task_values is None:
            tx.task_values = {}  # no task of a run that only starts has set values yet
        if tx.alerts is not None and tx.alerts.job is not None:
            self._alert_run_start(tx)
        tasks = tx.plan.settings.tasks
        self._advance(tx, [t.task_key for t in tasks if not t.depends_on])
        self._maybe_finish_run(tx, force=not tasks)

    def admit_queued(self, job_id: int) -> None:
        """Start queued runs of a job while it has free slots (a safety-net sweep)."""
        if not self._queued_run_may_fit(job_id):
            return
        with self.store.begin() as conn:
            admitted = self._admit_queued(conn, job_id)
        for tx in admitted:
            self._notify(tx)

    def _queued_run_may_fit(self, job_id: int) -> bool:
        """Whether the job's first queued run fits its max_concurrent_runs, read without a
        write transaction: the coordinating loop asks on every pass for every job with queued
        runs, and a full job (the usual case) must not take SQLite's write lock or a run row
        lock each time. The write transaction checks again."""
        with self.store.read() as conn:
            waiting = run_store.queued_runs(conn, job_id)
            if not waiting:
                return False
            first = waiting[0]
            cached = self._plans.get((first.run_id, first.repair_count))
            plan = (
                cached[0] if cached else plan_from_json(run_store.run_settings(conn, first.run_id))
            )
            return run_store.count_admitted_runs(conn, job_id) < plan.settings.max_concurrent_runs

    def _admit_queued(self, conn: Connection, job_id: int) -> list[RunTx]:
        admitted: list[RunTx] = []
        waiting = run_store.queued_runs(conn, job_id)
        if not waiting:  # the usual case: nothing to count
            return admitted
        active = run_store.count_admitted_runs(conn, job_id)
        for queued in waiting:
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


def _admissions(
    settings: JobSettings, active: int, waiting: bool, queue: bool | None, count: int
) -> list[tuple[Admission, str]]:
    """Run now, queue, or skip each of `count` new runs of a job that has `active` admitted
    runs (and queued ones if `waiting`), in order, by max_concurrent_runs (§6.11): the first
    runs take the free slots, the rest queue."""
    limit = settings.max_concurrent_runs
    if queue is None:
        queue = settings.queue.enabled if settings.queue is not None else True
    out = []
    for _ in range(count):
        if active < limit and not waiting:
            out.append((Admission.RUN, ""))
            active += 1
            continue
        why = f"the job already has {active} active run(s) (max_concurrent_runs={limit})"
        if queue and limit > 0:
            out.append((Admission.QUEUE, f"Queued: {why}"))
            waiting = True
        else:
            out.append((Admission.SKIP, f"Skipped: {why}"))
    return out
