"""Repair: rerun chosen tasks (and their dependents) of an ended run inside the same run."""

from __future__ import annotations

import json
from collections.abc import Sequence

from headrace.engine.rules import check_parameters, repair_selection
from headrace.engine.run_plan import plan_from_json
from headrace.engine.runs import resolve_job_parameters
from headrace.engine.transaction import task_run_row
from headrace.errors import Conflict, NotFound, SpecError
from headrace.states import TERMINAL, LifeCycle
from headrace.store import jobs as job_store
from headrace.store import runs as run_store


class Repair:
    """Repairing ended runs (part of `Coordinator`)."""

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
            now = self._now()
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
                task_run_row(
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
