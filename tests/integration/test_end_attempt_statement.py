"""PostgreSQL: a task end that shares its run's row takes that lock in the statement that ends
the attempt (store.attempts.lock_run_and_end_attempt). The run's row is locked before the
attempt's, the rows it answers are the newest even when it waited for the run's lock, and the
coordinator's answers (AttemptEnded, RunLockNeeded's redo) are those of the two statements.
"""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from headrace.engine.coordinator import AttemptOutcome, Coordinator
from headrace.errors import AttemptEnded, NotFound
from headrace.states import Result
from headrace.store import runs as run_store
from headrace.store.db import Store

from .helpers import attempt, claim_key, finish, job, run, shell, states, tasks

pytestmark = pytest.mark.postgres
ENDED = {"result_state": "SUCCESS", "exit_code": 0, "end_time": 123}


def _started(store: Store) -> tuple[Coordinator, int, int, int]:
    """A run of a -> b with a claimed: (coordinator, run id, a's attempt id, a's task run)."""
    coordinator = Coordinator(store)
    run_id = coordinator.start_run(job(shell("a"), shell("b", "a")), job_id=None)
    a = claim_key(coordinator, "a")
    return coordinator, run_id, a.attempt_id, a.task_run_id


def _blocked_on_lock(store: Store, app: str) -> bool:
    """Whether a backend of this test waits for a row lock (the statement under test)."""
    with store.read() as conn:
        rows = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND datname = current_database() AND pid <> pg_backend_pid()"
            " AND query LIKE :q",
            {"q": f"%{app}%"},
        )
        return rows.scalar_one() > 0


def _wait_until_blocked(store: Store, app: str) -> None:
    deadline = time.monotonic() + 10
    while not _blocked_on_lock(store, app):  # a test's wait, not a hot path
        assert time.monotonic() < deadline, "the statement never waited for the run's lock"
        time.sleep(0.02)


def test_ends_the_attempt_and_answers_run_and_task_run_holding_their_rows(pg_store):
    _, run_id, attempt_id, task_run_id = _started(pg_store)
    url = pg_store.engine.url.render_as_string(hide_password=False)
    with pg_store.begin() as conn:
        found, tr, ended = run_store.lock_run_and_end_attempt(
            conn,
            run_id,
            attempt_id,
            task_run_id,
            from_states=("RUNNING", "PENDING"),
            log=(b"gz", 7),
            **ENDED,
        )
        assert ended and found == run_store.get_run(conn, run_id)
        assert tr == run_store.task_run(conn, task_run_id) and tr.task_key == "a"
        ended_row = run_store.get_attempt(conn, attempt_id)
        assert ended_row.state == "TERMINATED" and ended_row.end_time == 123
        size = conn.execute(
            "SELECT size FROM attempt_logs WHERE attempt_id = :i", {"i": attempt_id}
        )
        assert size.scalar_one() == 7
        # Held until commit: the run's row FOR SHARE (others may share it, none change it)
        # and the task run's.
        plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
        with psycopg.connect(plain, autocommit=True) as other:
            other.execute("SELECT 1 FROM runs WHERE run_id = %s FOR SHARE NOWAIT", (run_id,))
            with pytest.raises(psycopg.errors.LockNotAvailable):
                other.execute("SELECT 1 FROM runs WHERE run_id = %s FOR UPDATE NOWAIT", (run_id,))
            with pytest.raises(psycopg.errors.LockNotAvailable):
                other.execute(
                    "SELECT 1 FROM task_runs WHERE task_run_id = %s FOR SHARE NOWAIT",
                    (task_run_id,),
                )


def test_an_attempt_already_ended_changes_nothing(pg_store):
    _, run_id, attempt_id, task_run_id = _started(pg_store)
    with pg_store.begin() as conn:
        run_store.end_attempt(conn, attempt_id, from_states=["RUNNING"], result_state="FAILED")
    with pg_store.begin() as conn:
        _, tr, ended = run_store.lock_run_and_end_attempt(
            conn, run_id, attempt_id, task_run_id, from_states=("RUNNING",), log=(b"", 0), **ENDED
        )
        assert not ended and tr.task_run_id == task_run_id
        assert run_store.get_attempt(conn, attempt_id).result.value == "FAILED"  # type: ignore[union-attr]
        logs = conn.execute("SELECT count(*) FROM attempt_logs").scalar_one()
        assert logs == 0


def test_a_missing_run_or_task_run_is_not_found(pg_store):
    _, run_id, attempt_id, task_run_id = _started(pg_store)
    with pg_store.begin() as conn, pytest.raises(NotFound, match=f"Run {run_id + 999} "):
        run_store.lock_run_and_end_attempt(
            conn, run_id + 999, attempt_id, task_run_id, from_states=("RUNNING",), **ENDED
        )
    with pg_store.begin() as conn, pytest.raises(NotFound, match=f"Run {task_run_id + 999} "):
        run_store.lock_run_and_end_attempt(
            conn, run_id, attempt_id, task_run_id + 999, from_states=("RUNNING",), **ENDED
        )


