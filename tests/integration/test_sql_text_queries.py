"""Store queries written as SQL text (issue 18) give the same answers on SQLite and PostgreSQL:
list filters, window functions, IN lists (empty ones included), RETURNING, booleans, defaults."""

from __future__ import annotations

import pytest

from headrace.store import jobs, notifications, runs
from headrace.store.db import Store
from support import store_bare_run


def _run(conn, run_id: int, job_id: int, start: int, state: str, **more) -> None:  # type: ignore[no-untyped-def]
    store_bare_run(conn, run_id, job_id, state, start=start, **more)


def test_run_lists_and_recent_runs(store: Store) -> None:
    with store.begin() as conn:
        job_id = jobs.create_job(conn, {"name": "Daily"}, now_ms=1)
        ids = runs.allocate_ids(conn, 4)
        _run(conn, ids[0], job_id, 10, "TERMINATED", result_state="SUCCESS")
        _run(conn, ids[1], job_id, 20, "TERMINATED", result_state="FAILED")
        _run(conn, ids[2], job_id, 30, "RUNNING", timeout_at=50)
        _run(conn, ids[3], job_id, 40, "QUEUED", idempotency_token="tok")
    with store.read() as conn:
        assert [r.run_id for r in runs.list_runs(conn, job_id=job_id)] == list(reversed(ids))
        done = runs.list_runs(conn, completed_only=True, start_time_from=15, limit=5)
        assert [r.run_id for r in done] == [ids[1]]
        assert [r.run_id for r in runs.list_runs(conn, active_only=True, offset=1)] == [ids[2]]
        recent = runs.recent_runs_of_jobs(conn, [job_id, 999], 2)
        assert [c.run_id for c in recent[job_id]] == [ids[3], ids[2]] and recent[999] == []
        assert runs.count_admitted_runs(conn, job_id) == 1
        assert [r.run_id for r in runs.queued_runs(conn, job_id)] == [ids[3]]
        assert runs.run_with_token(conn, "tok", None).run_id == ids[3]  # type: ignore[union-attr]
        assert runs.run_with_token(conn, "tok", "bob") is None
        assert runs.get_runs(conn, []) == {}
        assert runs.next_timer_at(conn) == 50
        assert runs.runs_with_due_timers(conn, 60) == [ids[2]]
        assert runs.runs_with_due_timers(conn, 60, "someone-else") == []
        assert [j.name for j in jobs.list_jobs(conn, name="DAILY")] == ["Daily"]


def test_task_runs_defaults_booleans_and_returning(store: Store) -> None:
    with store.begin() as conn:
        job_id = jobs.create_job(conn, {"name": "j"}, now_ms=1)
        run_id, a, b = runs.allocate_ids(conn, 3)
        _run(conn, run_id, job_id, 1, "RUNNING")
        rows = [
            {"task_run_id": a, "run_id": run_id, "task_key": "a", "life_cycle_state": "BLOCKED"},
            {"task_run_id": b, "run_id": run_id, "task_key": "b", "life_cycle_state": "BLOCKED"},
        ]
        runs.insert_task_runs(conn, rows)  # current, waiting_on, ... from the column defaults
        tr = runs.task_run(conn, a)
        assert tr.current is True and tr.waiting_on == 0 and tr.state_message == ""
        runs.update_task_run(conn, a, waiting_on=1)
        assert runs.release_children(conn, run_id, ["a", "b"]) == ["a", "b"]
        runs.retire_task_runs(conn, [a])
        assert runs.task_run(conn, a).current is False
        assert [t.task_key for t in runs.current_task_runs(conn, run_id)] == ["b"]
        assert runs.current_task_runs(conn, run_id, []) == []
        attempt_id = runs.insert_attempt(
            conn,
            task_run_id=b,
            run_id=run_id,
            attempt_number=0,
            state="PENDING",
            payload="{}",
            created_time=5,
        )
        claimed = runs.claim_next_attempt(conn, "w", 6, lambda _a: "log", pools=frozenset({"p"}))
        assert claimed is not None and claimed.attempt_id == attempt_id
        assert jobs.jobs_visible_to(conn, "ann", []) == set()


