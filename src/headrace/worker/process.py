"""This process as a worker: registered in the store, its lease renewed, its pool running."""

from __future__ import annotations

import logging
import os
import threading
import uuid

from headrace.config import Settings
from headrace.engine.coordinator import Coordinator, now_ms
from headrace.store import signals
from headrace.store import workers as worker_store
from headrace.store.db import Store
from headrace.worker.pool import WorkerPool
from headrace.worker.recovery import HOST, process_start_token

log = logging.getLogger("headrace.worker")


class WorkerProcess:
    """Registration, heartbeat and a pool of slots, started and stopped as one."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.worker_id = uuid.uuid4().hex
        self.coordinator = Coordinator(store, coordinator_id=self.worker_id)
        self.coordinator.claim_pools = frozenset(settings.pools)
        self.pool = WorkerPool(
            self.coordinator,
            worker_id=self.worker_id,
            slots=settings.slots,
            logs_dir=settings.logs_dir,
        )
        self._stop_heartbeat = threading.Event()
        self._listener: signals.Listener | None = None

    def start(self) -> None:
        with self.store.begin() as conn:
            worker_store.register_worker(
                conn,
                worker_id=self.worker_id,
                host=HOST,
                pid=os.getpid(),
                proc_start=process_start_token(os.getpid()),
                slots=self.pool.slots,
                pools=",".join(self.settings.pools) or None,
                now_ms=now_ms(),
            )
        threading.Thread(target=self._heartbeat, name="headrace-heartbeat", daemon=True).start()
        # Its own thread: re-reporting an outcome takes its run's row lock, which must never
        # hold up the heartbeat (a missed lease fails every attempt this worker runs).
        threading.Thread(target=self._sweep_orphans, name="headrace-orphans", daemon=True).start()
        self.pool.start()
        # Attempts queued by other processes (PostgreSQL): woken at once, not at the next sweep.
        self._listener = signals.Listener(self.store, [signals.WORK], lambda _: self.pool.wake())
        self._listener.start()

    def stop(self, grace_seconds: float | None = None) -> None:
        """Stop claiming, let running attempts finish (up to the grace), then deregister."""
        if self._listener is not None:
            self._listener.stop()
        self.pool.stop(grace_seconds)
        self._stop_heartbeat.set()
        with self.store.begin() as conn:
            worker_store.stop_worker(conn, self.worker_id, now_ms())

    def _heartbeat(self) -> None:
        while not self._stop_heartbeat.wait(self.settings.heartbeat_seconds):
            try:
                with self.store.begin() as conn:
                    worker_store.heartbeat(conn, self.worker_id, now_ms())
            except Exception as exc:  # a missed beat is survivable; a dead heartbeat thread is not
                from headrace.store.health import problem

                broken = problem(exc)  # a broken store: one line, not a traceback per beat
                log.warning("heartbeat failed; retrying: %s", broken, exc_info=broken is None)

    def _sweep_orphans(self) -> None:
        """Off the slots and the heartbeat: a claim whose COMMIT's answer was lost (pool.py)."""
        while not self._stop_heartbeat.wait(self.settings.heartbeat_seconds):
            try:
                self.pool.sweep_orphans(now_ms())
            except Exception:
                log.warning("sweeping for orphaned attempts failed", exc_info=True)