def test_after_waiting_for_the_runs_lock_it_answers_the_newest_rows(pg_store):
    """The statement's snapshot predates its wait: what a transaction holding the run FOR
    UPDATE changed meanwhile (run and task run) is what it answers, through the row locks."""
    _, run_id, attempt_id, task_run_id = _started(pg_store)
    answer: list[object] = []

    def end_it() -> None:
        with pg_store.begin() as conn:
            answer.append(
                run_store.lock_run_and_end_attempt(
                    conn, run_id, attempt_id, task_run_id, from_states=("RUNNING",), **ENDED
                )
            )

    with pg_store.begin() as conn:
        run_store.lock_run(conn, run_id)  # FOR UPDATE
        ending = threading.Thread(target=end_it, daemon=True)
        ending.start()
        _wait_until_blocked(pg_store, "headrace_run_run_id")
        run_store.update_run(conn, run_id, state_message="changed meanwhile")
        run_store.update_task_run(conn, task_run_id, state_message="also changed")
    ending.join(10)
    assert not ending.is_alive()
    found, tr, ended = answer[0]  # type: ignore[misc]
    assert ended and found.state_message == "changed meanwhile"
    assert tr.state_message == "also changed"


def test_an_attempt_ended_by_a_stop_is_redone_under_the_lock_then_reported_ended(pg_store):
    """A cancel ends the attempt and changes the run while the report waits: the shared
    transaction rolls back (RunLockNeeded) and its redo finds the attempt ended."""
    coordinator, run_id, attempt_id, _ = _started(pg_store)
    a = attempt(pg_store, attempt_id)
    with pg_store.begin() as conn:
        run_store.lock_run(conn, run_id)  # FOR UPDATE, as a cancel does
        errors: list[BaseException] = []

        def report() -> None:
            try:
                finish(coordinator, a)
            except BaseException as exc:  # handed to the test
                errors.append(exc)

        reporting = threading.Thread(target=report, daemon=True)
        reporting.start()
        _wait_until_blocked(pg_store, "headrace_run_run_id")
        run_store.end_attempt(conn, attempt_id, from_states=["RUNNING"], result_state="CANCELED")
        run_store.update_run(conn, run_id, stop_reason="CANCELED")
    reporting.join(10)
    assert not reporting.is_alive() and len(errors) == 1
    assert isinstance(errors[0], AttemptEnded)


def test_task_ends_through_the_one_statement_run_the_job(pg_store):
    coordinator = Coordinator(pg_store)
    run_id = coordinator.start_run(
        job(shell("a"), shell("b", "a"), shell("c", "a"), shell("d", "b", "c")), job_id=None
    )
    finish(coordinator, claim_key(coordinator, "a"), task_values={"k": 1})
    b, c = claim_key(coordinator, "b"), claim_key(coordinator, "c")
    assert b.payload["task_values"] == {"a": {"k": 1}}
    coordinator.finish_attempt(b, AttemptOutcome(Result.FAILED, error="boom"))
    finish(coordinator, c)
    assert states(pg_store, run_id) == {
        "a": ("TERMINATED", "SUCCESS"),
        "b": ("TERMINATED", "FAILED"),
        "c": ("TERMINATED", "SUCCESS"),
        "d": ("SKIPPED", "UPSTREAM_FAILED"),  # a leaf skipped: the run's end, redone FOR UPDATE
    }
    assert run(pg_store, run_id).result.value == "FAILED"  # type: ignore[union-attr]


def test_a_task_end_that_may_end_the_run_takes_the_row_alone(pg_store):
    _, run_id, attempt_id, task_run_id = _started(pg_store)
    url = pg_store.engine.url.render_as_string(hide_password=False)
    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with pg_store.begin() as conn:
        _, tr, ended = run_store.lock_run_and_end_attempt(
            conn, run_id, attempt_id, task_run_id, shared=False, from_states=("RUNNING",), **ENDED
        )
        assert ended and tr.task_run_id == task_run_id
        other = psycopg.connect(plain, autocommit=True)
        with other, pytest.raises(psycopg.errors.LockNotAvailable):
            other.execute("SELECT 1 FROM runs WHERE run_id = %s FOR SHARE NOWAIT", (run_id,))


def test_a_leafs_end_stamps_the_run_after_a_task_end_it_waited_for(pg_store):
    """The leaf's attempt end is read before its wait for the run's row; what it stamps
    after (its task's end, the run's end) is not before the end it waited for."""
    coordinator = Coordinator(pg_store)
    run_id = coordinator.start_run(job(shell("a"), shell("b")), job_id=None)  # two leaves
    a, b = claim_key(coordinator, "a"), claim_key(coordinator, "b")
    with pg_store.begin() as conn:
        run_store.lock_run(conn, run_id)  # FOR UPDATE: a's end waits for it
        ending = threading.Thread(target=lambda: finish(coordinator, a), daemon=True)
        ending.start()
        _wait_until_blocked(pg_store, "headrace_run_run_id")
        time.sleep(0.05)  # a test's wait: the holder's clock moves on
        holder_now = int(time.time() * 1000)
    ending.join(10)
    finish(coordinator, b)
    ended_a = tasks(pg_store, run_id)["a"]
    assert ended_a.end_time is not None and ended_a.end_time >= holder_now
    assert attempt(pg_store, a.attempt_id).end_time <= ended_a.end_time  # type: ignore[operator]
    assert run(pg_store, run_id).result == Result.SUCCESS
