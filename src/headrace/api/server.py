"""`headrace server`: the API, the coordinator's loop and a worker pool in one process.

The loop sleeps until the next retry, run timeout or trigger is due, or until the coordinator
says a timer moved or a run ended or was queued (here or, through NOTIFY, in another process);
wake-ups that come within MIN_WAKE_GAP_SECONDS of its last pass share the next one. A slow
sweep (SWEEP_SECONDS) is only the safety net.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from headrace.api.context import ApiContext
from headrace.config import Settings
from headrace.engine.coordinator import Change, Coordinator, now_ms
from headrace.store import jobs as job_store
from headrace.store import loop_look, signals
from headrace.store import runs as run_store
from headrace.store import workers as worker_store
from headrace.store.db import Store, open_store
from headrace.store.leader import Leadership
from headrace.worker.process import WorkerProcess
from headrace.worker.recovery import fail_lost_attempts, kill_orphans, worker_alive

log = logging.getLogger("headrace.server")
SWEEP_SECONDS = 5.0
# How often the coordinating server looks for lost workers and runs (at most; lease/3 if less).
RECOVERY_SECONDS = 2.0
# How often a server that does not coordinate tries to take the coordinator lock.
LEADER_RETRY_SECONDS = 2.0
# The least time between two passes a wake-up asks for: a busy server is woken by every run
# that ends anywhere (NOTIFY) and every timer that moves, and a pass costs ~2 ms of CPU with a
# dozen statements; the wake-ups of one such interval are served by one pass (issue 18).
# Timers that fall due are still waited for exactly.
MIN_WAKE_GAP_SECONDS = 0.1
# How often a coordinating server checks that it still holds the lock (a round trip on the
# lock's connection): not on every pass of a busy loop. Everything the loop does is safe
# beside another coordinator (guarded writes, row locks), so noticing a loss a second late
# costs nothing but that second.
LEAD_CHECK_SECONDS = 1.0


@dataclass(frozen=True)
class ServerOptions:
    """How `headrace server` listens and stops."""

    host: str = "127.0.0.1"
    port: int = 8765
    grace_seconds: float = 30.0
    notify: Any = None  # headrace.notify.settings.NotifySettings; None: from the environment
    tls: Any = None  # headrace.api.tls.TlsFiles: serve https

    @property
    def own_url(self) -> str:
        """This server's address as clients on this machine reach it."""
        return f"{'https' if self.tls is not None else 'http'}://{self.host}:{self.port}"


class CoordinatorLoop:
    """Fires due retries and run timeouts, admits queued runs, runs the trigger loop and
    recovers lost workers and runs, while this server holds the coordinator lock.

    Servers that do not hold it try again every LEADER_RETRY_SECONDS, so one takes over
    within seconds of the coordinating server's death.
    """

    def __init__(
        self,
        coordinator: Coordinator,
        ctx: ApiContext,
        triggers: object | None,
        leadership: Leadership | None = None,
    ) -> None:
        self.coordinator = coordinator
        self.ctx = ctx
        self.triggers = triggers
        self.leadership = leadership if leadership is not None else Leadership(coordinator.store)
        self.leading = False
        self._recovered_at = 0.0
        self._lead_checked_at = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="headrace-coordinator", daemon=True)
        coordinator.subscribe(self._on_change)

    def _on_change(self, change: Change) -> None:
        if change.timers_changed or change.run_ended or change.run_queued:
            self._wake.set()

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join()
        self.leadership.release()

    def _run(self) -> None:
        from headrace.store.health import problem

        broken: str | None = None  # what is wrong with the store, said once (issue 11)
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                wait = self._tick()
                broken = None
            except Exception as exc:
                now_broken = problem(exc)
                if now_broken is None:
                    log.exception("coordinator loop tick failed")
                elif now_broken != broken:
                    log.error("coordinator loop waits for the store: %s", now_broken)
                broken = now_broken
                wait = 1.0 if broken is None else 5.0
            due = time.monotonic() + wait
            if self._wake.wait(wait):
                # Woken early: let the wake-ups of a burst (runs ending on every worker)
                # gather and serve them with one pass, never later than the next timer.
                gathered = min(started + MIN_WAKE_GAP_SECONDS, due)
                self._stop.wait(gathered - time.monotonic())
            self._wake.clear()

    def _lead(self) -> bool:
        """Hold (or try to take) the coordinator lock; on taking it, recover at once."""
        now = time.monotonic()
        if self.leading and now - self._lead_checked_at < LEAD_CHECK_SECONDS:
            return True
        self._lead_checked_at = now
        if not self.leadership.try_acquire():
            if self.leading:
                log.warning("no longer coordinating (lost the coordinator lock)")
            self.leading = False
            return False
        if not self.leading:
            self.leading = True
            self._recovered_at = 0.0
            log.warning("coordinating (holding the coordinator lock)")
        return True

    def _recover(self) -> None:
        """Fail attempts of lost workers (they are retried) and adopt runs of lost servers:
        safety nets, so at most every RECOVERY_SECONDS, not on every wake-up."""
        settings = self.ctx.settings
        now = time.monotonic()
        if now - self._recovered_at < min(settings.lease_seconds / 3, RECOVERY_SECONDS):
            return
        self._recovered_at = now
        lost = fail_lost_attempts(self.coordinator, lease_seconds=settings.lease_seconds)
        if lost:
            log.warning("failed %d attempt(s) of lost workers: %s", len(lost), lost)
        adopted = adopt_orphaned_runs(self.coordinator, settings)
        if adopted:
            log.warning("took over %d run(s) of a stopped process: %s", len(adopted), adopted)

    def _tick(self) -> float:
        """One pass; returns how long to sleep until the next thing is due."""
        if not self._lead():
            return LEADER_RETRY_SECONDS
        self._recover()
        store = self.coordinator.store
        now = now_ms()
        # One statement (store/loop_look.py): due timers, the next timer, queued jobs and
        # whether a backfill runs. A timer that moves after this look wakes the loop
        # (Change.timers_changed, NOTIFY) for another pass.
        with store.read() as conn:
            seen = loop_look.look(conn, now)
        due = seen.due
        timer = None if due else seen.next_at  # firing timers moves them: read again below
        # A run's end admits its job's next queued run in its own transaction, but a run
        # queued while that end commits is not seen there: its start wakes this loop
        # (Change.run_queued, NOTIFY), and every pass admits what fits.
        queued = seen.queued_jobs
        for run_id in due:  # one bad run must not stall the others' timers
            try:
                self.ctx.kill(self.coordinator.fire_timers(run_id), "TIMEDOUT")
            except Exception:
                log.exception("run %d: firing its timers failed", run_id)
        for job_id in queued:
            try:
                self.coordinator.admit_queued(job_id)
            except Exception:
                log.exception("job %d: admitting queued runs failed", job_id)
        try:
            # None running: no pump. One created after the look is pumped by its creator
            # (ops_routes), its runs' ends wake the loop, and the sweep passes anyway.
            if seen.backfills:
                _pump_backfills(self.coordinator)  # issue 16: start the dates that fit
        except Exception:
            log.exception("starting backfill runs failed")
        next_at = None
        if self.triggers is not None:
            next_at = self.triggers.tick(now_ms())  # type: ignore[attr-defined]
        if due:
            with store.read() as conn:
                timer = run_store.next_timer_at(conn)
        candidates = [t for t in (timer, next_at) if t is not None]
        sweep = min(SWEEP_SECONDS, RECOVERY_SECONDS)
        if not candidates:
            return sweep
        return min(max((min(candidates) - now_ms()) / 1000, 0.0), sweep)


