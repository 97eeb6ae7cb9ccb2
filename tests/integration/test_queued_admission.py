"""Queued runs are admitted promptly by the coordinating server's loop (issue 18 review): a
queued start wakes the loop, and every pass of it, not only the rate-limited recovery, admits
the queued runs that fit."""

from __future__ import annotations

import time
from pathlib import Path

from headrace.api.context import ApiContext
from headrace.api.server import CoordinatorLoop
from headrace.config import Settings
from headrace.engine.coordinator import Change, Coordinator
from headrace.states import LifeCycle
from headrace.store import jobs as job_store
from headrace.store import runs as run_store
from headrace.store.db import Store

from .helpers import job, shell


class _Leading:
    """The coordinator lock, always held."""

    def try_acquire(self) -> bool:
        return True

    def release(self) -> None:
        pass


def _one_at_a_time(store: Store, coordinator: Coordinator) -> tuple[int, int]:
    """A job with max_concurrent_runs 1: one running run, one queued behind it."""
    settings = job(shell("a"), max_concurrent_runs=1)
    with store.begin() as conn:
        job_id = job_store.create_job(conn, {"name": "it-job"}, now_ms=1)
    first = coordinator.start_run(settings, job_id=job_id)
    second = coordinator.start_run(settings, job_id=job_id)
    return first, second


def _life(store: Store, run_id: int) -> LifeCycle:
    with store.read() as conn:
        return run_store.get_run(conn, run_id).life_cycle


def test_a_queued_start_tells_the_coordinating_loop(store: Store, coordinator: Coordinator) -> None:
    changes: list[Change] = []
    coordinator.subscribe(changes.append)
    first, second = _one_at_a_time(store, coordinator)
    assert _life(store, first) == LifeCycle.RUNNING and _life(store, second) == LifeCycle.QUEUED
    assert [(c.run_id, c.run_queued) for c in changes] == [(first, False), (second, True)]
    with store.read() as conn:
        assert run_store.queued_job_ids(conn) == [run_store.get_run(conn, second).job_id]


def test_every_pass_admits_the_queued_runs_that_fit(
    store: Store, coordinator: Coordinator, tmp_path: Path
) -> None:
    first, second = _one_at_a_time(store, coordinator)
    # The first run ends without admitting the second, as when the second's start commits
    # just after the first's end looked for queued runs.
    with store.begin() as conn:
        run_store.set_run_state(
            conn, first, LifeCycle.TERMINATED, result_state="SUCCESS", end_time=2
        )
    settings = Settings(
        home=tmp_path, db_url=store.url, slots=0, lease_seconds=30, heartbeat_seconds=5
    )
    ctx = ApiContext(store=store, coordinator=coordinator, settings=settings)
    loop = CoordinatorLoop(coordinator, ctx, None, _Leading())  # type: ignore[arg-type]
    loop.leading = True
    loop._recovered_at = time.monotonic()  # recovery just ran: this pass admits on its own
    loop._tick()
    assert _life(store, second) == LifeCycle.RUNNING


def test_a_full_job_costs_the_pass_no_write_transaction(
    store: Store, coordinator: Coordinator, monkeypatch
) -> None:
    first, second = _one_at_a_time(store, coordinator)
    writes: list[object] = []
    begin = store.begin

    def counted_begin():  # type: ignore[no-untyped-def]
        writes.append(None)
        return begin()

    monkeypatch.setattr(store, "begin", counted_begin)
    coordinator.admit_queued(_job_of(store, second))  # the first run still holds the slot
    assert writes == [] and _life(store, second) == LifeCycle.QUEUED
    monkeypatch.setattr(store, "begin", begin)
    with store.begin() as conn:  # the first run ends without admitting (a concurrent end)
        run_store.set_run_state(
            conn, first, LifeCycle.TERMINATED, result_state="SUCCESS", end_time=2
        )
    coordinator.admit_queued(_job_of(store, second))
    assert _life(store, second) == LifeCycle.RUNNING


def _job_of(store: Store, run_id: int) -> int:
    with store.read() as conn:
        job_id = run_store.get_run(conn, run_id).job_id
    assert job_id is not None
    return job_id
