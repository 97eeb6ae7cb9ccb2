"""A worker's claim whose COMMIT succeeded but whose answer was lost (worker/pool.py _sweep):
the attempt it claimed, RUNNING under this worker, is run here; a sweep never takes an attempt
another slot of the pool has claimed and is about to run."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy.exc

from headrace.engine.coordinator import Coordinator
from headrace.store import workers as worker_store
from headrace.store.db import Store
from headrace.store.records import Attempt
from headrace.worker import pool as pool_module
from headrace.worker.pool import WorkerPool

from .helpers import attempts, job, run, states

WORKER = "lost-ack-worker"


def _lost_answer() -> Exception:
    return sqlalchemy.exc.OperationalError(
        "COMMIT", {}, Exception("server closed the connection unexpectedly")
    )


class LosingCoordinator(Coordinator):
    """The real coordinator; a claim (with a task end, or a slot's own) selected by
    `lose_report` / `lose_claim` commits and then raises, as when the COMMIT's answer is lost.
    `linger` widens the window between a claim's commit and the pool's registration of it."""

    def __init__(self, store: Store) -> None:
        super().__init__(store, coordinator_id=WORKER)
        self.lose_report = 0  # how many reports that claimed lose their answer
        self.lose_claim = 0
        self.fail_reports = 0  # how many reports fail before anything commits
        self.lost: list[Attempt] = []
        self.linger = 0.0

    def finish_attempt(self, *args: Any, **kwargs: Any) -> Attempt | None:
        if self.fail_reports > 0:
            self.fail_reports -= 1
            raise _lost_answer()
        following = super().finish_attempt(*args, **kwargs)
        if following is not None and self.lose_report > 0:
            self.lose_report -= 1
            self.lost.append(following)
            raise _lost_answer()
        if following is not None and self.linger:
            time.sleep(self.linger)
        return following

    def claim_next_attempt(self, *args: Any, **kwargs: Any) -> Attempt | None:
        found = super().claim_next_attempt(*args, **kwargs)
        if found is not None and self.lose_claim > 0:
            self.lose_claim -= 1
            self.lost.append(found)
            raise _lost_answer()
        if found is not None and self.linger:
            time.sleep(self.linger)
        return found


@pytest.fixture
def losing(store: Store) -> LosingCoordinator:
    return LosingCoordinator(store)


def _pool(losing: LosingCoordinator, tmp_path: Path, slots: int) -> WorkerPool:
    pool = WorkerPool(losing, worker_id=WORKER, slots=slots, logs_dir=tmp_path / "logs")
    losing.subscribe(lambda change: pool.wake() if change.new_attempts else None)
    return pool


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The attempt ids the pool's slots ran, in order."""
    ids: list[int] = []
    real = pool_module.run_attempt

    def counting(attempt: Attempt, *args: Any, **kwargs: Any) -> Any:
        ids.append(attempt.attempt_id)
        return real(attempt, *args, **kwargs)

    monkeypatch.setattr(pool_module, "run_attempt", counting)
    return ids


@pytest.fixture
def pools() -> Iterator[list[WorkerPool]]:
    started: list[WorkerPool] = []
    yield started
    for p in started:
        p.stop(grace_seconds=5)


def _task(key: str, command: str, *after: str) -> dict[str, Any]:
    task: dict[str, Any] = {"task_key": key, "shell_command_task": {"command": command}}
    if after:
        task["depends_on"] = [{"task_key": k} for k in after]
    return task


def _wait_for(check: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


def _ended(store: Store, run_id: int) -> bool:
    return run(store, run_id).life_cycle.value == "TERMINATED"


def _running_here(store: Store) -> list[Attempt]:
    with store.read() as conn:
        return worker_store.running_attempts_of(conn, WORKER)


def _assert_succeeded_once_each(store: Store, run_id: int, ran: list[int]) -> None:
    assert run(store, run_id).result is not None
    assert run(store, run_id).result.value == "SUCCESS"  # type: ignore[union-attr]
    assert all(result == "SUCCESS" for _, result in states(store, run_id).values())
    done = attempts(store, run_id)
    assert len(done) == len(states(store, run_id))  # one attempt per task: no retry
    assert sorted(ran) == sorted({*ran})  # none ran twice
    assert {a.attempt_id for a in done} <= set(ran)
    assert _running_here(store) == []


def test_an_attempt_claimed_by_a_report_whose_answer_was_lost_is_run_here(
    store: Store, losing: LosingCoordinator, pools: list[WorkerPool], ran: list[int], tmp_path: Path
) -> None:
    losing.lose_report = 1  # a's end claims b; the answer is lost, the retry finds a ended
    pool = _pool(losing, tmp_path, slots=1)
    pools.append(pool)
    pool.start()
    run_id = losing.start_run(job(_task("a", "true"), _task("b", "true", "a")), job_id=None)
    assert _wait_for(lambda: _ended(store, run_id), 10), states(store, run_id)
    assert [a.payload["task_key"] for a in losing.lost] == ["b"]
    assert losing.lost[0].attempt_id in ran
    _assert_succeeded_once_each(store, run_id, ran)


def test_an_attempt_claimed_by_an_idle_slot_whose_answer_was_lost_is_run_here(
    store: Store, losing: LosingCoordinator, pools: list[WorkerPool], ran: list[int], tmp_path: Path
) -> None:
    losing.lose_claim = 1
    pool = _pool(losing, tmp_path, slots=1)
    pools.append(pool)
    pool.start()
    run_id = losing.start_run(job(_task("a", "true")), job_id=None)
    assert _wait_for(lambda: _ended(store, run_id), 10), states(store, run_id)
    assert [a.payload["task_key"] for a in losing.lost] == ["a"]
    _assert_succeeded_once_each(store, run_id, ran)


def test_a_sweep_never_takes_an_attempt_another_slot_claimed(
    store: Store, losing: LosingCoordinator, pools: list[WorkerPool], ran: list[int], tmp_path: Path
) -> None:
    # Every claim lingers between its commit and the pool's registration of what it claimed;
    # sweeps run all the while: one that took such an attempt would run it twice.
    losing.linger = 0.005
    pool = _pool(losing, tmp_path, slots=2)
    pools.append(pool)
    pool.start()
    stop = threading.Event()
    sweeps = 0

    def sweep() -> None:
        nonlocal sweeps
        while not stop.is_set():
            pool._sweep()
            sweeps += 1
            time.sleep(0.002)

    sweeper = threading.Thread(target=sweep)
    sweeper.start()
    try:
        tasks = [_task(f"t{i}", "true") for i in range(30)]
        run_id = losing.start_run(job(*tasks), job_id=None)
        assert _wait_for(lambda: _ended(store, run_id), 60), states(store, run_id)
    finally:
        stop.set()
        sweeper.join()
    assert sweeps > 10
    _assert_succeeded_once_each(store, run_id, ran)
    assert len(ran) == 30


def test_an_attempt_whose_end_could_not_be_reported_is_ended_as_lost(
    store: Store,
    losing: LosingCoordinator,
    pools: list[WorkerPool],
    ran: list[int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pool_module, "REPORT_RETRY_DELAYS", (0.01, 0.01))
    losing.fail_reports = 3  # every try of a's report: the slot gives up
    pool = _pool(losing, tmp_path, slots=1)
    pools.append(pool)
    pool.start()
    run_id = losing.start_run(job(_task("a", "true")), job_id=None)
    # Its worker lives on (no lease expires): the sweep after giving up ends it.
    assert _wait_for(lambda: _ended(store, run_id), 10), states(store, run_id)
    assert states(store, run_id) == {"a": ("TERMINATED", "FAILED")}
    (only,) = attempts(store, run_id)
    assert "worker lost" in (only.error or "")
    assert len(ran) == 1  # not run again
    assert _running_here(store) == []
