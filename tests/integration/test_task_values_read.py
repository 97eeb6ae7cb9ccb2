"""current_task_runs_and_values: the task runs of some keys and the run's task values in one
read, the same answers as current_task_runs and task_values_of_run (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

from headrace.store import jobs, runs
from headrace.store.db import Store
from support import store_bare_run


def _row(task_run_id: int, run_id: int, key: str, **more: Any) -> dict[str, Any]:
    row = {"task_values": None, "current": True, "parent_id": None, "iteration": None}
    row.update(task_run_id=task_run_id, run_id=run_id, task_key=key, life_cycle_state="BLOCKED")
    return {**row, **more}  # every row the same columns (one INSERT)


def test_the_rows_of_keys_and_every_task_value_of_the_run(store: Store) -> None:
    with store.begin() as conn:
        job_id = jobs.create_job(conn, {"name": "j"}, now_ms=1)
        run_id, other_run, *ids = runs.allocate_ids(conn, 10)
        for rid in (run_id, other_run):
            store_bare_run(conn, rid, job_id)
        values = json.dumps({"n": 1, "s": "ü"})
        rows = [
            _row(ids[0], run_id, "a", task_values=values),  # wanted, with values
            _row(ids[1], run_id, "b"),  # wanted, none
            _row(ids[2], run_id, "c", task_values="{}"),  # not wanted, empty values
            _row(ids[3], run_id, "d", task_values=json.dumps({"x": [1]})),  # not wanted
            _row(ids[4], run_id, "e"),  # neither
            _row(ids[5], run_id, "a", task_values=json.dumps({"old": 1}), current=False),
            _row(ids[6], run_id, "f", parent_id=ids[1], iteration=0, task_values="{}"),
            _row(ids[7], other_run, "a", task_values=json.dumps({"other": 1})),
        ]
        runs.insert_task_runs(conn, rows)
        for keys in (["a", "b"], ["e"], ["d", "zz"], ["a", "b", "c", "d", "e"]):
            found, task_values = runs.current_task_runs_and_values(conn, run_id, keys)
            assert found == runs.current_task_runs(conn, run_id, keys)
            assert task_values == runs.task_values_of_run(conn, run_id)
        assert task_values == {"a": {"n": 1, "s": "ü"}, "c": {}, "d": {"x": [1]}}


def test_task_runs_if_none_open_is_the_count_then_the_read(store: Store) -> None:
    from headrace.store.task_runs import task_runs_if_none_open

    with store.begin() as conn:
        job_id = jobs.create_job(conn, {"name": "j"}, now_ms=1)
        run_id, empty_run, *ids = runs.allocate_ids(conn, 7)
        for rid in (run_id, empty_run):
            store_bare_run(conn, rid, job_id)
        assert task_runs_if_none_open(conn, empty_run) == []
        rows = [
            _row(ids[0], run_id, "a", life_cycle_state="TERMINATED"),
            _row(ids[1], run_id, "b", life_cycle_state="SKIPPED"),
            _row(ids[2], run_id, "c", life_cycle_state="RUNNING", current=False),
            _row(ids[3], run_id, "d", life_cycle_state="RUNNING", parent_id=ids[0], iteration=0),
            _row(ids[4], run_id, "e", life_cycle_state="PENDING"),
        ]
        runs.insert_task_runs(conn, rows)
        assert runs.count_open_task_runs(conn, run_id) == 1
        assert task_runs_if_none_open(conn, run_id) is None
        runs.update_task_run(conn, ids[4], life_cycle_state="INTERNAL_ERROR")
        assert runs.count_open_task_runs(conn, run_id) == 0
        found = task_runs_if_none_open(conn, run_id)
        assert found == runs.current_task_runs(conn, run_id)
        assert [tr.task_key for tr in found or []] == ["a", "b", "e"]
