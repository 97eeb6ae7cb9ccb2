"""Recovery (headrace.worker.recovery): runs whose driving process died end FAILED, clearly."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from headrace.engine.coordinator import Coordinator, now_ms
from headrace.states import Result
from headrace.store import workers as worker_store
from headrace.worker.recovery import HOST, process_start_token, recover_lost_runs

from .helpers import api, attempt, attempts, claim, claim_key, finish, job, run, shell, states

LEASE_SECONDS = 30.0


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _register(store, worker_id: str, *, host: str, pid: int, proc_start, heartbeat_at: int):
    with store.begin() as conn:
        worker_store.register_worker(
            conn,
            worker_id=worker_id,
            host=host,
            pid=pid,
            proc_start=proc_start,
            slots=2,
            now_ms=heartbeat_at,
        )


def _lost_worker(store, how: str) -> tuple[int, str]:
    """Register a worker that is gone; returns its pid and host."""
    if how == "dead_pid":
        pid = _dead_pid()
        _register(store, "w-gone", host=HOST, pid=pid, proc_start="1", heartbeat_at=now_ms())
        return pid, HOST
    stale = now_ms() - int(LEASE_SECONDS * 1000) - 60_000
    _register(
        store, "w-gone", host="elsewhere.example", pid=4242, proc_start="9", heartbeat_at=stale
    )
    return 4242, "elsewhere.example"


@pytest.mark.parametrize("how", ["dead_pid", "stale_heartbeat_elsewhere"])
def test_run_of_a_lost_worker_ends_failed_naming_the_process(store, how):
    pid, host = _lost_worker(store, how)
    owner = Coordinator(store, coordinator_id="w-gone")
    run_id = owner.start_run(
        job(
            shell("a", max_retries=3),
            shell("b"),
            shell("c"),
            shell("after", "a"),
            shell("last", "after"),
        ),
        job_id=None,
    )
    running = [claim_key(owner, "a", "w-gone"), claim_key(owner, "b", "w-gone")]
    # c's attempt is still PENDING: nobody claimed it before the process died.

    recovered = recover_lost_runs(
        Coordinator(store, coordinator_id="w-new"), lease_seconds=LEASE_SECONDS
    )

    assert recovered == [run_id]
    lost = run(store, run_id)
    assert (lost.life_cycle.value, lost.result) == ("TERMINATED", Result.FAILED)
    assert f"pid {pid}" in lost.state_message
    assert host in lost.state_message
    assert "stopped" in lost.state_message
    for a in running:
        stored = attempt(store, a.attempt_id)
        assert (stored.state, stored.result) == ("TERMINATED", Result.FAILED)
        assert stored.error.startswith("worker lost")
        assert f"pid {pid}" in stored.error
    final = states(store, run_id)
    assert final["a"] == ("TERMINATED", "FAILED")  # no retry for a lost run
    assert final["b"] == ("TERMINATED", "FAILED")
    assert final["c"][0] in ("TERMINATED", "SKIPPED")
    assert final["after"][0] == "SKIPPED"
    assert final["last"][0] == "SKIPPED"
    assert [x.attempt_number for x in attempts(store, run_id) if x.payload["task_key"] == "a"] == [
        0
    ]
    assert claim(owner) is None

    view = api(store, run_id)
    assert view["state"]["result_state"] == "FAILED"
    assert view["status"]["termination_details"]["code"] == "RUN_EXECUTION_ERROR"
    assert f"pid {pid}" in view["state"]["state_message"]

    # Recovery is idempotent: the run is no longer active.
    assert recover_lost_runs(Coordinator(store), lease_seconds=LEASE_SECONDS) == []


def test_runs_of_live_workers_are_left_alone(store):
    token = process_start_token(os.getpid())
    assert token is not None
    _register(store, "w-me", host=HOST, pid=os.getpid(), proc_start=token, heartbeat_at=0)
    _register(
        store, "w-far", host="elsewhere.example", pid=1, proc_start=None, heartbeat_at=now_ms()
    )
    mine = Coordinator(store, coordinator_id="w-me").start_run(job(shell("a")), job_id=None)
    far = Coordinator(store, coordinator_id="w-far").start_run(job(shell("a")), job_id=None)

    assert recover_lost_runs(Coordinator(store), lease_seconds=LEASE_SECONDS) == []
    assert run(store, mine).life_cycle.value == "RUNNING"
    assert run(store, far).life_cycle.value == "RUNNING"


def test_stopped_worker_and_unknown_owner_are_lost(store):
    _register(
        store, "w-stopped", host=HOST, pid=os.getpid(), proc_start=None, heartbeat_at=now_ms()
    )
    with store.begin() as conn:
        worker_store.stop_worker(conn, "w-stopped", now_ms())
    stopped = Coordinator(store, coordinator_id="w-stopped").start_run(job(shell("a")), job_id=None)
    unknown = Coordinator(store, coordinator_id="w-never").start_run(job(shell("a")), job_id=None)

    recovered = recover_lost_runs(Coordinator(store), lease_seconds=LEASE_SECONDS)

    assert sorted(recovered) == sorted([stopped, unknown])
    assert "stopped" in run(store, stopped).state_message
    assert "unknown" in run(store, unknown).state_message
    for run_id in (stopped, unknown):
        assert run(store, run_id).result is Result.FAILED
        (a,) = attempts(store, run_id)
        assert (a.state, a.result) == ("TERMINATED", Result.FAILED)
        assert a.error.startswith("worker lost")


def test_recovered_run_can_be_repaired(store):
    _lost_worker(store, "dead_pid")
    owner = Coordinator(store, coordinator_id="w-gone")
    run_id = owner.start_run(job(shell("a"), shell("b", "a")), job_id=None)
    claim_key(owner, "a", "w-gone")
    survivor = Coordinator(store, coordinator_id="w-new")
    recover_lost_runs(survivor, lease_seconds=LEASE_SECONDS)

    survivor.repair_run(run_id, rerun_all_failed_tasks=True)
    assert run(store, run_id).coordinator_id == "w-new"
    for key in ("a", "b"):
        a = claim_key(survivor, key)
        finish(survivor, a)
    assert run(store, run_id).result is Result.SUCCESS
