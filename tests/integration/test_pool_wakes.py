"""A worker slot's wake-ups (worker/pool.py): a wake-up older than the slot's last claim that
found nothing costs no claim (that claim saw its work), a newer one is never lost (issue 18)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from headrace.engine.coordinator import Coordinator
from headrace.errors import AttemptEnded
from headrace.store.db import Store
from headrace.store.records import Attempt
from headrace.worker.pool import SWEEP_SECONDS, WorkerPool

from .helpers import job, states


class CountingCoordinator(Coordinator):
    """The real coordinator, counting the claims of idle slots and calling `after_finish`
    once a task end (and the claim made with it) has committed."""

    def __init__(self, store: Store) -> None:
        super().__init__(store, coordinator_id="pool-test")
        self.idle_claims = 0  # claims done (their transaction over)
        self.idle_claimed: list[tuple[float, Attempt]] = []  # (when, what) found by them
        self.ended_elsewhere_at: float | None = None  # a report that found its attempt ended
        self.after_finish: Any = None

    def claim_next_attempt(self, *args: Any, **kwargs: Any) -> Attempt | None:
        found = None
        try:
            found = super().claim_next_attempt(*args, **kwargs)
            return found
        finally:
            self.idle_claims += 1
            if found is not None:
                self.idle_claimed.append((time.monotonic(), found))

    def finish_attempt(self, *args: Any, **kwargs: Any) -> Attempt | None:
        try:
            following = super().finish_attempt(*args, **kwargs)
        except AttemptEnded:
            self.ended_elsewhere_at = time.monotonic()
            raise
        if self.after_finish is not None:
            self.after_finish(following)
        return following


@pytest.fixture
def counting(store: Store) -> CountingCoordinator:
    return CountingCoordinator(store)


@pytest.fixture
def pool(counting: CountingCoordinator, tmp_path: Path) -> Iterator[WorkerPool]:
    pool = WorkerPool(counting, worker_id="pool-test", slots=1, logs_dir=tmp_path / "logs")
    counting.subscribe(lambda change: pool.wake() if change.new_attempts else None)
    yield pool
    pool.stop(grace_seconds=5)


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
    return all(life == "TERMINATED" for life, _ in states(store, run_id).values())


def test_wake_ups_during_a_chain_of_attempts_cost_no_empty_claim(
    store: Store, counting: CountingCoordinator, pool: WorkerPool
) -> None:
    pool.start()
    assert _wait_for(lambda: counting.idle_claims == 1, 5)  # the slot's first look: nothing
    # (done before the run starts: else it could take `a` itself, one claim fewer)
    run_id = counting.start_run(
        job(_task("a", "sleep 0.5"), _task("b", "sleep 0.5", "a")), job_id=None
    )
    assert _wait_for(lambda: counting.idle_claims == 2, 5)  # woken by the run: claims a
    for _ in range(5):  # NOTIFYs of other workers' work, seen while `a` runs
        pool.wake()
    assert _wait_for(lambda: _ended(store, run_id), 10)  # b came with a's end
    time.sleep(0.3)
    # b's end claimed nothing after every wake-up: no further look (was one more claim).
    assert counting.idle_claims == 2


def test_a_wake_up_after_the_last_empty_claim_is_not_lost(
    store: Store, counting: CountingCoordinator, pool: WorkerPool
) -> None:
    side = Coordinator(store, coordinator_id="elsewhere")  # another process: no in-process wake
    queued: list[int] = []
    queued_at: list[float] = []

    def queue_elsewhere(following: Attempt | None) -> None:
        if following is None and not queued:  # after the claim that found nothing
            queued.append(side.start_run(job(_task("late", "true")), job_id=None))
            queued_at.append(time.monotonic())
            pool.wake()  # as its NOTIFY would

    counting.after_finish = queue_elsewhere
    pool.start()
    first = counting.start_run(job(_task("a", "sleep 0.2")), job_id=None)
    assert _wait_for(lambda: bool(queued) and _ended(store, queued[0]), 10)
    assert _ended(store, first)
    # Woken: a lost wake-up would have left it to the sweep, SWEEP_SECONDS after the slot
    # went to wait (right after the empty claim, when `late` was queued).
    assert time.monotonic() - queued_at[0] < SWEEP_SECONDS * 0.75


def test_a_chain_ended_without_a_claim_looks_again_for_work_announced_during_it(
    store: Store, counting: CountingCoordinator, pool: WorkerPool
) -> None:
    side = Coordinator(store, coordinator_id="elsewhere")  # another process: no in-process wake
    taken: list[Attempt] = []

    def lose_the_next(following: Attempt | None) -> None:
        if following is not None and not taken:
            # The claim made with a's end took one of two pending tasks; recovery elsewhere
            # then ends it, so its report claims nothing (AttemptEnded). No in-process
            # wake-up follows: both were queued elsewhere, before that claim.
            taken.append(following)
            side.fail_lost_attempt(following, "lost (test)")

    counting.after_finish = lose_the_next
    pool.start()
    assert _wait_for(lambda: counting.idle_claims == 1, 5)
    counting.start_run(job(_task("a", "sleep 0.4")), job_id=None)
    assert _wait_for(lambda: counting.idle_claims == 2, 5)  # claims a
    for key in ("v", "w"):  # queued elsewhere while a runs
        side.start_run(job(_task(key, "sleep 0.2")), job_id=None)
    pool.wake()  # their NOTIFY
    assert _wait_for(lambda: counting.ended_elsewhere_at is not None, 10)
    assert _wait_for(lambda: len(counting.idle_claimed) == 2, 5)  # the other of v and w
    when, other = counting.idle_claimed[-1]
    assert {other.payload["task_key"], taken[0].payload["task_key"]} == {"v", "w"}
    # At once, not at the sweep: the wake-up came after the chain's first claim.
    assert counting.ended_elsewhere_at is not None
    assert when - counting.ended_elsewhere_at < SWEEP_SECONDS / 2


def test_concurrent_wakes_and_runs_all_end(
    store: Store, counting: CountingCoordinator, pool: WorkerPool
) -> None:
    pool.start()
    run_ids: list[int] = []

    def start_some() -> None:
        for _ in range(5):
            run_ids.append(counting.start_run(job(_task("x", "true")), job_id=None))
            time.sleep(0.01)

    threads = [threading.Thread(target=start_some) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _wait_for(lambda: all(_ended(store, r) for r in run_ids), SWEEP_SECONDS)
