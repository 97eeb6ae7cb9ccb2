"""Guarded writes and concurrent workers: no double finish, no double claim, no lost dependent."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from headrace.engine.coordinator import AttemptOutcome, Coordinator
from headrace.errors import InvalidTransition
from headrace.states import LifeCycle, Result
from headrace.store import runs as run_store
from headrace.store.pg import PgTx

from .helpers import LOG, attempt, attempts, claim, claim_key, finish, job, run, shell, states

WORKERS = 8


def test_finishing_an_attempt_twice_raises_and_changes_nothing(store, coordinator):
    run_id = coordinator.start_run(job(shell("a"), shell("b", "a")), job_id=None)
    a = claim_key(coordinator, "a")
    finish(coordinator, a, exit_code=0)
    before = (states(store, run_id), attempts(store, run_id), run(store, run_id))

    with pytest.raises(InvalidTransition):
        finish(coordinator, a, Result.FAILED, error="late report", exit_code=1)
    with pytest.raises(InvalidTransition):
        coordinator.finish_attempt(
            a, AttemptOutcome(Result.SUCCESS), claim_for=("w9", lambda _: LOG)
        )

    assert (states(store, run_id), attempts(store, run_id), run(store, run_id)) == before
    stored = attempt(store, a.attempt_id)
    assert (stored.result, stored.exit_code, stored.error) == (Result.SUCCESS, 0, None)
    # b's attempt exists exactly once and is still there to claim (the failed call claimed none)
    assert [x.payload["task_key"] for x in attempts(store, run_id)] == ["a", "b"]
    assert claim_key(coordinator, "b").worker_id == "w1"


def test_finishing_after_the_run_was_recovered_raises(store, coordinator):
    run_id = coordinator.start_run(job(shell("a")), job_id=None)
    a = claim_key(coordinator, "a")
    coordinator.fail_lost_run(run_id, "the worker died")
    before = (states(store, run_id), run(store, run_id))
    with pytest.raises(InvalidTransition):
        finish(coordinator, a)
    assert (states(store, run_id), run(store, run_id)) == before
    assert run(store, run_id).result is Result.FAILED


def test_finish_can_claim_the_next_attempt_in_the_same_transaction(store, coordinator):
    run_id = coordinator.start_run(job(shell("a"), shell("b", "a")), job_id=None)
    a = claim_key(coordinator, "a")
    following = coordinator.finish_attempt(
        a, AttemptOutcome(Result.SUCCESS), claim_for=("w2", lambda _: LOG)
    )
    assert following is not None
    assert following.payload["task_key"] == "b"
    assert (following.state, following.worker_id) == ("RUNNING", "w2")
    assert states(store, run_id)["b"] == ("RUNNING", None)
    assert attempt(store, following.attempt_id).worker_id == "w2"
    assert claim(coordinator) is None


def _claim_all(coordinator: Coordinator, n_threads: int) -> list[tuple[str, int]]:
    barrier = threading.Barrier(n_threads)

    def worker(i: int) -> list[tuple[str, int]]:
        name = f"w{i}"
        barrier.wait(timeout=10)
        got = []
        while (a := coordinator.claim_next_attempt(name, lambda _a: LOG)) is not None:
            got.append((name, a.attempt_id))
        return got

    with ThreadPoolExecutor(n_threads) as pool:
        results = list(pool.map(worker, range(n_threads)))
    return [item for got in results for item in got]


def test_concurrent_claims_never_hand_one_attempt_to_two_workers(store, coordinator):
    n_tasks = 40
    run_id = coordinator.start_run(job(*(shell(f"t{i}") for i in range(n_tasks))), job_id=None)
    claimed = _claim_all(coordinator, WORKERS)

    ids = [attempt_id for _, attempt_id in claimed]
    assert len(ids) == len(set(ids)), "an attempt was handed to two workers"
    assert len(ids) == n_tasks
    assert claim(coordinator) is None
    stored = {a.attempt_id: a for a in attempts(store, run_id)}
    for worker_id, attempt_id in claimed:
        assert (stored[attempt_id].state, stored[attempt_id].worker_id) == ("RUNNING", worker_id)
    assert set(states(store, run_id).values()) == {("RUNNING", None)}


def test_concurrent_claims_from_separate_stores(db_url, store):
    """Workers in different processes each have their own engine (and connection pool)."""
    from headrace.store.db import open_store

    n_tasks = 24
    Coordinator(store).start_run(job(*(shell(f"t{i}") for i in range(n_tasks))), job_id=None)
    stores = [open_store(db_url) for _ in range(4)]
    try:
        barrier = threading.Barrier(len(stores))

        def worker(i: int) -> list[int]:
            coordinator = Coordinator(stores[i])
            barrier.wait(timeout=10)
            got = []
            while (a := coordinator.claim_next_attempt(f"p{i}", lambda _a: LOG)) is not None:
                got.append(a.attempt_id)
            return got

        with ThreadPoolExecutor(len(stores)) as pool:
            ids = [x for got in pool.map(worker, range(len(stores))) for x in got]
    finally:
        for s in stores:
            s.dispose()
    assert sorted(ids) == sorted(set(ids))
    assert len(ids) == n_tasks


def test_concurrent_finishes_start_the_join_exactly_once(store, coordinator):
    n = 12
    settings = job(*(shell(f"t{i}") for i in range(n)), shell("join", *(f"t{i}" for i in range(n))))
    run_id = coordinator.start_run(settings, job_id=None)
    claimed = [claim(coordinator, f"w{i}") for i in range(n)]
    assert claim(coordinator) is None
    barrier = threading.Barrier(n)

    def report(a):
        barrier.wait(timeout=10)
        finish(coordinator, a)

    with ThreadPoolExecutor(n) as pool:
        list(pool.map(report, claimed))

    assert [x.payload["task_key"] for x in attempts(store, run_id)].count("join") == 1
    join = claim_key(coordinator, "join")
    finish(coordinator, join)
    assert run(store, run_id).result is Result.SUCCESS


def test_workers_draining_a_dag_concurrently_run_every_task_once(store, coordinator):
    # A layered DAG: 6 roots, 6 middles each on two roots, one join on all middles.
    roots = [shell(f"r{i}") for i in range(6)]
    middles = [shell(f"m{i}", f"r{i}", f"r{(i + 1) % 6}") for i in range(6)]
    settings = job(*roots, *middles, shell("join", *(f"m{i}" for i in range(6))))
    run_id = coordinator.start_run(settings, job_id=None)
    done = threading.Event()

    def worker(i: int) -> list[str]:
        ran = []
        while not done.is_set():
            a = coordinator.claim_next_attempt(f"w{i}", lambda _a: LOG)
            if a is None:
                if run(store, run_id).life_cycle.value == "TERMINATED":
                    done.set()
                time.sleep(0.005)
                continue
            ran.append(a.payload["task_key"])
            finish(coordinator, a)
        return ran

    with ThreadPoolExecutor(WORKERS) as pool:
        futures = [pool.submit(worker, i) for i in range(WORKERS)]
        if not done.wait(timeout=30):
            done.set()
        ran = [key for f in futures for key in f.result()]
    expected = [*(f"r{i}" for i in range(6)), *(f"m{i}" for i in range(6)), "join"]
    assert sorted(ran) == sorted(expected)  # every task ran, none twice
    assert run(store, run_id).result is Result.SUCCESS


@pytest.mark.postgres
def test_cancel_racing_a_claim_never_ends_a_claimed_attempt_unkilled(pg_store):
    """BUG (PostgreSQL): cancel reads an attempt as PENDING, a worker claims it before cancel's
    guarded UPDATE runs, and the UPDATE (allowed from RUNNING too) ends it as CANCELED without
    returning it to kill: the worker runs the task to completion after the run ended."""
    store = pg_store  # SQLite serialises writers: this interleaving needs row locks
    coordinator = Coordinator(store)
    run_id = coordinator.start_run(job(shell("a"), shell("b")), job_id=None)

    # A worker's claim transaction, held open after it took (and locked) attempt a.
    worker_conn = store.engine.connect()
    worker_tx = worker_conn.begin()
    worker = PgTx(worker_conn)  # the store's query functions take a Tx (store/sql.py)
    claimed = run_store.claim_next_attempt(worker, "w-race", 1, lambda _a: LOG)
    assert claimed is not None and claimed.payload["task_key"] == "a"

    result: dict[str, object] = {}

    def cancel() -> None:
        try:
            result["to_kill"] = coordinator.cancel_run(run_id)
        except Exception as exc:  # reported below
            result["error"] = exc

    canceller = threading.Thread(target=cancel)
    canceller.start()
    try:
        _wait_for_lock_wait(store, timeout=10)
    finally:
        run_store.set_task_state(worker, claimed.task_run_id, LifeCycle.RUNNING)
        worker_tx.commit()
        worker_conn.close()
        canceller.join(timeout=30)
    assert "error" not in result, result.get("error")
    to_kill = result["to_kill"]
    stored = attempt(store, claimed.attempt_id)
    # Either cancel leaves the claimed attempt for its worker to report (and asks to kill it),
    # or it never ends an attempt that a worker holds.
    assert claimed.attempt_id in [x.attempt_id for x in to_kill], (
        f"claimed attempt ended as {stored.state}/{stored.result} by cancel, "
        f"kill_reason={stored.kill_reason!r}, but not returned to be killed"
    )
    assert stored.state == "RUNNING"


def _wait_for_lock_wait(store, *, timeout: float) -> None:
    """Wait until some session of this database waits on a row lock."""
    deadline = time.monotonic() + timeout
    with store.engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND datname = current_database() "
                    "AND query ILIKE '%UPDATE attempts%'"
                )
            ).scalar_one()
            conn.rollback()
            if waiting:
                return
            time.sleep(0.02)
    raise AssertionError("cancel_run never waited on the claimed attempt's row lock")
