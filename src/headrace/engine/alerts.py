"""Notifications of a run's events: outbox rows written in the transaction of the change that
causes them, and the health (duration) timers. The rules (`engine.notifications`) load only
for runs that notify someone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from headrace.engine.transaction import RunTx
from headrace.states import TERMINAL, Result
from headrace.store import health_timers
from headrace.store import runs as run_store
from headrace.store.records import TaskRun

if TYPE_CHECKING:
    from headrace.engine import notifications as alerts


class Alerts:
    """Queueing notifications (part of `Coordinator`)."""

    def _queue(
        self,
        tx: RunTx,
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

    def _alert_run_start(self, tx: RunTx) -> None:
        from headrace.engine import notifications as alerts

        assert tx.alerts is not None and tx.alerts.job is not None
        subs = tx.alerts.job
        scope = f"run:{tx.run.run_id}:r{tx.run.repair_count}"
        self._queue(tx, scope, alerts.Event.ON_START, alerts.on_run_start(subs), {})
        if subs.duration_seconds is not None and alerts.on_duration_exceeded(subs):
            due = tx.now + subs.duration_seconds * 1000
            health_timers.add_health_timer(tx.conn, tx.run.run_id, None, due, subs.duration_seconds)
            tx.timers_changed = True

    def _alert_run_end(self, tx: RunTx, result: Result, message: str) -> None:
        from headrace.engine import notifications as alerts

        assert tx.alerts is not None
        health_timers.disarm_health_timers(tx.conn, tx.run.run_id)
        event, recipients = alerts.on_run_end(tx.alerts.job, result)
        if event is not None:
            scope = f"run:{tx.run.run_id}:r{tx.run.repair_count}"
            facts = {"result": result.value, "message": message}
            self._queue(tx, scope, event, recipients, facts)

    def _alert_task_start(self, tx: RunTx, tr: TaskRun, attempt_number: int) -> None:
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
        self, tx: RunTx, tr: TaskRun, attempt_number: int, result: Result, message: str
    ) -> None:
        from headrace.engine import notifications as alerts

        assert tx.alerts is not None
        subs = tx.alerts.tasks[tr.task_key]
        scope = f"task:{tr.task_run_id}:a{attempt_number}"
        facts = {"result": result.value, "message": message, "attempt_number": attempt_number}
        recipients = alerts.on_task_attempt_failed(subs, result)
        self._queue(tx, scope, alerts.Event.ON_FAILURE, recipients, facts, tr)

    def _alert_task_end(self, tx: RunTx, tr: TaskRun, result: Result, message: str) -> None:
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

    def _alert_duration_exceeded(self, tx: RunTx) -> None:
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
