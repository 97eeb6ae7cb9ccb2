"""Finding runs whose driving process died, ending them clearly, and killing their leftovers."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
from pathlib import Path
from typing import Any

from headrace.engine.coordinator import Coordinator, now_ms
from headrace.store import runs as run_store
from headrace.store import workers as worker_store
from headrace.store.records import Attempt, Worker

log = logging.getLogger("headrace.worker")

HOST = socket.gethostname()


def process_start_token(pid: int) -> str | None:
    """The kernel's start time of `pid` (field 22 of /proc/PID/stat), to tell reused pids."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def worker_alive(worker: Worker, *, now: int, lease_ms: int) -> bool:
    """Is this worker process still alive? Exact on its own host, by lease elsewhere."""
    if worker.stopped_at is not None:
        return False
    if worker.host == HOST and worker.proc_start is not None:
        return process_start_token(worker.pid) == worker.proc_start
    return worker.heartbeat_at + lease_ms > now


def recover_lost_runs(coordinator: Coordinator, *, lease_seconds: float) -> list[int]:
    """End every active run whose coordinating process is gone; returns their ids."""
    store = coordinator.store
    now = now_ms()
    with store.begin() as conn:
        active = run_store.active_runs(conn)
        owners = {r.coordinator_id for r in active if r.coordinator_id}
        workers = worker_store.get_workers(conn, owners)
    lost = []
    for run in active:
        worker = workers.get(run.coordinator_id or "")
        if worker is not None and worker_alive(worker, now=now, lease_ms=int(lease_seconds * 1000)):
            continue
        if worker is None:
            message = "the process running this run is unknown; the run was lost"
        else:
            message = (
                f"the headrace process running this run (pid {worker.pid} on {worker.host}) "
                "stopped; repair the run to finish it"
            )
        kill_orphans(coordinator, run.run_id, worker)
        if coordinator.fail_lost_run(run.run_id, message):
            lost.append(run.run_id)
    reap_spark_clusters(store)
    return lost


def reap_spark_clusters(store: Any) -> None:
    """Stop the Spark job clusters of ended runs (the keepers do it too; this catches a keeper
    that could not reach the store) and record clusters whose keeper died (issue 12)."""
    try:
        from headrace.store.spark_clusters import live_clusters

        with store.read() as conn:
            if not live_clusters(conn):
                return  # the usual case: no Spark cluster, so compute/ need not load
        from headrace.compute.clusters import reap

        reap(store)
    except Exception:  # recovery of runs must not fail because of a cluster
        log.warning("could not check Spark clusters", exc_info=True)


def kill_orphans(coordinator: Coordinator, run_id: int, worker: Worker | None) -> None:
    """Task processes outlive a killed worker (own sessions): stop those it ran on this host.

    Only attempts that dead process ran itself: other workers (a `headrace worker`, another
    server) may be running attempts of the same run, and they live on.
    """
    if worker is None or worker.host != HOST:
        return
    with coordinator.store.begin() as conn:
        attempts = run_store.open_attempts_of_run(conn, run_id)
    for attempt in attempts:
        if attempt.worker_id == worker.worker_id:
            _kill_attempt(attempt, worker)


def _runs_attempt(pid: int, attempt: Attempt) -> bool:
    """Is `pid` still the process we started for this attempt (not a reused pid, nor a task
    of another store whose task run ids are the same numbers)?"""
    try:
        environ = set(Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"))
    except OSError:
        return False
    return _identity(attempt) <= environ


def _identity(attempt: Attempt) -> set[bytes]:
    """What the supervisor put in the attempt's environment that names it."""
    marks = {
        f"HEADRACE_TASK_RUN_ID={attempt.task_run_id}".encode(),
        f"HEADRACE_ATTEMPT_NUMBER={attempt.attempt_number}".encode(),
    }
    if attempt.worker_id:
        marks.add(f"HEADRACE_WORKER_ID={attempt.worker_id}".encode())
    return marks


def fail_lost_attempts(coordinator: Coordinator, *, lease_seconds: float) -> list[int]:
    """Fail running attempts whose worker is gone (so they are retried); returns their ids.

    A worker on this host is gone when its process is; one elsewhere when its lease (heartbeat)
    has expired.
    """
    store = coordinator.store
    now = now_ms()
    lease_ms = int(lease_seconds * 1000)
    with store.read() as conn:
        running = worker_store.running_attempts(conn)
        owners = worker_store.get_workers(conn, {a.worker_id for a in running if a.worker_id})
    failed = []
    for attempt in running:
        worker = owners.get(attempt.worker_id or "")
        if worker is not None and worker_alive(worker, now=now, lease_ms=lease_ms):
            continue
        if worker is None:
            message = f"worker {attempt.worker_id} is unknown"
        else:
            beat = (now - worker.heartbeat_at) / 1000
            message = (
                f"worker {worker.worker_id[:12]} (pid {worker.pid} on {worker.host}) stopped; "
                f"last heartbeat {beat:.0f}s ago"
            )
        _kill_attempt(attempt, worker)
        if coordinator.fail_lost_attempt(attempt, message):
            failed.append(attempt.attempt_id)
    return failed


def _kill_attempt(attempt: Attempt, worker: Worker | None) -> None:
    """The lost worker's task processes may outlive it (own session): stop them if here.

    Not only the attempt's main process: everything in its session, even after the main
    process exited and left children behind (issue 11), and children that moved to a process
    group of their own. The session is found from the recorded pid while that process is the
    attempt's, and from every process on this host that carries the attempt's environment.
    """
    if worker is None or worker.host != HOST:
        return
    for session in _sessions_of(attempt):
        _kill_session(session)


def _sessions_of(attempt: Attempt) -> set[int]:
    """Session ids of the attempt's processes on this host."""
    sessions = set()
    if attempt.pid and _runs_attempt(attempt.pid, attempt):
        sessions.add(attempt.pid)  # the supervisor started it as a session leader
    wanted = _identity(attempt)
    for pid in _pids():
        if wanted <= _environ(pid):
            session = _session_of(pid)
            if session is not None:
                sessions.add(session)
    sessions.discard(os.getsid(0))  # never this process's own session
    return sessions


def _kill_session(session: int) -> None:
    """SIGKILL every process of a session (each process group of it included)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(session, signal.SIGKILL)
    for pid in _pids():
        if pid != os.getpid() and _session_of(pid) == session:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def _pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def _environ(pid: int) -> set[bytes]:
    try:
        return set(Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"))
    except OSError:
        return set()


def _session_of(pid: int) -> int | None:
    """The session id of a live process (field 6 of /proc/PID/stat), None if gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[3]) if fields[0] not in ("Z", "X") else None