def test_notification_outbox_claim(store: Store) -> None:
    with store.begin() as conn:
        added = notifications.queue_messages(
            conn,
            run_id=1,
            event="on_failure",
            messages=[("k1", "email", "a@x"), ("k2", "webhook", "d1")],
            facts={"result": "FAILED"},
            now_ms=10,
        )
        assert added == 2
        claimed = notifications.claim_due(conn, "w", 20, 1000, 5)
        assert [n.target for n in claimed] == ["a@x", "d1"] and claimed[0].attempts == 0
        assert notifications.mark_delivered(conn, claimed[0], "w", 30)
        assert not notifications.mark_delivered(conn, claimed[0], "other", 30)
        assert notifications.next_due_at(conn) == 1020  # the other one's lease
        assert notifications.has_undelivered(conn)
        assert len(notifications.list_notifications(conn, run_ids=[1])) == 2
        assert notifications.list_notifications(conn, run_ids=[]) == []


def test_percent_signs_with_and_without_parameters(store: Store) -> None:
    with store.read() as conn:
        assert tuple(conn.execute("SELECT '100%' AS a, 7 % 3 AS m").one()) == ("100%", 1)
        row = conn.execute("SELECT '100%' AS a, :n % 3 AS m", {"n": 7}).one()
        assert (row.a, row.m) == ("100%", 1)


@pytest.mark.postgres
def test_rows_are_named_by_their_own_columns_whatever_the_sql_text(pg_store: Store) -> None:
    """The same `SELECT *` text may name other columns, in another order (PostgreSQL caches
    row classes: keyed by the names, not the text)."""
    with pg_store.begin() as conn:
        conn.execute("CREATE TABLE column_order (x INTEGER, y INTEGER)")
        conn.execute("INSERT INTO column_order VALUES (1, 2)")
        first = conn.execute("SELECT * FROM column_order").one()
        # A temporary table of the same name comes first on the search path.
        conn.execute("CREATE TEMP TABLE column_order (y INTEGER, x INTEGER) ON COMMIT DROP")
        conn.execute("INSERT INTO column_order VALUES (20, 10)")
        second = conn.execute("SELECT * FROM column_order").one()
    assert (first.x, first.y) == (1, 2)
    assert (second.x, second.y) == (10, 20)


def test_admitted_and_queued_runs_of_a_job(store: Store) -> None:
    with store.begin() as conn:
        job_id = jobs.create_job(conn, {"name": "j"}, now_ms=1)
        other = jobs.create_job(conn, {"name": "k"}, now_ms=1)
        ids = runs.allocate_ids(conn, 5)
        _run(conn, ids[0], job_id, 1, "RUNNING")
        _run(conn, ids[1], job_id, 2, "PENDING")
        _run(conn, ids[2], job_id, 3, "TERMINATED", result_state="SUCCESS")
        _run(conn, ids[3], other, 4, "QUEUED")
        assert runs.admitted_and_queued(conn, job_id) == (2, False)
        assert runs.admitted_and_queued(conn, other) == (0, True)
        _run(conn, ids[4], job_id, 5, "QUEUED")
        assert runs.admitted_and_queued(conn, job_id) == (2, True)
        assert runs.count_admitted_runs(conn, job_id) == 2


