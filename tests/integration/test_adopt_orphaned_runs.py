"""The coordinating server's recovery sweep (api/server.adopt_orphaned_runs) adopts exactly the
active runs whose owner is gone or unknown, on SQLite and PostgreSQL (issue 18: it now reads
each active run's owner only, and each owner is checked once)."""

from __future__ import annotations

import os
from pathlib import Path

from headrace.api.server import adopt_orphaned_runs
from headrace.config import Settings
from headrace.engine.coordinator import Coordinator, now_ms
from headrace.store import runs as run_store
from headrace.store import workers as worker_store
from headrace.store.db import Store
from headrace.worker.recovery import HOST, process_start_token

from .helpers import job, shell

_SETTINGS = Settings(
    home=Path("/nonexistent"), db_url="", slots=1, lease_seconds=30.0, heartbeat_seconds=10.0
)


def _worker(store: Store, worker_id: str, *, alive: bool) -> None:
    with store.begin() as conn:
        worker_store.register_worker(
            conn,
            worker_id=worker_id,
            host=HOST,
            pid=os.getpid(),
            proc_start=process_start_token(os.getpid()),
            slots=1,
            now_ms=now_ms(),
        )
        if not alive:
            worker_store.stop_worker(conn, worker_id, now_ms())


def test_only_runs_of_gone_or_unknown_owners_are_adopted(store: Store) -> None:
    _worker(store, "alive", alive=True)
    _worker(store, "gone", alive=False)
    settings = job(shell("a"), shell("b", "a"))
    owned = {
        owner: [Coordinator(store, coordinator_id=owner).start_run(settings, job_id=None)]
        for owner in ("alive", "gone", "nobody")
    }
    owned["alive"].append(
        Coordinator(store, coordinator_id="alive").start_run(settings, job_id=None)
    )
    me = Coordinator(store, coordinator_id="alive")
    adopted = adopt_orphaned_runs(me, _SETTINGS)
    assert sorted(adopted) == sorted(owned["gone"] + owned["nobody"])
    with store.read() as conn:
        for run_id in adopted:
            assert run_store.get_run(conn, run_id).coordinator_id == "alive"
        for run_id in owned["alive"]:
            assert run_store.get_run(conn, run_id).coordinator_id == "alive"
    assert adopt_orphaned_runs(me, _SETTINGS) == []  # nothing left to take over
