"""A worker's claim whose COMMIT succeeded but whose answer was lost (worker/pool.py
sweep_orphans): the attempt it claimed, RUNNING under this worker, is run here; a report that
gave up is reported again with its real outcome; a sweep never takes an attempt a slot of the
pool has claimed, and never holds up the slots."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy.exc

from headrace.engine.coordinator import Coordinator, now_ms
from headrace.store import workers as worker_store
from headrace.store.db import Store
from headrace.store.records import Attempt
from headrace.worker import pool as pool_module
from headrace.worker.pool import WorkerPool
from support import wait_for

from .helpers import attempts, job, run, shell, states

WORKER = "lost-ack-worker"


def _lost_answer() -> Exception:
    return sqlalchemy.exc.OperationalError(
        "COMMIT", {}, Exception("server closed the connection unexpectedly")
    )


class LosingCoordinator(Coordinator):
    """The real coordinator; a claim (with a task end, or a slot's own) selected by
    `lose_report` / `lose_claim` commits and then raises, as when the COMMIT's answer is lost.
    `linger` widens the window between a claim's commit and the pool's registration of it.
    `fail_reports` (of task keys in `fail_keys`, or any) fail before anything commits."""

    def __init__(self, store: Store) -> None:
        super().__init__(store, coordinator_id=WORKER)
        self.lose_report = 0  # how many reports that claimed lose their answer
        self.lose_claim = 0
        self.fail_reports = 0
        self.fail_keys: set[str] = set()
        self.lost: list[Attempt] = []
        self.linger = 0.0
        self.reported: list[int] = []  # attempt ids whose end committed, in order

    def finish_attempt(self, attempt: Attempt, *args: Any, **kwargs: Any) -> Attempt | None:
        if self.fail_reports > 0 and (
            not self.fail_keys or attempt.payload["task_key"] in self.fail_keys
        ):
            self.fail_reports -= 1
            raise _lost_answer()
        following = super().finish_attempt(attempt, *args, **kwargs)
        self.reported.append(attempt.attempt_id)
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


@pytest.fixture(autouse=True)
def young(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool_module, "ORPHAN_AGE_SECONDS", 0.3)


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


class Sweeper:
    """Calls the pool's sweep_orphans from its own thread every `every` seconds (as the
    worker's heartbeat thread does)."""

    def __init__(self, pool: WorkerPool, every: float) -> None:
        self.pool = pool
        self.every = every
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.pool.sweep_orphans(now_ms())
            self.count += 1
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def pools() -> Iterator[list[Any]]:
    started: list[Any] = []
    yield started
    for p in reversed(started):
        if isinstance(p, Sweeper):
            p.stop()
        else:
            p.stop(grace_seconds=5)


def _task(key: str, command: str, *after: str) -> dict[str, Any]:
    return shell(key, *after, shell_command_task={"command": command})


def _ended(store: Store, run_id: int) -> bool:
    return run(store, run_id).life_cycle.value == "TERMINATED"


def _running_here(store: Store) -> list[Attempt]:
    with store.read() as conn:
        return worker_store.running_attempts_of(conn, WORKER, now_ms() + 60_000)


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
    store: Store, losing: LosingCoordinator, pools: list[Any], ran: list[int], tmp_path: Path
) -> None:
    losing.lose_report = 1  # a's end claims b; the answer is lost, the retry finds a ended
    pool = _pool(losing, tmp_path, slots=1)
    pools.append(pool)
    pool.start()
    pools.append(Sweeper(pool, 0.05))
    run_id = losing.start_run(job(_task("a", "true"), _task("b", "true", "a")), job_id=None)
    wait_for(lambda: _ended(store, run_id), 15, "the run to end")
    assert [a.payload["task_key"] for a in losing.lost] == ["b"]
    assert losing.lost[0].attempt_id in ran
    _assert_succeeded_once_each(store, run_id, ran)


def test_an_attempt_claimed_by_an_idle_slot_whose_answer_was_lost_is_run_here(
    store: Store, losing: LosingCoordinator, pools: list[Any], ran: list[int], tmp_path: Path
) -> None:
    losing.lose_claim = 1
    pool = _pool(losing, tmp_path, slots=1)
    pools.append(pool)
    pool.start()
    pools.append(Sweeper(pool, 0.05))
    run_id = losing.start_run(job(_task("a", "true")), job_id=None)
    wait_for(lambda: _ended(store, run_id), 15, "the run to end")
    assert [a.payload["task_key"] for a in losing.lost] == ["a"]
    _assert_succeeded_once_each(store, run_id, ran)


def test_a_claim_younger_than_the_orphan_age_is_not_taken(
    store: Store, losing: LosingCoordinator, pools: list[Any], ran: list[int], tmp_path: Path
) -> None:
    losing.lose_claim = 1
    pool = _pool(losing, tmp_path, slots=1)
    pools.append(pool)
    pool.start()
    run_id = losing.start_run(job(_task("a", "true")), job_id=None)
    wait_for(lambda: losing.lost, 10)
    pool.sweep_orphans(now_ms())  # claimed < 0.3 s ago: it may be about to be registered
    time.sleep(0.2)
    assert ran == [] and len(_running_here(store)) == 1
    time.sleep(0.3)
    pool.sweep_orphans(now_ms())
    wait_for(lambda: _ended(store, run_id), 10, "the run to end")
    _assert_succeeded_once_each(store, run_id, ran)


