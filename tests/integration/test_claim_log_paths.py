"""A worker's claim with `LogPaths` (one statement on PostgreSQL, the log path computed in
SQL): the path is the worker's rule (supervisor.log_path_for, a Path join) for odd task keys,
iterations and logs folders, and the claim does what the two-statement claim does."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from headrace.errors import InvalidTransition
from headrace.store import jobs, runs
from headrace.store.attempts import LogPaths
from headrace.store.db import Store
from headrace.store.records import Attempt
from headrace.worker.supervisor import log_path_for
from support import store_bare_run

ODD_KEYS = ["plain", "it's", 'say "hi"', "two  spaces ", "ünï-cødé_✓", "br[a]ckets", "-", "%s"]
ROOTS = ["/tmp/logs", "/tmp/logs/", "/", "relative/logs", ".", '/tmp/it\'s a "log" dïr']


def _path_rule(root: str, attempt: Attempt) -> str:
    """The rule as workers wrote it before the claim computed it (a Path join)."""
    key = attempt.payload["task_key"]
    if "iteration" in attempt.payload:
        key = f"{key}[{attempt.payload['iteration']}]"
    folder = f"{attempt.task_run_id}-{attempt.attempt_number}"
    return str(Path(root) / str(attempt.run_id) / key / folder / "output.log")


def _setup_run(conn: Any) -> int:
    job_id = jobs.create_job(conn, {"name": "j"}, now_ms=1)
    (run_id,) = runs.allocate_ids(conn, 1)
    store_bare_run(conn, run_id, job_id, coordinator_id="c1")
    return run_id


def _queue(
    conn: Any,
    run_id: int,
    key: str,
    *,
    iteration: int | None = None,
    attempt_number: int = 0,
    pool: str | None = None,
    created_time: int = 5,
    priority: int = 0,
    ascii_payload: bool = True,
    state: str = "PENDING",
) -> int:
    """A task run in `state` with one pending attempt; returns the attempt's id."""
    (task_run_id,) = runs.allocate_ids(conn, 1)
    row = {"task_run_id": task_run_id, "run_id": run_id, "task_key": key}
    row.update(life_cycle_state=state, state_message="waiting for a worker in pool 'p'")
    if iteration is not None:
        row.update(parent_id=run_id, iteration=iteration)
    runs.insert_task_runs(conn, [row])
    payload: dict[str, Any] = {"task_key": key, "settings": {"command": "true"}}
    if iteration is not None:
        payload["iteration"] = iteration
    return runs.insert_attempt(
        conn,
        priority=priority,
        task_run_id=task_run_id,
        run_id=run_id,
        attempt_number=attempt_number,
        state="PENDING",
        payload=json.dumps(payload, ensure_ascii=ascii_payload),
        created_time=created_time,
        pool=pool,
    )


def _claim(conn: Any, root: str, now: int = 10, **kw: Any) -> Attempt | None:
    return runs.claim_next_attempt(conn, "w1", now, LogPaths(root), start_task=True, **kw)


@pytest.mark.parametrize("root", ROOTS)
def test_log_path_of_a_claim_is_the_workers_rule(store: Store, root: str) -> None:
    with store.begin() as conn:
        run_id = _setup_run(conn)
        for n, key in enumerate(ODD_KEYS):
            _queue(conn, run_id, key, attempt_number=n % 3, ascii_payload=n % 2 == 0)
            _queue(conn, run_id, key, iteration=n * 7, ascii_payload=n % 2 == 1)
        seen = 0
        while (claimed := _claim(conn, root)) is not None:
            seen += 1
            expected = _path_rule(root, claimed)
            assert claimed.log_path == expected
            assert claimed.log_path == str(log_path_for(Path(root), claimed))
            assert runs.get_attempt(conn, claimed.attempt_id).log_path == expected
        assert seen == 2 * len(ODD_KEYS)


def test_claim_moves_attempt_and_task_run_as_before(store: Store) -> None:
    with store.begin() as conn:
        run_id = _setup_run(conn)
        late = _queue(conn, run_id, "late", created_time=50)
        pooled = _queue(conn, run_id, "pooled", pool="p", created_time=20)
        plain = _queue(conn, run_id, "plain", created_time=30)
        urgent = _queue(conn, run_id, "urgent", created_time=40, priority=1)  # claim key first
        assert _claim(conn, "/l", pools=frozenset({"q"})).attempt_id == urgent  # type: ignore[union-attr]
        got = _claim(conn, "/l", pools=frozenset({"q"}))  # the pooled one is not for pool q
        assert got is not None and got.attempt_id == plain
        assert runs.task_run(conn, got.task_run_id).state_message != ""  # pool-less: kept
        got = _claim(conn, "/l", 25, pools=frozenset({"p"}))
        assert got is not None and got.attempt_id == pooled
        tr = runs.task_run(conn, got.task_run_id)
        assert tr.life_cycle.value == "RUNNING" and tr.state_message == ""  # found its pool
        assert got.state == "RUNNING" and got.worker_id == "w1" and got.start_time == 25
        assert runs.get_attempt(conn, pooled) == got
        # never started before it was queued (a clock read before the pick)
        got = _claim(conn, "/l", 45)
        assert got is not None and got.attempt_id == late and got.start_time == 50
        assert runs.get_attempt(conn, late) == got
        assert _claim(conn, "/l") is None


def test_claim_of_one_coordinator_only(store: Store) -> None:
    with store.begin() as conn:
        run_id = _setup_run(conn)
        attempt_id = _queue(conn, run_id, "a")
        assert _claim(conn, "/l", coordinator_id="someone-else") is None
        got = _claim(conn, "/l", coordinator_id="c1")
        assert got is not None and got.attempt_id == attempt_id


def test_claim_of_a_task_run_that_cannot_run(store: Store) -> None:
    with store.begin() as conn:
        run_id = _setup_run(conn)
        _queue(conn, run_id, "a", state="TERMINATED")
        with pytest.raises(InvalidTransition):
            _claim(conn, "/l")


@pytest.mark.postgres
def test_concurrent_claims_skip_each_others_pick(pg_store: Store) -> None:
    """A claim in an open transaction holds its row: another worker takes the next one
    without waiting, and neither takes the other's."""
    with pg_store.begin() as conn:
        run_id = _setup_run(conn)
        first, second = _queue(conn, run_id, "a"), _queue(conn, run_id, "b", created_time=6)
    other: list[Attempt | None] = []
    with pg_store.begin() as conn:
        mine = _claim(conn, "/l")
        assert mine is not None and mine.attempt_id == first

        def claim_elsewhere() -> None:
            with pg_store.begin() as conn2:
                other.append(_claim(conn2, "/l"))
                other.append(_claim(conn2, "/l"))

        t = threading.Thread(target=claim_elsewhere)
        t.start()
        t.join(10)  # SKIP LOCKED: it does not wait for this transaction
        assert not t.is_alive()
    assert [a.attempt_id if a else None for a in other] == [second, None]
