"""store.queued_attempts.queue_attempts: a batch of attempts queued as queue_attempt queues
each (one statement per 1,000 of the same shape on PostgreSQL): the same rows, ids in order."""

from __future__ import annotations

import json
from typing import Any

import pytest

from headrace.errors import InvalidTransition
from headrace.store import jobs, queued_attempts, runs
from headrace.store.db import Store
from headrace.store.queued_attempts import QueuedAttempt, queue_attempts, queue_one
from support import store_bare_run


def _run_with_task_runs(conn: Any, n: int, state: str = "BLOCKED") -> tuple[int, list[int]]:
    job_id = jobs.create_job(conn, {"name": "j"}, now_ms=1)
    run_id, *ids = runs.allocate_ids(conn, n + 1)
    store_bare_run(conn, run_id, job_id)
    rows = [
        {"task_run_id": i, "run_id": run_id, "task_key": f"t{k}", "life_cycle_state": state}
        for k, i in enumerate(ids)
    ]
    runs.insert_task_runs(conn, rows)
    return run_id, ids


def _item(run_id: int, task_run_id: int, k: int) -> QueuedAttempt:
    pool = "p" if k % 3 == 2 else None  # another shape of task run values every third
    values: dict[str, Any] = {
        "attempt_number": k % 2,
        "resolved": json.dumps({"shell_command_task": {"command": f"echo {k} 'ü'"}}),
        "start_time": 1000 + k,
        "retry_at": None,
    }
    if pool:
        values["state_message"] = f"waiting for a worker in pool '{pool}'"
    return QueuedAttempt(
        task_run_id=task_run_id,
        task_run_values=values,
        run_id=run_id,
        attempt_number=k % 2,
        payload=json.dumps({"task_key": f"t{k}", "n": k}),
        created_time=2000 + k // 4,
        pool=pool,
        priority=k % 5,
    )


def _stored(conn: Any, run_id: int) -> list[tuple[Any, ...]]:
    """Every queued attempt and its task run, minus ids, in id order."""
    out = []
    for a in runs.attempts_of_run(conn, run_id):
        tr = runs.task_run(conn, a.task_run_id)
        claim_key = conn.execute(
            "SELECT claim_key FROM attempts WHERE attempt_id = :i", {"i": a.attempt_id}
        ).scalar_one()
        out.append(
            (
                tr.task_key,
                a.state,
                a.attempt_number,
                a.payload,
                a.created_time,
                a.pool,
                claim_key,
                tr.life_cycle.value,
                tr.attempt_number,
                tr.resolved,
                tr.start_time,
                tr.retry_at,
                tr.state_message,
            )
        )
    return out


@pytest.mark.parametrize("n", [1, 2, 7, 205])
def test_a_batch_queues_what_one_by_one_queues(store: Store, n: int) -> None:
    with store.begin() as conn:
        one_run, one_ids = _run_with_task_runs(conn, n)
        expected = [queue_one(conn, _item(one_run, t, k)) for k, t in enumerate(one_ids)]
        assert expected == sorted(expected)
        batch_run, batch_ids = _run_with_task_runs(conn, n)
        got = queue_attempts(conn, [_item(batch_run, t, k) for k, t in enumerate(batch_ids)])
        assert got == sorted(got) and len(set(got)) == n  # ids in the items' order
        assert [runs.get_attempt(conn, a).task_run_id for a in got] == batch_ids
        assert _stored(conn, batch_run) == _stored(conn, one_run)


def test_a_task_run_that_cannot_move_fails_the_batch(store: Store) -> None:
    with store.begin() as conn:
        run_id, ids = _run_with_task_runs(conn, 3)
        runs.update_task_run(conn, ids[1], life_cycle_state="TERMINATED")
        with pytest.raises(InvalidTransition, match=f"task run {ids[1]} "):
            queue_attempts(conn, [_item(run_id, t, 0) for t in ids])


def test_a_fan_out_of_one_shape_beyond_a_statements_hundred(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queued_attempts, "_BATCH", 100)  # 205: three statements
    with store.begin() as conn:
        run_id, ids = _run_with_task_runs(conn, 205)
        items = [
            _item(run_id, t, 0)._replace(payload=json.dumps({"k": k})) for k, t in enumerate(ids)
        ]
        got = queue_attempts(conn, items)
        assert [runs.get_attempt(conn, a).payload for a in got] == [{"k": k} for k in range(205)]
        assert got == sorted(got)
        assert {runs.task_run(conn, t).life_cycle.value for t in ids} == {"PENDING"}