def test_a_sweep_never_takes_an_attempt_a_slot_claimed(
    store: Store, losing: LosingCoordinator, pools: list[Any], ran: list[int], tmp_path: Path
) -> None:
    # Every claim lingers 50 ms between its commit and the pool's registration of what it
    # claimed; sweeps run all the while: one that took such an attempt would run it twice.
    losing.linger = 0.05
    pool = _pool(losing, tmp_path, slots=2)
    pools.append(pool)
    pool.start()
    sweeper = Sweeper(pool, 0.002)
    pools.append(sweeper)
    tasks = [_task(f"t{i}", "true") for i in range(30)]
    run_id = losing.start_run(job(*tasks), job_id=None)
    wait_for(lambda: _ended(store, run_id), 90, "the run to end")
    sweeper.stop()
    assert sweeper.count > 10
    _assert_succeeded_once_each(store, run_id, ran)
    assert len(ran) == 30


def test_a_report_given_up_is_reported_again_with_its_outcome(
    store: Store,
    losing: LosingCoordinator,
    pools: list[Any],
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
    wait_for(lambda: losing.fail_reports == 0, 10)
    time.sleep(0.1)
    assert not _ended(store, run_id)  # (given up: nothing reported it yet)
    pools.append(Sweeper(pool, 0.05))  # its worker lives on: a sweep reports it again
    wait_for(lambda: _ended(store, run_id), 10, "the run to end")
    assert states(store, run_id) == {"a": ("TERMINATED", "SUCCESS")}
    (only,) = attempts(store, run_id)
    assert not only.error, only.error  # its real outcome, not "worker lost"
    assert len(ran) == 1  # not run again
    _assert_succeeded_once_each(store, run_id, ran)
    assert pool._held == set() and pool._unreported == {}


def test_a_report_retrying_does_not_hold_up_the_other_slots(
    store: Store,
    losing: LosingCoordinator,
    pools: list[Any],
    ran: list[int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pool_module, "REPORT_RETRY_DELAYS", (4.0, 4.0))
    losing.fail_keys = {"slow"}
    losing.fail_reports = 2  # slow's report retries for ~8 s, then goes through
    pool = _pool(losing, tmp_path, slots=2)
    pools.append(pool)
    pool.start()
    sweeper = Sweeper(pool, 0.02)
    pools.append(sweeper)
    slow = losing.start_run(job(_task("slow", "true")), job_id=None)
    wait_for(lambda: losing.fail_reports == 1, 10)  # its report is waiting to retry
    chain = [_task("c0", "true")] + [_task(f"c{i}", "true", f"c{i - 1}") for i in range(1, 6)]
    chained = losing.start_run(job(*chain), job_id=None)
    wait_for(lambda: _ended(store, chained), 20, "the run to end")
    # The chain ran on the other slot while slow's report still waited to retry (~8 s).
    assert not _ended(store, slow), "the slow report should still be retrying"
    assert all(result == "SUCCESS" for _, result in states(store, chained).values())
    assert len(attempts(store, chained)) == 6
    wait_for(lambda: _ended(store, slow), 15, "the run to end")
    assert states(store, slow) == {"slow": ("TERMINATED", "SUCCESS")}


class FullCoordinator(LosingCoordinator):
    """Reports fail as on a full disk (a broken store: no retry) `full` times; reads work."""

    full = 0

    def finish_attempt(self, attempt: Attempt, *args: Any, **kwargs: Any) -> Any:
        if self.full > 0:
            self.full -= 1
            raise sqlalchemy.exc.OperationalError(
                "UPDATE", {}, Exception("database or disk is full")
            )
        return super().finish_attempt(attempt, *args, **kwargs)


def test_a_report_the_broken_store_refused_is_reported_later_not_run_again(
    store: Store, pools: list[Any], ran: list[int], tmp_path: Path, young: None
) -> None:
    full = FullCoordinator(store)
    full.full = 3  # the report and the first two sweeps' re-reports meet a full disk
    pool = _pool(full, tmp_path, slots=1)
    pools.append(pool)
    pool.start()
    pools.append(Sweeper(pool, 0.05))
    side = tmp_path / "side_effects"
    run_id = full.start_run(job(_task("a", f"echo ran >> {side}")), job_id=None)
    wait_for(lambda: _ended(store, run_id), 20, "the run to end")
    assert states(store, run_id) == {"a": ("TERMINATED", "SUCCESS")}
    assert len(ran) == 1, ran
    assert side.read_text().count("ran") == 1


def test_a_sweep_stuck_on_the_store_does_not_hold_up_the_heartbeat(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweep re-reports outcomes (a run's row lock): on its own thread, so a long wait
    there never costs the worker its lease."""
    from headrace.config import Settings
    from headrace.worker.process import WorkerProcess

    monkeypatch.setenv("HEADRACE_HEARTBEAT_SECONDS", "0.05")
    stuck = threading.Event()
    monkeypatch.setattr(WorkerPool, "sweep_orphans", lambda self, now: stuck.wait(30))
    worker = WorkerProcess(store, Settings.load(home=str(tmp_path), slots=1))
    worker.start()

    def beat() -> int:
        with store.read() as conn:
            sql = "SELECT heartbeat_at FROM workers WHERE worker_id = :w"
            return int(conn.execute(sql, {"w": worker.worker_id}).scalar())

    try:
        for _ in range(3):  # the sweep is stuck from the first period on
            last = beat()
            wait_for(lambda: beat() > last, 10, "a heartbeat while the sweep is stuck")  # noqa: B023
    finally:
        stuck.set()
        worker.stop(grace_seconds=5)
