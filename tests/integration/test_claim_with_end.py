"""PostgreSQL: a worker's task end claims its next attempt in the statement that ends the
attempt (store.attempts.lock_run_end_attempt_and_claim), not in a statement of its own. The
run's row is still locked before the claimed attempt's, an attempt that had already ended
claims nothing, and the claim is the one claim_next_attempt makes (log path, task run RUNNING).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import pytest

from headrace.engine.coordinator import AttemptOutcome, Coordinator
from headrace.errors import InvalidTransition
from headrace.states import Result
from headrace.store import runs as run_store
from headrace.store.attempts import ClaimAfterEnd, LogPaths, lock_run_end_attempt_and_claim
from headrace.store.db import Store

from .helpers import attempt, claim_key, job, shell, tasks

pytestmark = pytest.mark.postgres
ENDED = {"result_state": "SUCCESS", "exit_code": 0, "end_time": 123}
PATHS = LogPaths("/logs")


def _plain_url(store: Store) -> str:
    url = store.engine.url.render_as_string(hide_password=False)
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _two_runs(store: Store) -> tuple[Coordinator, int, Any, int, Any]:
    """Run 1 (a -> b) with a claimed, run 2 (x) pending: (coordinator, run 1, a's attempt,
    run 2, x's pending attempt)."""
    coordinator = Coordinator(store)
    first = coordinator.start_run(job(shell("a"), shell("b", "a")), job_id=None)
    a = claim_key(coordinator, "a")
    second = coordinator.start_run(job(shell("x")), job_id=None)
    with store.read() as conn:
        (x,) = run_store.open_attempts_of_run(conn, second)
    return coordinator, first, a, second, x


def _statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    execute = psycopg.Cursor.execute

    def counted(self: Any, query: Any, params: Any = None, **kw: Any) -> Any:
        seen.append(query.decode() if isinstance(query, bytes) else str(query))
        return execute(self, query, params, **kw)

    monkeypatch.setattr(psycopg.Cursor, "execute", counted)
    return seen


def test_a_task_end_claims_the_next_attempt_in_the_statement_that_ends_it(pg_store, monkeypatch):
    coordinator, first, a, second, x = _two_runs(pg_store)
    seen = _statements(monkeypatch)
    following = coordinator.finish_attempt(
        a, AttemptOutcome(Result.SUCCESS, exit_code=0), claim_for=("w2", PATHS, None)
    )
    assert following is not None and following.attempt_id == x.attempt_id
    assert following.worker_id == "w2" and following.state == "RUNNING"
    assert (
        following.log_path == PATHS(following) == f"/logs/{second}/x/{x.task_run_id}-0/output.log"
    )
    assert following.start_time is not None and following.start_time >= x.created_time
    stored = attempt(pg_store, x.attempt_id)
    assert (stored.state, stored.worker_id, stored.log_path) == (
        "RUNNING",
        "w2",
        following.log_path,
    )
    assert stored.start_time == following.start_time
    assert tasks(pg_store, second)["x"].life_cycle.value == "RUNNING"
    assert tasks(pg_store, first)["a"].result == Result.SUCCESS
    assert tasks(pg_store, first)["b"].life_cycle.value == "PENDING"  # b queued, not claimed
    claims = [s for s in seen if "claimed AS" in s]
    assert len(claims) == 1 and "ended AS" in claims[0]  # no statement of its own


def test_waiting_for_the_runs_lock_it_has_locked_no_attempt_to_claim(pg_store):
    """A cancel holds the run FOR UPDATE and then cancels the run's pending attempts: a task
    end that locked a pending attempt before waiting for the run's row would deadlock it."""
    coordinator, first, a, _, x = _two_runs(pg_store)
    answer: list[Any] = []
    ending = threading.Thread(
        target=lambda: answer.append(
            coordinator.finish_attempt(
                a, AttemptOutcome(Result.SUCCESS, exit_code=0), claim_for=("w2", PATHS, None)
            )
        ),
        daemon=True,
    )
    with pg_store.begin() as conn:
        run_store.lock_run(conn, first)  # FOR UPDATE
        holder = conn.execute("SELECT pg_backend_pid()").scalar_one()
        ending.start()
        deadline = time.monotonic() + 10
        while not _blocked_by(pg_store, holder):
            assert time.monotonic() < deadline, "the task end never waited for the run's row"
            time.sleep(0.02)
        with psycopg.connect(_plain_url(pg_store), autocommit=True) as other:
            for table, column, key in (
                ("attempts", "attempt_id", x.attempt_id),
                ("task_runs", "task_run_id", x.task_run_id),
            ):
                found = other.execute(
                    f"SELECT 1 FROM {table} WHERE {column} = %s FOR UPDATE NOWAIT", (key,)
                )
                assert found.fetchone() == (1,)
    ending.join(10)
    assert not ending.is_alive()
    assert answer[0] is not None and answer[0].attempt_id == x.attempt_id


def _blocked_by(store: Store, holder: int) -> bool:
    """Whether a backend waits for a lock the backend `holder` holds."""
    with store.read() as conn:
        rows = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE :holder = ANY(pg_blocking_pids(pid))",
            {"holder": holder},
        )
        return rows.scalar_one() > 0


def test_an_attempt_already_ended_claims_nothing(pg_store):
    _, first, a, _, x = _two_runs(pg_store)
    with pg_store.begin() as conn:
        run_store.end_attempt(conn, a.attempt_id, from_states=["RUNNING"], result_state="FAILED")
    with pg_store.begin() as conn:
        _, tr, ended, claimed = lock_run_end_attempt_and_claim(
            conn,
            first,
            a.attempt_id,
            a.task_run_id,
            ClaimAfterEnd("w2", 10, PATHS),
            from_states=("RUNNING",),
            **ENDED,
        )
        assert not ended and claimed is None and tr.task_run_id == a.task_run_id
    assert attempt(pg_store, x.attempt_id).state == "PENDING"


class _Undo(Exception):
    """Rolls a test's transaction back."""


@pytest.mark.parametrize(
    ("coordinator_id", "pools", "claims"),
    [("someone-else", None, False), (None, frozenset({"p"}), True), (None, None, True)],
)
def test_the_claim_keeps_claim_next_attempts_filters(pg_store, coordinator_id, pools, claims):
    """Only runs the given coordinator drives; pool-less attempts and the given pools'."""
    _, first, a, _, x = _two_runs(pg_store)
    claim = ClaimAfterEnd("w2", 10, PATHS, coordinator_id, pools)
    with pytest.raises(_Undo), pg_store.begin() as conn:
        _, _, ended, claimed = lock_run_end_attempt_and_claim(
            conn, first, a.attempt_id, a.task_run_id, claim, from_states=("RUNNING",), **ENDED
        )
        assert ended
        assert (claimed.attempt_id if claimed else None) == (x.attempt_id if claims else None)
        raise _Undo


def test_a_claimed_attempt_whose_task_run_cannot_run_fails_the_statement(pg_store):
    _, first, a, _, x = _two_runs(pg_store)
    with pg_store.begin() as conn:
        run_store.update_task_run(conn, x.task_run_id, life_cycle_state="TERMINATED")
    with pg_store.begin() as conn, pytest.raises(InvalidTransition, match=str(x.task_run_id)):
        lock_run_end_attempt_and_claim(
            conn,
            first,
            a.attempt_id,
            a.task_run_id,
            ClaimAfterEnd("w2", 10, PATHS),
            from_states=("RUNNING",),
            **ENDED,
        )
