"""`headrace server`: the API, the coordinator's loop and a worker pool in one process.

The loop sleeps until the next retry, run timeout or trigger is due, or until the coordinator
says a timer moved; a slow sweep (SWEEP_SECONDS) is only the safety net.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from headrace.api.context import ApiContext
from headrace.config import Settings
from headrace.engine.coordinator import Change, Coordinator, now_ms
from headrace.store import jobs as job_store
from headrace.store import runs as run_store
from headrace.store import workers as worker_store
from headrace.store.db import Store, open_store
from headrace.worker.process import WorkerProcess
from headrace.worker.recovery import kill_orphans, worker_alive

log = logging.getLogger("headrace.server")
SWEEP_SECONDS = 5.0


@dataclass(frozen=True)
class ServerOptions:
    """How `headrace server` listens and stops."""

    host: str = "127.0.0.1"
    port: int = 8765
    grace_seconds: float = 30.0
    notify: Any = None  # headrace.notify.settings.NotifySettings; None: from the environment


class CoordinatorLoop:
    """Fires due retries and run timeouts, admits queued runs, and runs the trigger loop."""

    def __init__(self, coordinator: Coordinator, ctx: ApiContext, triggers: object | None) -> None:
        self.coordinator = coordinator
        self.ctx = ctx
        self.triggers = triggers
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="headrace-coordinator", daemon=True)
        coordinator.subscribe(self._on_change)

    def _on_change(self, change: Change) -> None:
        if change.timers_changed or change.run_ended:
            self._wake.set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                wait = self._tick()
            except Exception:
                log.exception("coordinator loop tick failed")
                wait = 1.0
            self._wake.wait(wait)
            self._wake.clear()

    def _tick(self) -> float:
        """One pass; returns how long to sleep until the next thing is due."""
        store = self.coordinator.store
        now = now_ms()
        with store.read() as conn:
            due = run_store.runs_with_due_timers(conn, now)
        for run_id in due:  # one bad run must not stall the others' timers
            try:
                self.ctx.kill(self.coordinator.fire_timers(run_id), "TIMEDOUT")
            except Exception:
                log.exception("run %d: firing its timers failed", run_id)
        for job_id in self._jobs_with_queued_runs():
            try:
                self.coordinator.admit_queued(job_id)
            except Exception:
                log.exception("job %d: admitting queued runs failed", job_id)
        next_at = None
        if self.triggers is not None:
            next_at = self.triggers.tick(now_ms())  # type: ignore[attr-defined]
        with store.read() as conn:
            timer = run_store.next_timer_at(conn)
        candidates = [t for t in (timer, next_at) if t is not None]
        if not candidates:
            return SWEEP_SECONDS
        return min(max((min(candidates) - now_ms()) / 1000, 0.0), SWEEP_SECONDS)

    def _jobs_with_queued_runs(self) -> set[int]:
        with self.coordinator.store.read() as conn:
            return {
                r.job_id
                for r in run_store.active_runs(conn)
                if r.life_cycle.value == "QUEUED" and r.job_id is not None
            }


def adopt_orphaned_runs(coordinator: Coordinator, settings: Settings) -> list[int]:
    """Take over active runs whose coordinating process is gone (e.g. a killed server)."""
    now = now_ms()
    lease_ms = int(settings.lease_seconds * 1000)
    with coordinator.store.read() as conn:
        active = run_store.active_runs(conn)
        owners = worker_store.get_workers(
            conn, {r.coordinator_id for r in active if r.coordinator_id}
        )
    adopted = []
    for run in active:
        owner = owners.get(run.coordinator_id or "")
        if owner is not None and worker_alive(owner, now=now, lease_ms=lease_ms):
            continue
        who = f"pid {owner.pid} on {owner.host}" if owner is not None else "an unknown process"
        kill_orphans(coordinator, run.run_id, owner)  # its task processes outlived it
        if coordinator.adopt_run(run.run_id, f"the process running it ({who}) stopped"):
            adopted.append(run.run_id)
    return adopted


def serve(settings: Settings, options: ServerOptions, store: Store | None = None) -> None:
    """Run the server until SIGINT/SIGTERM, then stop gracefully."""
    import uvicorn

    from headrace.api.app import create_app

    store = store if store is not None else open_store(settings.db_url)
    worker = WorkerProcess(store, settings)
    ctx = ApiContext(
        store=store,
        coordinator=worker.coordinator,
        settings=settings,
        pool=worker.pool,
        base_url=f"http://{options.host}:{options.port}",
    )
    worker.coordinator.subscribe(lambda change: worker.pool.wake() if change.new_attempts else None)
    triggers = _trigger_loop(ctx)
    loop = CoordinatorLoop(worker.coordinator, ctx, triggers)
    delivery = _delivery_loop(ctx, options)
    worker.start()
    adopted = adopt_orphaned_runs(worker.coordinator, settings)
    if adopted:
        log.warning("took over %d run(s) of a stopped process: %s", len(adopted), adopted)
    loop.start()
    delivery.start()
    worker.pool.wake()
    config = uvicorn.Config(
        create_app(ctx),
        host=options.host,
        port=options.port,
        log_level="warning",
        lifespan="off",
    )
    try:
        _DrainingServer(config).run()
    finally:
        loop.stop()
        worker.stop(options.grace_seconds)
        delivery.stop()
        store.dispose()


class _DrainingServer:
    """uvicorn's server, minus re-raising SIGTERM/SIGINT once it has stopped serving: the
    signal must end the HTTP side only, so `serve` can still drain the worker pool."""

    def __new__(cls, config):  # type: ignore[no-untyped-def]
        import contextlib

        import uvicorn

        class Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self):  # type: ignore[no-untyped-def]
                import signal
                import threading

                if threading.current_thread() is not threading.main_thread():
                    yield
                    return
                previous = {
                    sig: signal.signal(sig, self.handle_exit)
                    for sig in (signal.SIGINT, signal.SIGTERM)
                }
                try:
                    yield
                finally:
                    for sig, handler in previous.items():
                        signal.signal(sig, handler)

        return Server(config)


def _delivery_loop(ctx: ApiContext, options: ServerOptions) -> Any:
    """The notification outbox's delivery thread, woken by the coordinator's changes."""
    from headrace.notify.delivery import DeliveryLoop
    from headrace.notify.settings import NotifySettings

    notify = options.notify
    if notify is None:
        notify = NotifySettings.load(default_url=ctx.base_url)
    if notify.smtp is not None:
        log.warning("notifications: mail via %s", notify.smtp.describe())
    delivery = DeliveryLoop(ctx.store, notify)
    # A run's end also wakes it: a skipped run's row is written outside the run's own change.
    ctx.coordinator.subscribe(
        lambda change: delivery.wake() if change.notifications or change.run_ended else None
    )
    return delivery


def _trigger_loop(ctx: ApiContext) -> object:
    """The schedules-and-triggers loop (cron, periodic, file arrival, continuous)."""
    from headrace.engine.triggers import TriggerLoop

    return TriggerLoop(ctx.store, ctx.coordinator)


__all__ = ["ServerOptions", "adopt_orphaned_runs", "job_store", "serve"]
