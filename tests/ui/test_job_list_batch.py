"""The jobs list reads a fixed number of queries however many jobs it shows, and its search
(name, tag, owner, state of the last run) keeps exactly the matching jobs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from headrace.engine import jobs as job_service
from headrace.engine.jobs import Principal
from headrace.store import runs as run_store
from headrace.store.db import Store, open_store
from headrace.store.sqlite import SqliteStore
from headrace.ui import views

ALICE = Principal("alice")
BOB = Principal("bob")


def _job(store: Store, who: Principal, name: str, **extra: object) -> int:
    body = {"name": name, "tasks": [{"task_key": "t", "shell_command_task": {"command": "true"}}]}
    return job_service.create_job(store, who, {**body, **extra})


def _run(store: Store, job_id: int, start: int, life: str, result: str | None) -> None:
    with store.begin() as conn:
        (run_id,) = run_store.allocate_ids(conn, 1)
        run_store.insert_run(
            conn,
            run_id=run_id,
            job_id=job_id,
            run_name=f"run of {job_id}",
            run_type="JOB_RUN",
            trigger_type="ONE_TIME",
            settings=json.dumps({"tags": {"team": "data"}}),
            job_parameters="[]",
            life_cycle_state=life,
            result_state=result,
            state_message="",
            created_time=start,
            start_time=start,
            end_time=start + 10 if result else None,
            run_as="alice",
        )


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    assert isinstance(store, SqliteStore)
    return store


def _count_queries(store: SqliteStore, call: object) -> int:
    seen: list[str] = []

    store.trace(seen.append)  # a SQLite store runs on sqlite3: its own statement trace
    try:
        call()  # type: ignore[operator]
    finally:
        store.trace(None)
    return len(seen)


def test_the_jobs_list_queries_do_not_grow_with_the_jobs(store: Store) -> None:
    for i in range(3):
        _run(store, _job(store, ALICE, f"j{i}"), 1000 + i, "TERMINATED", "SUCCESS")
    few = _count_queries(store, lambda: views.job_rows(store, ALICE, "", 0))
    assert few > 0
    for i in range(3, 60):
        job_id = _job(store, ALICE, f"j{i}")
        for k in range(12):  # more runs than the list shows
            _run(store, job_id, 2000 + k, "TERMINATED", "SUCCESS" if k % 2 else "FAILED")
    rows: list[views.JobRow] = []
    many = _count_queries(store, lambda: rows.extend(views.job_rows(store, ALICE, "", 0)))
    assert many == few
    assert len(rows) == 60
    last = rows[-1]
    assert len(last.recent) == views.RECENT_RUNS
    starts = [r.start_time for r in last.recent]
    assert starts == sorted(starts) and starts[-1] == 2011  # oldest first, the newest kept
    assert last.can_run  # alice owns it
    assert not [r for r in views.job_rows(store, BOB, "", 0)]  # bob sees none


def test_search_by_name_tag_owner_and_state(store: Store) -> None:
    a = _job(store, ALICE, "Nightly ETL", tags={"team": "data", "tier": "gold"})
    b = _job(store, BOB, "nightly report", tags={"team": "bi"})
    c = _job(store, ALICE, "adhoc")
    _run(store, a, 1000, "TERMINATED", "FAILED")
    _run(store, b, 1000, "TERMINATED", "FAILED")
    _run(store, b, 2000, "TERMINATED", "SUCCESS")
    admin = Principal("root", admin=True)

    def ids(**f: str) -> set[int]:
        rows = views.job_rows(store, admin, views.JobFilters(**f), 0)
        return {r.job.job_id for r in rows}

    assert ids() == {a, b, c}
    assert ids(name="NIGHTLY") == {a, b}
    assert ids(tag="team") == {a, b}
    assert ids(tag="team:data") == {a}
    assert ids(tag="tier:silver") == set()
    assert ids(owner="bob") == {b}
    assert ids(state="failed") == {a}  # b's last run succeeded
    assert ids(state="succeeded") == {b}
    assert ids(state="never") == {c}
    assert ids(name="nightly", owner="alice", state="failed") == {a}
