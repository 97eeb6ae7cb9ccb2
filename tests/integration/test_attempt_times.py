"""An attempt never starts before what it follows ended, whatever the order of clock readings.

A process reads its clock before its statements run: a claim reads it before its pick, whose
snapshot (PostgreSQL, READ COMMITTED) may see a retry that another process queued after reading
its own clock later; two task ends of one run (both holding its row FOR SHARE) may count their
dependent down in the other order than they read their clocks. The soak test saw the first: a
lost attempt's retry claimed 1 ms before the lost attempt's recorded end.

Each test drives the coordinator's clock by hand (the `clock` fixture) so that the later
transaction reads the earlier time, as those interleavings (or two hosts' clocks) do.
"""

from __future__ import annotations

import threading

import pytest

from headrace.engine import coordinator as coordinator_module
from headrace.engine.coordinator import Coordinator
from headrace.states import LifeCycle, Result
from headrace.store import jobs as job_store
from headrace.store.db import Store

from .conftest import Clock
from .helpers import attempts, claim, claim_key, finish, job, run, shell, tasks


def _lost_then_retried(store: Store, coordinator: Coordinator, clock: Clock) -> None:
    """One task with an immediate retry; its first attempt is failed as lost (recovery)."""
    run_id = coordinator.start_run(job(shell("a", max_retries=1)), job_id=None)
    first = claim_key(coordinator, "a")
    clock.advance(1_000)
    assert Coordinator(store, coordinator_id="server").fail_lost_attempt(first, "killed")
    (lost, retry) = attempts(store, run_id)
    assert (lost.end_time, retry.state, retry.created_time) == (clock.now, "PENDING", clock.now)


def test_a_retry_claimed_with_an_earlier_clock_starts_at_its_lost_attempt_s_end(
    store, coordinator, clock
):
    _lost_then_retried(store, coordinator, clock)
    lost_end = clock.now
    clock.now -= 1  # the claimer read its clock before the recovery's commit
    retry = claim_key(coordinator, "a")
    assert retry.attempt_number == 1
    assert retry.start_time == lost_end
    (lost, stored) = attempts(store, retry.run_id)
    assert lost.end_time is not None and stored.start_time is not None
    assert lost.end_time <= stored.start_time


class _ClockThatLetsAnotherCommit(Clock):
    """The claimer's reading returns the time, then another transaction reads a later time and
    commits before the claimer's first statement: the soak's interleaving, on purpose."""

    def __init__(self, start: int) -> None:
        super().__init__(start)
        self.meanwhile: threading.Thread | None = None

    def __call__(self) -> int:
        reading, meanwhile = self.now, self.meanwhile
        if meanwhile is not None and threading.current_thread() is not meanwhile:
            self.meanwhile = None
            self.now += 1
            meanwhile.start()
            meanwhile.join(timeout=30)
            assert not meanwhile.is_alive(), "the other transaction did not commit"
        return reading


@pytest.mark.postgres
def test_a_claim_whose_clock_reading_precedes_the_retry_s_commit_starts_after_it(
    pg_store, monkeypatch
):
    clock = _ClockThatLetsAnotherCommit(coordinator_module.now_ms())
    monkeypatch.setattr(coordinator_module, "now_ms", clock)
    worker = Coordinator(pg_store)
    run_id = worker.start_run(job(shell("a", max_retries=1)), job_id=None)
    first = claim_key(worker, "a")
    clock.advance(1_000)
    server = Coordinator(pg_store, coordinator_id="server")
    failed: list[bool] = []
    clock.meanwhile = threading.Thread(
        target=lambda: failed.append(server.fail_lost_attempt(first, "killed")), daemon=True
    )
    retry = claim(worker)  # reads the clock, then the recovery fails `first` and queues a retry
    assert failed == [True]
    assert retry is not None and retry.attempt_number == 1  # its pick saw the retry
    (lost, stored) = attempts(pg_store, run_id)
    assert lost.end_time == clock.now and stored.start_time == retry.start_time
    assert lost.end_time <= stored.start_time, (lost.end_time, stored.start_time)


def test_a_join_released_by_the_upstream_that_read_the_earlier_time_starts_after_both(
    store, coordinator, clock
):
    run_id = coordinator.start_run(
        job(shell("a"), shell("b"), shell("join", "a", "b")), job_id=None
    )
    a, b = claim_key(coordinator, "a"), claim_key(coordinator, "b")
    start = clock.advance(1_000)
    clock.now = start + 1
    finish(coordinator, a)  # a ends at start + 1 ...
    clock.now = start
    finish(coordinator, b)  # ... b, whose clock read start, counts join down last
    join = claim_key(coordinator, "join")
    ends = {k: tasks(store, run_id)[k].end_time for k in ("a", "b")}
    assert ends == {"a": start + 1, "b": start}
    assert join.start_time is not None and join.start_time >= start + 1, (join, ends)
    assert tasks(store, run_id)["join"].start_time >= start + 1


def test_an_attempt_ended_by_a_clock_behind_its_claim_ends_no_earlier_than_it_started(
    store, coordinator, clock
):
    run_id = coordinator.start_run(job(shell("a")), job_id=None)
    a = claim_key(coordinator, "a")
    clock.now -= 1  # the recovering process's clock is 1 ms behind the worker's
    assert Coordinator(store, coordinator_id="server").fail_lost_attempt(a, "killed")
    (ended,) = attempts(store, run_id)
    assert ended.result is Result.FAILED
    assert ended.start_time is not None and ended.end_time is not None
    assert ended.start_time <= ended.end_time


@pytest.mark.postgres
def test_a_run_admitted_as_another_ends_starts_no_earlier_than_that_end(pg_store, monkeypatch):
    clock = _ClockThatLetsAnotherCommit(coordinator_module.now_ms())
    monkeypatch.setattr(coordinator_module, "now_ms", clock)
    coordinator = Coordinator(pg_store)
    with pg_store.begin() as conn:
        job_id = job_store.create_job(conn, {"name": "one-at-a-time"}, now_ms=clock.now)
    settings = job(shell("a"), max_concurrent_runs=1)
    first = coordinator.start_run(settings, job_id=job_id)
    a = claim_key(coordinator, "a")
    clock.advance(1_000)
    clock.meanwhile = threading.Thread(target=lambda: finish(coordinator, a), daemon=True)
    # Its clock reading comes first; the first run ends (a later reading) before it counts.
    second = coordinator.start_run(settings, job_id=job_id)
    ended, admitted = run(pg_store, first), run(pg_store, second)
    assert ended.end_time == clock.now
    if admitted.life_cycle is LifeCycle.QUEUED:  # it counted before the end: the loop admits it
        coordinator.admit_queued(job_id)
        admitted = run(pg_store, second)
    assert admitted.life_cycle is LifeCycle.RUNNING
    assert admitted.start_time >= ended.end_time, (admitted.start_time, ended.end_time)
