"""`headrace worker`, `headrace workers list`, `headrace db upgrade | current`."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from typing import Any

from headrace.config import Settings


def db_upgrade(db: str | None) -> None:
    """Bring the store's schema to this Headrace's head (a lock keeps two upgrades apart)."""
    from headrace.store.db import SCHEMA_HEAD, current_revision, open_store
    from headrace.store.migrate import upgrade

    settings = Settings.load(db=db)
    store = open_store(settings.db_url, migrate=False)
    before = current_revision(store)
    if before == SCHEMA_HEAD:
        print(f"already at {SCHEMA_HEAD} (head)")
        return
    upgrade(store)
    print(f"upgraded {before or 'an empty database'} -> {current_revision(store)} (head)")


def db_current(db: str | None) -> int:
    """Print the store's schema revision; 0 if at head, 1 if it needs an upgrade."""
    from headrace.store.db import SCHEMA_HEAD, current_revision, open_store

    settings = Settings.load(db=db)
    revision = current_revision(open_store(settings.db_url, migrate=False))
    if revision == SCHEMA_HEAD:
        print(f"{revision} (head)")
        return 0
    print(f"{revision or 'empty'} (head is {SCHEMA_HEAD}: run `headrace db upgrade`)")
    return 1


def run_worker(db: str | None, slots: int | None, grace_seconds: float, pools: list[str]) -> None:
    """Claim and run attempts until SIGTERM/SIGINT, then drain: no new claims, running
    attempts get `grace_seconds` to finish, then they are stopped and reported failed."""
    from headrace.store.db import open_store
    from headrace.worker.process import WorkerProcess

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    settings = Settings.load(db=db, slots=slots, pools=pools)
    store = open_store(settings.db_url)
    worker = WorkerProcess(store, settings)
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    worker.start()
    print(
        f"worker {worker.worker_id} on {settings.db_url.split('@')[-1]}: {worker.pool.slots} slots",
        file=sys.stderr,
        flush=True,
    )
    worker.pool.wake()
    stop.wait()
    print("draining: no new attempts; waiting for running ones", file=sys.stderr, flush=True)
    worker.stop(grace_seconds)
    store.dispose()


def list_workers(db: str | None, *, as_json: bool, include_stopped: bool) -> None:
    """Live (and, if asked, stopped or lost) workers, their slots and what they run."""
    from headrace.engine.coordinator import now_ms
    from headrace.store import workers as worker_store
    from headrace.store.db import open_store
    from headrace.worker.recovery import worker_alive

    settings = Settings.load(db=db)
    store = open_store(settings.db_url)
    lease_ms = int(settings.lease_seconds * 1000)
    now = now_ms()
    with store.read() as conn:
        workers = worker_store.all_workers(conn)
        running = worker_store.running_attempts_by_worker(conn)
    rows = []
    for w in workers:
        alive = worker_alive(w, now=now, lease_ms=lease_ms)
        if not alive and not include_stopped:
            continue
        state = "alive" if alive else ("stopped" if w.stopped_at is not None else "lost")
        tasks = running.get(w.worker_id, [])
        rows.append(
            {
                "worker_id": w.worker_id,
                "host": w.host,
                "pid": w.pid,
                "slots": w.slots,
                "pools": (w.pools or "").split(",") if w.pools else [],
                "state": state,
                "heartbeat_age_seconds": round((now - w.heartbeat_at) / 1000, 1),
                "running": [{"run_id": r, "task_key": k} for r, k in tasks],
            }
        )
    if as_json:
        sys.stdout.write(json.dumps({"workers": rows}, indent=2) + "\n")
        return
    if not rows:
        print("no live workers")
        return
    for r in rows:
        doing = ", ".join(f"{t['run_id']}/{t['task_key']}" for t in r["running"]) or "idle"
        print(
            f"{r['worker_id'][:12]}  {r['host']}:{r['pid']}  {r['state']:7}  "
            f"{len(r['running'])}/{r['slots']} slots  pools {','.join(r['pools']) or '-'}  "
            f"beat {r['heartbeat_age_seconds']}s ago  {doing}"
        )