def test_allocate_ids_and_count_answers_as_the_two_statements(store: Store) -> None:
    with store.begin() as conn:
        job_id = jobs.create_job(conn, {"name": "j"}, now_ms=1)
        other = jobs.create_job(conn, {"name": "k"}, now_ms=1)
        ids = runs.allocate_ids(conn, 5)
        _run(conn, ids[0], job_id, 1, "RUNNING")
        _run(conn, ids[1], job_id, 1, "PENDING")
        _run(conn, ids[2], job_id, 1, "TERMINATED", result_state="SUCCESS")
        _run(conn, ids[3], other, 1, "QUEUED")
        for job in (job_id, other, 999):
            allocated, active, waiting = runs.allocate_ids_and_count(conn, 3, job)
            assert (active, waiting) == runs.admitted_and_queued(conn, job), job
            assert len(allocated) == 3
            assert list(runs.allocate_ids(conn, 1)) == [allocated[-1] + 1]  # consecutive
        assert runs.allocate_ids_and_count(conn, 1, job_id)[1:] == (2, False)
        assert runs.allocate_ids_and_count(conn, 1, other)[1:] == (0, True)


def _run_row(run_id: int) -> dict[str, object]:
    return {
        "run_id": run_id,
        "job_id": None,
        "run_name": "r",
        "run_type": "JOB_RUN",
        "trigger_type": "ONE_TIME",
        "settings": "{}",
        "job_parameters": "[]",
        "life_cycle_state": "RUNNING",
        "created_time": 1,
        "start_time": 1,
    }


@pytest.mark.parametrize("tasks_per_run", [0, 3, 2600])  # 2 x 2600: past one JSON statement
def test_runs_and_task_runs_in_one_insert(store: Store, tasks_per_run: int) -> None:
    with store.begin() as conn:
        ids = iter(runs.allocate_ids(conn, 2 * (1 + tasks_per_run)))
        rows, task_rows = [], []
        for _ in range(2):
            run_id = next(ids)
            rows.append(_run_row(run_id))
            task_rows += [
                {"task_run_id": next(ids), "run_id": run_id, "task_key": f"t{i}",
                 "life_cycle_state": "BLOCKED", "waiting_on": i % 3}
                for i in range(tasks_per_run)
            ]  # fmt: skip
        runs.insert_runs_and_task_runs(conn, rows, task_rows, notify_work=True)
    with store.read() as conn:
        for row in rows:
            assert runs.get_run(conn, row["run_id"]).run_name == "r"  # type: ignore[arg-type]
            stored = runs.current_task_runs(conn, row["run_id"])  # type: ignore[arg-type]
            assert len(stored) == tasks_per_run
            assert all(t.current and t.state_message == "" for t in stored)  # defaults
            assert sorted(t.waiting_on for t in stored) == sorted(
                i % 3 for i in range(tasks_per_run)
            )
        for task_row in task_rows[:5]:  # what a run start plans with instead of reading back
            stored_row = runs.task_run(conn, task_row["task_run_id"])  # type: ignore[arg-type]
            assert runs.task_run_from_values(task_row) == stored_row


def test_a_run_end_answers_whether_its_job_has_queued_runs(store: Store) -> None:
    from headrace.errors import InvalidTransition
    from headrace.states import LifeCycle

    with store.begin() as conn:
        job_id = jobs.create_job(conn, {"name": "j"}, now_ms=1)
        other = jobs.create_job(conn, {"name": "k"}, now_ms=1)
        a, b, c, d = runs.allocate_ids(conn, 4)
        for run_id, job in ((a, job_id), (b, job_id), (c, other)):
            _run(conn, run_id, job, 1, "RUNNING")
        _run(conn, d, other, 1, "QUEUED")
        ended = {"result_state": "SUCCESS", "state_message": "", "end_time": 2}
        assert runs.end_run_state(conn, a, LifeCycle.TERMINATED, job_id, **ended) is False
        assert runs.end_run_state(conn, c, LifeCycle.TERMINATED, other, **ended) is True
        assert runs.get_run(conn, a).life_cycle is LifeCycle.TERMINATED
        assert runs.get_run(conn, a).end_time == 2
        with pytest.raises(InvalidTransition):  # an ended run ends once
            runs.end_run_state(conn, a, LifeCycle.TERMINATED, job_id, **ended)
        assert runs.get_run(conn, b).life_cycle is LifeCycle.RUNNING