def _pump_backfills(coordinator: Coordinator) -> None:
    from headrace.engine.backfill import pump  # loaded by the first tick, not at start-up

    pump(coordinator.store, coordinator)


def adopt_orphaned_runs(coordinator: Coordinator, settings: Settings) -> list[int]:
    """Take over active runs whose coordinating process is gone (e.g. a killed server)."""
    now = now_ms()
    lease_ms = int(settings.lease_seconds * 1000)
    # Every RECOVERY_SECONDS on a busy server: each active run's id and owner only, each owner
    # checked once (usually this server owns them all), the running attempts read only when
    # a run is orphaned (issue 18: it read every active run in full and /proc once per run).
    with coordinator.store.read() as conn:
        active = run_store.active_run_owners(conn)
        owners = worker_store.get_workers(conn, {owner for _, owner in active if owner})
    alive = {
        worker_id: worker_alive(worker, now=now, lease_ms=lease_ms)
        for worker_id, worker in owners.items()
    }
    orphaned = [(run_id, owners.get(owner or "")) for run_id, owner in active]
    orphaned = [(run_id, w) for run_id, w in orphaned if w is None or not alive[w.worker_id]]
    if not orphaned:
        return []
    with coordinator.store.read() as conn:
        running = worker_store.running_attempts(conn)
        executors = worker_store.get_workers(conn, {a.worker_id for a in running if a.worker_id})

    def alive_worker(worker_id: str) -> bool:
        # Attempts of workers that live on (other servers, `headrace worker`s) go on; an
        # attempt claimed since the snapshot above has a worker we look up now.
        if worker_id not in executors:
            with coordinator.store.read() as conn:
                executors.update(worker_store.get_workers(conn, {worker_id}))
        worker = executors.get(worker_id)
        return worker is not None and worker_alive(worker, now=now_ms(), lease_ms=lease_ms)

    adopted = []
    for run_id, owner in orphaned:
        who = f"pid {owner.pid} on {owner.host}" if owner is not None else "an unknown process"
        kill_orphans(coordinator, run_id, owner)  # its task processes outlived it
        message = f"the process running it ({who}) stopped"
        if coordinator.adopt_run(run_id, message, alive=alive_worker):
            adopted.append(run_id)
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
        # run_page_url and notification links: --public-url, else this server's own address
        base_url=options.notify.public_url if options.notify is not None else options.own_url,
    )
    worker.coordinator.subscribe(lambda change: worker.pool.wake() if change.new_attempts else None)
    triggers = _trigger_loop(ctx)
    loop = CoordinatorLoop(worker.coordinator, ctx, triggers)
    delivery = _delivery_loop(ctx, options)
    worker.start()
    # Changes made by other servers and workers (PostgreSQL) wake this server's loop.
    listener = signals.Listener(store, [signals.COORDINATE], lambda _: _wake(loop, delivery))
    listener.start()
    loop.start()
    delivery.start()
    worker.pool.wake()
    config = uvicorn.Config(
        create_app(ctx),
        host=options.host,
        port=options.port,
        log_level="warning",
        lifespan="off",
        ssl_certfile=str(options.tls.cert) if options.tls is not None else None,
        ssl_keyfile=str(options.tls.key) if options.tls is not None else None,
    )
    try:
        _DrainingServer(config).run()
    finally:
        listener.stop()
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


def _wake(loop: CoordinatorLoop, delivery: Any) -> None:
    """Another process committed a change: timers, a run's end or outbox rows may be new."""
    loop.wake()
    delivery.wake()


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

    interval_ms = int(ctx.settings.continuous_min_interval_seconds * 1000)
    return TriggerLoop(ctx.store, ctx.coordinator, continuous_min_interval_ms=interval_ms)


__all__ = ["ServerOptions", "adopt_orphaned_runs", "job_store", "serve"]
