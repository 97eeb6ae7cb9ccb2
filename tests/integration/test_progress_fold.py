"""The progress check of a task end that shares its run's row (PostgreSQL) is answered by its
count-down statement: another task run live means nothing to look for; otherwise the check's
query runs as before, and a stuck run is still found (SQLite: the query, as always)."""

from __future__ import annotations

from typing import Any

import pytest

from headrace.engine import run_ends
from headrace.engine.coordinator import Coordinator
from headrace.states import LifeCycle, Result
from headrace.store import progress
from headrace.store import runs as run_store
from headrace.store.db import Store

from .helpers import claim, claim_key, finish, job, run, shell, states, tasks


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The runs whose progress check ran its query, in order."""
    seen: list[int] = []
    query = progress.stuck_task_runs

    def counted(conn: Any, run_id: int) -> Any:
        seen.append(run_id)
        return query(conn, run_id)

    monkeypatch.setattr(run_ends.progress, "stuck_task_runs", counted)
    return seen


def test_an_end_whose_cascade_queues_nothing_while_another_task_runs(
    store: Store, coordinator: Coordinator, checks: list[int]
) -> None:
    """a releases its condition (a's only child, check's only upstream), which is false:
    yes is excluded and final still waits on b. Nothing queued, no leaf ended, b live."""
    settings = job(
        shell("a"),
        shell("b"),
        {
            "task_key": "check",
            "depends_on": [{"task_key": "a"}],
            "condition_task": {"op": "GREATER_THAN", "left": "1", "right": "3"},
        },
        shell("yes", depends_on=[{"task_key": "check", "outcome": "true"}]),
        shell("final", "yes", "b", run_if="ALL_DONE"),
    )
    run_id = coordinator.start_run(settings, job_id=None)
    a, b = claim_key(coordinator, "a"), claim_key(coordinator, "b")
    finish(coordinator, a)
    assert states(store, run_id)["yes"] == ("SKIPPED", "EXCLUDED")
    assert states(store, run_id)["final"] == ("BLOCKED", None)
    # PostgreSQL: a's count-down saw b live, no query; SQLite: the query, as before.
    assert checks == ([run_id] if store.is_sqlite else [])
    finish(coordinator, b)
    finish(coordinator, claim_key(coordinator, "final"))
    assert run(store, run_id).life_cycle == LifeCycle.TERMINATED


def test_an_end_counting_down_a_fan_in_runs_the_query(
    store: Store, coordinator: Coordinator, checks: list[int]
) -> None:
    """c waits on a and b: a's count-down of c may wait for b's end, so its snapshot cannot
    answer whether b is live (it may have ended meanwhile); the query answers."""
    run_id = coordinator.start_run(job(shell("a"), shell("b"), shell("c", "a", "b")), job_id=None)
    a, b = claim_key(coordinator, "a"), claim_key(coordinator, "b")
    finish(coordinator, a)  # c still waits on b, which runs
    assert run(store, run_id).life_cycle == LifeCycle.RUNNING
    assert checks == [run_id]
    finish(coordinator, b)
    assert states(store, run_id)["c"] == ("PENDING", None)
    finish(coordinator, claim_key(coordinator, "c"))
    assert run(store, run_id).result == Result.SUCCESS


def test_a_stuck_run_is_found_by_an_end_that_releases_nothing(
    store: Store, coordinator: Coordinator, checks: list[int]
) -> None:
    run_id = coordinator.start_run(job(shell("a"), shell("b"), shell("c", "a", "b")), job_id=None)
    a, b = claim_key(coordinator, "a"), claim_key(coordinator, "b")
    with store.begin() as conn:  # b ends without counting c down, as a bug would
        run_store.end_attempt(conn, b.attempt_id, from_states=["RUNNING"], result_state="SUCCESS")
        run_store.set_task_state(
            conn, b.task_run_id, LifeCycle.TERMINATED, result_state="SUCCESS", end_time=1
        )
    finish(coordinator, a)  # nothing else live: the query runs and finds c stuck
    assert checks and checks[0] == run_id
    ended = run(store, run_id)
    assert ended.life_cycle == LifeCycle.INTERNAL_ERROR and "'c'" in ended.state_message
    assert states(store, run_id)["c"] == ("INTERNAL_ERROR", "FAILED")
    assert claim(coordinator) is None


@pytest.mark.postgres
def test_the_count_down_answers_whether_another_task_run_is_live(pg_store: Store) -> None:
    coordinator = Coordinator(pg_store)
    run_id = coordinator.start_run(job(shell("a"), shell("b"), shell("c", "a", "b")), job_id=None)
    claim_key(coordinator, "a")
    by_key = tasks(pg_store, run_id)
    ended = {"result_state": "SUCCESS", "end_time": 5}

    def end(key: str, ask_live: bool) -> tuple[list[str], bool]:
        return run_store.end_task_and_release_children(
            conn,
            by_key[key].task_run_id,
            LifeCycle.TERMINATED,
            run_id,
            ["c"],
            ask_live=ask_live,
            **ended,
        )

    with pg_store.begin() as conn:
        assert end("a", True) == ([], True)  # b is pending; a itself does not count
        assert end("b", True) == (["c"], False)  # a ended (this transaction), c blocked
        conn.rollback()
    with pg_store.begin() as conn:
        assert end("a", False) == ([], False)  # not asked
        conn.rollback()
