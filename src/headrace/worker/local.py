"""One process that coordinates and executes runs: what `headrace run` and repair use."""

from __future__ import annotations

import logging
import queue
import signal
import threading
from collections.abc import Callable
from types import FrameType

from headrace.config import Settings
from headrace.engine.coordinator import Change, now_ms
from headrace.states import TERMINAL, LifeCycle
from headrace.store import runs as run_store
from headrace.store.db import Store
from headrace.store.records import Attempt, Run
from headrace.worker.process import WorkerProcess
from headrace.worker.recovery import recover_lost_runs

log = logging.getLogger("headrace.worker")
QUEUE_POLL_SECONDS = 1.0
_TICK = "tick"  # something changed (only sent while a progress view listens)
_TIMERS = "timers"  # a retry or timeout time may have moved
_ENDED = "ended"
_INTERRUPT = "interrupt"
_STORE_FAILED = "store failed"  # the store is broken (disk full, corrupt): stop, do not loop


class LocalRunner:
    """Registers this process as a worker, keeps its lease, and drives runs to their end."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.process = WorkerProcess(store, settings)
        self.worker_id = self.process.worker_id
        self.coordinator = self.process.coordinator
        self.pool = self.process.pool
        # Execute only runs this process drives (its run and the runs its run_job tasks start),
        # so `headrace run` can exit as soon as its run ends.
        self.pool.only_coordinator = self.worker_id
        self._events: queue.SimpleQueue[tuple[str, int]] = queue.SimpleQueue()
        self.coordinator.subscribe(self._on_change)
        self.pool.on_store_failure.append(lambda _exc: self._events.put((_STORE_FAILED, 0)))
        self.interrupts = 0
        self._progress_wanted = False
        self._driving: int | None = None

    # --- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> LocalRunner:
        recover_lost_runs(self.coordinator, lease_seconds=self.settings.lease_seconds)
        self.process.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.stop()

    def _on_change(self, change: Change) -> None:
        if change.new_attempts > 0:
            self.pool.wake()
        if change.run_ended and change.run_id == self._driving:
            self._events.put((_ENDED, change.run_id))
        elif change.timers_changed:
            self._events.put((_TIMERS, change.run_id))
        elif self._progress_wanted and change.run_id == self._driving:
            self._events.put((_TICK, change.run_id))

    # --- driving a run ----------------------------------------------------------------------

    def drive(self, run_id: int, on_progress: Callable[[], None] | None = None) -> None:
        """Wait, event by event, until the run ends; Ctrl-C / SIGTERM cancel it cleanly."""
        previous = _install_signal_handlers(self._interrupt)
        self._progress_wanted = on_progress is not None
        self._driving = run_id
        try:
            self._drive(run_id, on_progress)
        finally:
            self._progress_wanted = False
            self._driving = None
            _restore_signal_handlers(previous)

    def _drive(self, run_id: int, on_progress: Callable[[], None] | None) -> None:
        self.pool.wake()
        with self.store.read() as conn:
            run = run_store.get_run(conn, run_id)
        if run.life_cycle in TERMINAL:
            return
        if run.life_cycle is LifeCycle.QUEUED and not self._wait_in_queue(run, on_progress):
            return
        wake_at = self._next_timer()
        while True:
            kinds = self._next_events(wake_at)
            if _ENDED in kinds:
                return
            if _STORE_FAILED in kinds and self.pool.store_failure is not None:
                raise self.pool.store_failure  # the CLI prints it in one line and exits
            if _INTERRUPT in kinds:
                message = "canceled by the user (interrupt)"
                self._kill(self.coordinator.cancel_run(run_id, message), "CANCELED")
                if self.interrupts > 1:  # asked twice: do not wait for graceful exits
                    self.pool.kill_all_now()
            if not kinds or (wake_at is not None and wake_at <= now_ms()):
                self._fire_due_timers()
            if kinds - {_TICK}:
                wake_at = self._next_timer()
            if on_progress is not None:
                on_progress()

    def _next_timer(self) -> int | None:
        """The next retry or timeout of the runs this process drives (a run and its children)."""
        with self.store.read() as conn:
            return run_store.next_timer_at(conn, self.worker_id)

    def _fire_due_timers(self) -> None:
        with self.store.read() as conn:
            due = run_store.runs_with_due_timers(conn, now_ms(), self.worker_id)
        for run_id in due:
            self._kill(self.coordinator.fire_timers(run_id), "TIMEDOUT")

    def _wait_in_queue(self, run: Run, on_progress: Callable[[], None] | None) -> bool:
        """Wait until a queued run is admitted; False if it ended (e.g. canceled) instead.

        The run that holds the slot may live in another process, whose end does not reach
        this one: look again every QUEUE_POLL_SECONDS, recovering runs of dead processes.
        """
        assert run.job_id is not None  # only runs of stored jobs are queued
        while True:
            kinds = self._next_events(now_ms() + int(QUEUE_POLL_SECONDS * 1000))
            if _INTERRUPT in kinds:
                message = "canceled by the user (interrupt)"
                self.coordinator.cancel_run(run.run_id, message)
            if not kinds:
                recover_lost_runs(self.coordinator, lease_seconds=self.settings.lease_seconds)
                self.coordinator.admit_queued(run.job_id)
            if on_progress is not None:
                on_progress()
            with self.store.read() as conn:
                life = run_store.get_run(conn, run.run_id).life_cycle
            if life in TERMINAL:
                return False
            if life is not LifeCycle.QUEUED:
                self.pool.wake()
                return True

    def _next_events(self, wake_at: int | None) -> set[str]:
        """Block until an event or the next timer; return every event queued by then."""
        timeout = None if wake_at is None else max((wake_at - now_ms()) / 1000, 0)
        try:
            kind, _ = self._events.get(timeout=timeout)
        except queue.Empty:
            return set()
        kinds = {kind}
        while True:
            try:
                kinds.add(self._events.get_nowait()[0])
            except queue.Empty:
                return kinds

    def _kill(self, attempts: list[Attempt], reason: str) -> None:
        for attempt in attempts:
            self.pool.kill(attempt.attempt_id, reason)

    def _interrupt(self, signum: int, frame: FrameType | None) -> None:
        self.interrupts += 1
        self._events.put((_INTERRUPT, 0))


def _install_signal_handlers(handler):  # type: ignore[no-untyped-def]
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}


def _restore_signal_handlers(previous: dict) -> None:  # type: ignore[type-arg]
    for sig, handler in previous.items():
        signal.signal(sig, handler)
