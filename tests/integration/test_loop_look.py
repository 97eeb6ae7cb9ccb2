"""The coordinating loop's one-statement look (store/loop_look.py) answers what its former
queries did, on SQLite and PostgreSQL: due timers, the next timer, queued jobs, backfills."""

from __future__ import annotations

from typing import Any

from headrace.store import backfills, health_timers, jobs, loop_look, notifications, runs
from headrace.store.db import Store
from headrace.store.sql import Tx
from support import store_bare_run


def _run(conn: Tx, run_id: int, job_id: int | None, state: str, **more: Any) -> None:
    store_bare_run(conn, run_id, job_id, state, **more)


def _former(conn: Tx, now: int) -> tuple[list[int], int | None, list[int]]:
    return (
        runs.runs_with_due_timers(conn, now),
        runs.next_timer_at(conn),
        runs.queued_job_ids(conn),
    )


def test_an_empty_store_has_nothing_due(store: Store) -> None:
    with store.read() as conn:
        seen = loop_look.look(conn, 100)
    assert seen == loop_look.Look(due=[], next_at=None, queued_jobs=[], backfills=False)


def test_the_look_answers_as_the_former_queries(store: Store) -> None:
    with store.begin() as conn:
        job = jobs.create_job(conn, {"name": "j"}, now_ms=1)
        other = jobs.create_job(conn, {"name": "k"}, now_ms=1)
        ids = runs.allocate_ids(conn, 10)
        _run(conn, ids[0], job, "RUNNING", timeout_at=50)  # due at 60
        _run(conn, ids[1], job, "RUNNING", timeout_at=500)  # not yet
        _run(conn, ids[2], job, "TERMINATED", timeout_at=10, result_state="SUCCESS")  # ended
        _run(conn, ids[3], job, "TERMINATING", timeout_at=20, stop_reason="CANCELED")
        _run(conn, ids[4], other, "QUEUED")
        _run(conn, ids[5], other, "QUEUED")
        _run(conn, ids[6], None, "QUEUED")  # a one-time run: no job to admit
        _run(conn, ids[7], job, "RUNNING")  # a retry (due) and a duration warning (not)
        runs.insert_task_runs(
            conn,
            [
                {
                    "task_run_id": ids[8],
                    "run_id": ids[7],
                    "task_key": "a",
                    "life_cycle_state": "WAITING_FOR_RETRY",
                    "retry_at": 55,
                },
                {
                    "task_run_id": ids[9],
                    "run_id": ids[1],
                    "task_key": "b",
                    "life_cycle_state": "WAITING_FOR_RETRY",
                    "retry_at": 70,
                },
            ],
        )
        health_timers.add_health_timer(conn, ids[7], None, 65, 30)
        health_timers.add_health_timer(conn, ids[1], None, 58, 30)
        notifications.queue_messages(  # the outbox is not the loop's: no effect on the look
            conn,
            run_id=ids[0],
            event="on_start",
            messages=[("k", "email", "a@x")],
            facts={},
            now_ms=1,
        )
    for now in (0, 49, 50, 57, 60, 69, 100, 1000):
        with store.read() as conn:
            seen = loop_look.look(conn, now)
            due, next_at, queued = _former(conn, now)
        assert (seen.due, seen.next_at, seen.queued_jobs) == (due, next_at, queued), now
        assert not seen.backfills
    with store.read() as conn:
        seen = loop_look.look(conn, 60)
    assert seen.due == [ids[0], ids[1], ids[7]]  # timeout, duration warning, retry
    assert seen.next_at == 50 and seen.queued_jobs == [other]


def test_the_look_sees_running_backfills_only(store: Store) -> None:
    with store.begin() as conn:
        job = jobs.create_job(conn, {"name": "j"}, now_ms=1)
        backfills.insert_backfill(
            conn,
            dates=[],
            job_id=job,
            created_time=1,
            options={},
            max_concurrent=1,
            state="DONE",
        )
    with store.read() as conn:
        assert not loop_look.look(conn, 1).backfills
    with store.begin() as conn:
        running = backfills.insert_backfill(
            conn,
            dates=[(1, "PENDING", None)],
            job_id=job,
            created_time=1,
            options={},
            max_concurrent=1,
            state="RUNNING",
        )
    with store.read() as conn:
        assert loop_look.look(conn, 1).backfills
        assert [b.backfill_id for b in backfills.running_backfills(conn)] == [running]


def test_next_due_notification_is_the_earliest_pending_or_lease(store: Store) -> None:
    with store.begin() as conn:
        assert notifications.next_due_at(conn) is None
        notifications.queue_messages(
            conn,
            run_id=1,
            event="on_failure",
            messages=[("k1", "email", "a@x"), ("k2", "webhook", "d1")],
            facts={"result": "FAILED"},
            now_ms=10,
        )
        assert notifications.next_due_at(conn) == 10  # pending since 10
        notifications.claim_due(conn, "w", 20, 1000, 1)  # one leased until 1020
        assert notifications.next_due_at(conn) == 10
        notifications.claim_due(conn, "w", 20, 500, 1)  # the other until 520
        assert notifications.next_due_at(conn) == 520
