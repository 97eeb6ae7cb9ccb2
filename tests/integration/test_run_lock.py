"""The run row lock on PostgreSQL: task ends that cannot end the run share it (FOR SHARE),
whatever may change the run (a leaf's end, a cancel) takes it alone (FOR UPDATE).

Another transaction holds the run's row FOR SHARE, as a concurrent task end of the same run
does, and the test looks at whether a report goes through meanwhile or waits for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from headrace.engine.coordinator import Coordinator
from headrace.states import Result
from headrace.store import runs as run_store
from headrace.store.db import Store

from .helpers import attempts, claim_key, finish, job, run, shell, states

pytestmark = pytest.mark.postgres


@contextmanager
def held_for_share(store: Store, run_id: int) -> Iterator[None]:
    """Hold the run's row FOR SHARE in another transaction until the block ends."""
    with store.begin() as conn:
        run_store.lock_run(conn, run_id, shared=True)
        yield


def in_thread(action: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=action, daemon=True)
    thread.start()
    return thread


def test_a_task_end_that_cannot_end_the_run_does_not_wait_for_another(pg_store):
    coordinator = Coordinator(pg_store)
    run_id = coordinator.start_run(job(shell("a"), shell("b"), shell("c", "a", "b")), job_id=None)
    a = claim_key(coordinator, "a")
    with held_for_share(pg_store, run_id):
        reporting = in_thread(lambda: finish(coordinator, a))
        reporting.join(timeout=10)
        assert not reporting.is_alive(), "a's end waited for another task end of its run"
    assert states(pg_store, run_id)["a"] == ("TERMINATED", "SUCCESS")


def test_the_end_of_a_leaf_waits_for_the_other_task_ends_then_ends_the_run(pg_store):
    coordinator = Coordinator(pg_store)
    run_id = coordinator.start_run(job(shell("a"), shell("b", "a")), job_id=None)
    finish(coordinator, claim_key(coordinator, "a"))
    b = claim_key(coordinator, "b")
    with held_for_share(pg_store, run_id):
        reporting = in_thread(lambda: finish(coordinator, b))
        reporting.join(timeout=1)
        assert reporting.is_alive(), "a leaf's end (the run may end) must lock the run alone"
    reporting.join(timeout=10)
    assert not reporting.is_alive()
    assert run(pg_store, run_id).result is Result.SUCCESS


def test_a_failure_that_skips_a_leaf_is_redone_with_the_run_locked_and_ends_the_run(pg_store):
    coordinator = Coordinator(pg_store)
    settings = job(shell("a"), shell("b", "a"), shell("c", "b"))
    run_id = coordinator.start_run(settings, job_id=None)
    a = claim_key(coordinator, "a")
    finish(coordinator, a, Result.FAILED, error="boom")  # b and c (the leaf) end upstream-failed
    assert run(pg_store, run_id).result is Result.FAILED
    assert states(pg_store, run_id) == {
        "a": ("TERMINATED", "FAILED"),
        "b": ("SKIPPED", "UPSTREAM_FAILED"),
        "c": ("SKIPPED", "UPSTREAM_FAILED"),
    }
    assert [x.payload["task_key"] for x in attempts(pg_store, run_id)] == ["a"]


def test_cancel_waits_for_a_task_end_in_progress(pg_store):
    coordinator = Coordinator(pg_store)
    run_id = coordinator.start_run(job(shell("a"), shell("b", "a")), job_id=None)
    claim_key(coordinator, "a")
    with held_for_share(pg_store, run_id):
        canceling = in_thread(lambda: coordinator.cancel_run(run_id))
        canceling.join(timeout=1)
        assert canceling.is_alive(), "a cancel changes the run: it waits for task ends"
    canceling.join(timeout=10)
    assert not canceling.is_alive()
    assert run(pg_store, run_id).stop_reason == "CANCELED"


def test_a_process_that_has_not_seen_the_run_yet_also_shares_the_lock(pg_store):
    starter = Coordinator(pg_store)
    run_id = starter.start_run(job(shell("a"), shell("b", "a")), job_id=None)
    worker = Coordinator(pg_store)  # another process: no plan of this run cached
    a = claim_key(worker, "a")
    with held_for_share(pg_store, run_id):
        reporting = in_thread(lambda: finish(worker, a))
        reporting.join(timeout=10)
        assert not reporting.is_alive(), "a non-leaf's end waited although its plan was unread"
    assert states(pg_store, run_id)["b"] == ("PENDING", None)


def test_a_task_started_after_waiting_on_another_end_sees_that_ends_task_values(
    pg_store, monkeypatch
):
    """Two task ends of one run share its row. a's end starts p (reading the run's task values)
    and then, through the condition x, counts down c, which waits on b's end still in progress;
    when b commits, c starts in a's transaction and must see the values b set."""
    coordinator = Coordinator(pg_store)
    condition = {
        "task_key": "x",
        "depends_on": [{"task_key": "a"}],
        "condition_task": {"op": "EQUAL_TO", "left": "1", "right": "1"},
    }
    settings = job(shell("a"), shell("b"), shell("p", "a"), condition, shell("c", "x", "b"))
    run_id = coordinator.start_run(settings, job_id=None)
    a, b = claim_key(coordinator, "a"), claim_key(coordinator, "b")
    b_counted_down, let_b_commit = threading.Event(), threading.Event()
    finish_run = type(coordinator)._maybe_finish_run

    def b_waits_before_commit(self, tx, **kw):  # b's end has counted c down and holds its row
        if threading.current_thread().name == "b":
            b_counted_down.set()
            let_b_commit.wait(20)
        return finish_run(self, tx, **kw)

    monkeypatch.setattr(type(coordinator), "_maybe_finish_run", b_waits_before_commit)
    ending_b = threading.Thread(
        name="b", target=lambda: finish(coordinator, b, task_values={"v": 42}), daemon=True
    )
    ending_b.start()
    assert b_counted_down.wait(10)
    ending_a = in_thread(lambda: finish(coordinator, a))
    ending_a.join(timeout=1)  # a's end waits on c's row, which b's transaction holds
    let_b_commit.set()
    ending_b.join(timeout=20)
    ending_a.join(timeout=20)
    assert not ending_a.is_alive() and not ending_b.is_alive()
    (c,) = [x for x in attempts(pg_store, run_id) if x.payload["task_key"] == "c"]
    assert c.payload["task_values"] == {"b": {"v": 42}}
